"""The desk: order ticket, blotter, live updates, risk denials, as a portfolio manager sees them."""

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from oms.models import Order
from tests.factories import RiskLimitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_ticket(page, *, instrument="ACME", side="buy", quantity="1000", order_type="limit", limit_price="100.50"):
    page.fill("#t-instrument", instrument)
    page.click(f"label[for=t-side-{side}]")  # the radios are drawn as a segmented toggle
    page.fill("#t-quantity", quantity)
    page.click(f"label[for=t-order_type-{order_type}]")
    if limit_price is not None:
        page.fill("#t-limit_price", limit_price)


def submit_ticket(page):
    page.click("#ticket button[type=submit]")


def csrf_headers(page) -> dict:
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return {"X-CSRFToken": token}


def test_pm_submits_an_order_on_the_ticket_and_sees_it_accepted_in_the_blotter(
    signed_in, pm, portfolio, instrument, other_instrument, order_payload, api_post, screenshot
):
    beta = other_instrument.symbol
    earlier = [
        order_payload(quantity=500, side="sell", limit_price="99.80"),
        order_payload(instrument=beta, quantity=12_000, order_type="market", limit_price=None, strategy="vwap"),
        order_payload(instrument=beta, quantity=3_000, limit_price="50.10", time_in_force="gtc", strategy="twap"),
    ]
    assert api_post(pm, "/api/orders/bulk/", earlier).status_code == 207
    page = signed_in(pm)
    client_order_id = page.input_value("#ticket [name=client_order_id]")

    fill_ticket(page, quantity="1,000")
    expect(page.locator("#t-instrument-hint")).to_contain_text("ref 100.00")
    submit_ticket(page)

    expect(page.locator("#ticket .notice-ok")).to_contain_text("accepted")
    order = Order.objects.get(client_order_id=client_order_id)
    assert (order.status, order.source, order.portfolio, order.quantity, order.limit_price) == (
        "ACCEPTED", f"browser:{pm.username}", portfolio, 1000, Decimal("100.50"),
    )
    row = page.locator(f"#order-row-{order.id}")
    expect(row.locator(".badge")).to_have_text("ACCEPTED")
    expect(row).to_contain_text("ACME")
    expect(row).to_contain_text("1,000")
    expect(page.locator("#blotter-table tbody tr").first).to_have_attribute("data-order-id", str(order.id))  # newest first
    # The ticket is reset for the next order, under a new client order id.
    assert page.input_value("#t-quantity") == ""
    assert page.input_value("#ticket [name=client_order_id]") not in ("", client_order_id)
    screenshot(page, "desk")


def test_resending_the_same_ticket_creates_one_order(signed_in, pm, portfolio, instrument):
    page = signed_in(pm)
    fill_ticket(page)
    form = page.eval_on_selector("#ticket", "f => Object.fromEntries(new FormData(f))")

    # What a double click or a retry after a dropped answer sends: the same client_order_id twice.
    first = page.request.post("/orders/ticket/", form=form, headers=csrf_headers(page))
    second = page.request.post("/orders/ticket/", form=form, headers=csrf_headers(page))

    assert (first.status, second.status) == (201, 200)
    assert "already received" in second.text()
    assert Order.objects.filter(client_order_id=form["client_order_id"]).count() == 1


def test_order_posted_over_the_rest_api_appears_in_the_open_blotter_without_reload(
    signed_in, pm, portfolio, other_pm, other_portfolio, order_payload, api_post
):
    page = signed_in(pm)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    page.evaluate("window.notReloaded = true")

    others = api_post(other_pm, "/api/orders/", order_payload(portfolio=other_portfolio.code))
    mine = api_post(pm, "/api/orders/", order_payload(quantity=2500))

    assert (others.status_code, mine.status_code) == (201, 201)
    row = page.locator(f"#order-row-{mine.json()['id']}")
    expect(row.locator(".badge")).to_have_text("ACCEPTED")
    expect(row).to_contain_text("2,500")
    expect(page.locator(f"#order-row-{others.json()['id']}")).to_have_count(0)  # another PM's portfolio

    assert api_post(pm, f"/api/orders/{mine.json()['id']}/cancel/").status_code == 200
    expect(row.locator(".badge")).to_have_text("CANCELLED")
    assert page.evaluate("window.notReloaded") is True


def test_a_change_made_by_a_service_in_another_process_reaches_the_open_blotter(
    signed_in, pm, portfolio, order_payload, api_post
):
    # As a Celery worker would: the service runs outside the web server, publishing on the shared channel layer.
    from oms.roles import Actor
    from oms.services import order_cancel

    order_id = api_post(pm, "/api/orders/", order_payload()).json()["id"]
    page = signed_in(pm)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")

    order_cancel(user=pm, actor=Actor.system("test"), order_id=order_id)

    expect(page.locator(f"#order-row-{order_id} .badge")).to_have_text("CANCELLED")


def test_a_price_collar_denial_is_shown_next_to_the_limit_price_and_in_the_blotter(
    signed_in, pm, portfolio, instrument, screenshot
):
    RiskLimitFactory(portfolio=None, price_collar_pct=Decimal("5"))
    page = signed_in(pm)
    client_order_id = page.input_value("#ticket [name=client_order_id]")

    fill_ticket(page, limit_price="120.00")  # 20% above the reference price of 100.00
    submit_ticket(page)

    denial = page.locator("#field-limit_price .err-denied")
    expect(denial).to_contain_text("Denied by pre-trade risk: see below")
    notice = page.locator("#ticket .notice-denied")  # the whole reason, where it has room
    expect(notice).to_contain_text("risk.price_collar")
    expect(notice).to_contain_text("20.00% from the reference price")
    order = Order.objects.get(client_order_id=client_order_id)
    assert (order.status, order.deny_code) == ("DENIED", "risk.price_collar")
    row = page.locator(f"#order-row-{order.id}")
    expect(row.locator(".badge")).to_have_text("DENIED")
    expect(row.locator(".note")).to_contain_text("risk.price_collar")
    expect(row.locator(".btn-cancel")).to_have_count(0)
    # The values stay for the fix; the denied order keeps its id, so the retry gets a new one.
    assert page.input_value("#t-limit_price") == "120.00"
    assert page.input_value("#ticket [name=client_order_id]") != client_order_id
    screenshot(page, "denial")

    page.fill("#t-limit_price", "101.00")
    submit_ticket(page)
    expect(page.locator("#ticket .notice-ok")).to_contain_text("accepted")
    expect(page.locator("#field-limit_price .err")).to_have_count(0)


def test_a_denial_without_a_field_is_shown_at_the_top_of_the_ticket(signed_in, pm, portfolio, instrument):
    RiskLimitFactory(portfolio=None, duplicate_window_seconds=60)
    page = signed_in(pm)
    fill_ticket(page)
    submit_ticket(page)
    expect(page.locator("#ticket .notice-ok")).to_contain_text("accepted")

    fill_ticket(page)  # the same order again, under the ticket's new client order id
    submit_ticket(page)

    top = page.locator("#ticket .top-errors .err-denied")
    expect(top).to_contain_text("Denied by pre-trade risk")
    expect(top).to_contain_text("risk.duplicate_order")
    expect(page.locator("#ticket .notice-denied")).to_contain_text("denied")


def test_invalid_input_is_shown_next_to_each_field_and_stores_nothing(signed_in, pm, portfolio, instrument):
    page = signed_in(pm)
    client_order_id = page.input_value("#ticket [name=client_order_id]")

    fill_ticket(page, instrument="NOPE", quantity="", limit_price="")
    submit_ticket(page)

    expect(page.locator("#field-instrument .err")).to_contain_text("Unknown instrument 'NOPE'")
    expect(page.locator("#field-quantity .err")).to_contain_text("Quantity is required")
    expect(page.locator("#field-limit_price .err")).to_contain_text("Limit price is required")
    assert not Order.objects.exists()
    assert page.input_value("#ticket [name=client_order_id]") == client_order_id  # nothing stored: reuse it


def test_blotter_filters_narrow_the_table(signed_in, pm, portfolio, instrument, other_instrument, order_payload, api_post):
    sell_beta = order_payload(instrument=other_instrument.symbol, side="sell", limit_price="50.00")
    api_post(pm, "/api/orders/bulk/", [order_payload(), sell_beta])
    page = signed_in(pm)
    rows = page.locator("#blotter-table tbody tr[data-order-id]")
    expect(rows).to_have_count(2)

    page.select_option("#blotter-filters [name=side]", "sell")

    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("BETA")
    page.wait_for_url("**/?side=sell")  # the address bar follows, so a reload shows the same view
    page.reload()
    expect(rows).to_have_count(1)


def test_an_expired_session_sends_the_next_htmx_request_to_the_login_page(signed_in, pm, portfolio):
    page = signed_in(pm)
    # Let the blotter's own refresh on (re)connect run first: racing the cookie clearing, it would redirect
    # too and abort this navigation.
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    page.wait_for_load_state("networkidle")
    page.context.clear_cookies()

    page.select_option("#blotter-filters [name=side]", "sell")

    page.wait_for_url("**/login/?next=%2F")
    expect(page.locator("#id_username")).to_be_visible()
