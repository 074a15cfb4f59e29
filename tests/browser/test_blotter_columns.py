"""The blotter's sortable columns, leaves and notional, and the totals of what is filtered (issue 19, item 13)."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from oms.models import Order
from oms.states import OrderStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _ids(page) -> list[str]:
    return page.locator("#blotter-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.orderId)")


def test_pm_sorts_the_blotter_and_reads_leaves_notional_and_the_totals_of_a_filter(
    signed_in, pm, portfolio, instrument, other_instrument, order_payload, api_post, screenshot
):
    answers = api_post(pm, "/api/orders/bulk/", [
        order_payload(quantity=1000, limit_price="100.50"),  # open, nothing filled: leaves 1,000
        order_payload(quantity=500, side="sell", limit_price="100.00"),  # partially filled 200: leaves 300
        order_payload(instrument=other_instrument.symbol, quantity=3000, limit_price="50.00"),  # filled: leaves 0
        order_payload(quantity=700, limit_price="100.00"),  # cancelled after 100: leaves 0 (FIX 151)
    ]).json()
    a, b, c, d = (r["id"] for r in sorted(answers["results"], key=lambda r: r["index"]))
    Order.objects.filter(pk=b).update(status=OrderStatus.PARTIALLY_FILLED, filled_quantity=200, avg_price=Decimal("100.10"))
    Order.objects.filter(pk=c).update(status=OrderStatus.FILLED, filled_quantity=3000, avg_price=Decimal("49.98"))
    Order.objects.filter(pk=d).update(status=OrderStatus.CANCELLED, filled_quantity=100, avg_price=Decimal("99.90"))

    page = signed_in(pm)
    expect(page.locator("#blotter-table tbody tr")).to_have_count(4)
    assert _ids(page) == [str(i) for i in sorted((a, b, c, d), reverse=True)]  # newest first
    leaves = page.locator("#blotter-table thead th").all_inner_texts().index("LEAVES")
    cell = lambda order_id: page.locator(f"#order-row-{order_id} td").nth(leaves)  # noqa: E731
    assert [cell(i).inner_text() for i in (a, b, c, d)] == ["1,000", "300", "0", "0"]
    expect(page.locator(f"#order-row-{c}")).to_contain_text("150,000")  # notional: 3,000 x 50.00
    totals = page.locator("#blotter-totals")
    expect(totals).to_contain_text("4 orders")
    expect(totals.locator("[data-total=quantity]")).to_have_text("5,200")
    expect(totals.locator("[data-total=filled]")).to_have_text("3,300")
    expect(totals.locator("[data-total=leaves]")).to_have_text("1,300")
    expect(totals.locator("[data-total=notional]")).to_have_text("370,500 USD")

    # Notional: largest first, then a second click reverses it; the header says which way.
    sorted_th = page.locator("#blotter-table th.sorted")
    expect(sorted_th).to_contain_text("ID")  # newest first until a header is clicked
    page.locator("#blotter-table th a", has_text="Notional").click()
    expect(sorted_th).to_contain_text("Notional")
    expect(sorted_th).to_have_attribute("aria-sort", "descending")
    assert _ids(page) == [str(c), str(a), str(d), str(b)]
    page.locator("#blotter-table th a", has_text="Notional").click()
    expect(sorted_th).to_have_attribute("aria-sort", "ascending")
    assert _ids(page) == [str(b), str(d), str(a), str(c)]

    # A filter keeps the sort, and the totals follow the filter.
    page.fill("#blotter-filters [name=instrument]", instrument.symbol)
    page.locator("#blotter-filters [name=instrument]").press("Enter")
    expect(page.locator("#blotter-table tbody tr")).to_have_count(3)
    assert _ids(page) == [str(b), str(d), str(a)]
    expect(totals).to_contain_text("3 orders filtered")
    expect(totals.locator("[data-total=quantity]")).to_have_text("2,200")
    expect(totals.locator("[data-total=leaves]")).to_have_text("1,300")
    expect(totals.locator("[data-total=notional]")).to_have_text("220,500 USD")
    page.wait_for_url("**sort=notional**")

    # Leaves, largest first; a reload of the address shows the same view.
    page.locator("#blotter-table th a", has_text="Leaves").click()
    expect(sorted_th).to_contain_text("Leaves")
    assert _ids(page)[:2] == [str(a), str(b)]
    page.wait_for_url("**sort=-leaves**")
    page.reload()
    assert _ids(page)[:2] == [str(a), str(b)]
    expect(page.locator("#blotter-totals")).to_contain_text("3 orders filtered")
    screenshot(page, "blotter-sorted-totals")
