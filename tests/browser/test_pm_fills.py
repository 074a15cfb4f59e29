"""The PM's view of execution: the ticket's pre-trade estimate as they type, the order page's fills and
allocations, the blotter's progress, positions; and (with the live EMS on a real worker) an order that
joins a parent and fills while the blotter watches, without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.ems import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def filled_order(pm, portfolio, other_pm, other_portfolio, instrument):
    """pm_a's 1,000 ACME in a shared parent with pm_b's 2,000, 900 of the 3,000 filled so far."""
    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=2000)
    parent = f.parent(instrument=instrument, orders=[mine, theirs], start_us=0, end_us=3_600_000_000)
    child = f.child(parent=parent, quantity=900)
    for k, px in enumerate(("99.98", "100.01", "100.03")):
        f.fill(parent=parent, child=child, quantity=300, price=px, t_us=(k + 1) * 60_000_000)
    f.position(portfolio=portfolio, instrument=instrument, quantity=300, avg_cost="100.006667")
    mine.refresh_from_db()
    return mine, parent


def test_order_page_shows_the_pms_share_of_each_fill(signed_in, pm, filled_order, screenshot):
    order, parent = filled_order
    page = signed_in(pm)
    page.goto(f"/orders/{order.id}/")

    rows = page.locator("#executions tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("99.98")
    expect(rows.nth(0)).to_contain_text("100")  # pm_a's third of the 300-share fill
    expect(page.locator(".order-side")).to_contain_text(f"parent P{parent.id}")
    expect(page.locator(".progress")).to_contain_text("Filled 300 / 1,000")
    screenshot(page, "pm_order_page")

    page.goto("/")
    row = page.locator(f"#order-row-{order.id}")
    expect(row.locator(".badge")).to_have_text("PARTIALLY FILLED")
    expect(row).to_contain_text("100.0067")


def test_ticket_shows_the_pre_trade_estimate_as_the_pm_types(signed_in, pm, portfolio, instrument, screenshot):
    page = signed_in(pm)
    expect(page.locator("#t-pretrade")).to_contain_text("choose an instrument and a quantity")
    page.fill("#t-instrument", "ACME")
    page.fill("#t-quantity", "500000")
    page.locator("label[for=t-order_type-market]").click()

    estimate = page.locator("#t-pretrade")
    expect(estimate).to_contain_text(re.compile(r"Est\. vs arrival, \+ = better\s+[−+-]?[\d.]+ bp"))
    expect(estimate).to_contain_text("USD")
    first = estimate.inner_text()
    page.fill("#t-quantity", "500")
    expect(estimate).not_to_have_text(first)
    page.fill("#t-quantity", "500000")
    screenshot(page, "pm_ticket_estimate")


def test_positions_page(signed_in, pm, filled_order, screenshot):
    page = signed_in(pm)
    page.goto("/positions/")
    row = page.locator("#positions-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("PM-A-GROWTH")
    expect(row).to_contain_text("ACME")
    expect(row.locator("td.qty")).to_have_text("300")
    screenshot(page, "pm_positions")


def test_pm_order_joins_a_parent_fills_and_the_blotter_shows_it_filled_without_reload(signed_in, pm, portfolio, instrument, settings, screenshot):
    """The whole path live: the ticket -> intake -> aggregation -> a parent worked by a real Celery worker
    on the simulated venues -> fills booked and allocated -> the blotter row turns FILLED with its average
    price, pushed over the websocket (no reload)."""
    import uuid

    from django.db import connection

    from ems.models import ParentOrder
    from ems.services import venues_sync_from_sim
    from ems.services.aggregation import aggregation_cycle
    from ems.services.ticks import parent_tick_enqueue
    from oms.models import Order
    from oms.roles import Actor
    from tests.browser.conftest import SERVER_CHANNELS_PREFIX
    from tests.servers import celery_worker, database_url, wait_for

    venues_sync_from_sim()
    queue = f"test-ui-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue  # ticks enqueued from this process go to our worker
    env = {"DATABASE_URL": database_url(connection.settings_dict), "EMS_QUEUE": queue, "CHANNELS_PREFIX": SERVER_CHANNELS_PREFIX,
           "EMS_TICK_S": "0.2"}

    page = signed_in(pm)
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
    page.fill("#t-instrument", "ACME")
    page.fill("#t-quantity", "300")
    page.locator("label[for=t-order_type-market]").click()
    page.select_option("#t-strategy", "direct")
    expect(page.locator("#t-pretrade")).to_contain_text("DIRECT")
    page.click("#ticket button[type=submit]")
    expect(page.locator("#ticket .notice-ok")).to_contain_text("accepted")
    order = Order.objects.get(portfolio=portfolio)
    row = page.locator(f"#order-row-{order.id}")
    expect(row.locator(".badge")).to_have_text("ACCEPTED")

    with celery_worker(env, queue) as log:
        result = aggregation_cycle(actor=Actor.system("test"))
        assert len(result.parents) == 1, result
        parent = ParentOrder.objects.get(pk=result.parents[0])
        parent_tick_enqueue(parent.id, countdown=0)  # the first tick, on our worker's queue
        wait_for(lambda: ParentOrder.objects.filter(pk=parent.id, status="FILLED").exists(), 60, every_s=0.3)
        worker_log = log.read_text()
    parent.refresh_from_db()
    assert parent.status == "FILLED", (parent.status, parent.filled_quantity, worker_log[-3000:])

    expect(row.locator(".badge")).to_have_text("FILLED", timeout=15_000)
    order.refresh_from_db()
    assert order.filled_quantity == 300 and order.avg_price is not None
    expect(row).to_contain_text(f"{order.avg_price.normalize():f}"[:7])
    screenshot(page, "pm_blotter_filled")
    page.goto(f"/orders/{order.id}/")
    expect(page.locator("#executions tbody tr").first).to_be_visible()
    screenshot(page, "pm_order_filled")
