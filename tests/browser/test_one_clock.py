"""One clock (issue 19, item 7): the same fill reads the same market time on the PM's order page and on the
parent's TCA report, with its wall time (UTC) in the tooltip; the header's market clock ticks on its own.

Reuses the TCA pages' closed parent (two PMs' orders worked to FILLED by the live driver) and its server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from ems.sim import format_clock
from oms.models import Order
from tests.browser.test_tca_pages import done_parent, sign_in, tca_server  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MARKET_LABEL = re.compile(r"^D\d+ \d\d:\d\d:\d\d$")


def test_a_fill_reads_the_same_market_time_on_the_order_page_and_in_tca(browser, tca_server, done_parent, pm, screenshot):  # noqa: F811
    order = Order.objects.get(constituents__parent=done_parent, created_by=pm)
    first = done_parent.fills.order_by("market_time_us", "id").first()
    context, page = sign_in(browser, tca_server, pm)
    try:
        page.goto(f"/orders/{order.pk}/")
        cell = page.locator(f"tr[data-exec='{first.exec_id}'] td").first
        on_order_page = cell.inner_text().strip()
        assert on_order_page.startswith(f"D{done_parent.market_day} "), on_order_page
        expect(cell.locator("span.mt")).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6} UTC"))
        screenshot(page, "one_clock_order_page")

        # The header clock: market time, and it advances in the page with no request.
        clock = page.locator("#market-clock-text")
        expect(clock).to_have_text(MARKET_LABEL)
        shown = clock.inner_text()
        expect(clock).not_to_have_text(shown, timeout=5_000)
        expect(clock).to_have_text(MARKET_LABEL)

        page.goto(f"/tca/parents/{done_parent.pk}/")
        expect(page.locator("#tca-parent-head")).to_contain_text(f"Day {done_parent.market_day}")
        tca_first = page.locator("#tca-fills tbody tr").first.locator("td").first.inner_text().strip()
        assert on_order_page == f"D{done_parent.market_day} {tca_first}"
        expect(page.locator("#market-clock-text")).to_have_text(MARKET_LABEL)
        screenshot(page, "one_clock_tca_page")

        # The blotter reads the order's time on the same clock (created at the parent's start, see closed_parent).
        page.goto("/")
        expect(page.locator("#blotter-table").get_by_text(f"D{done_parent.market_day} {format_clock(done_parent.start_us)[:8]}").first).to_be_visible()
        screenshot(page, "one_clock_blotter")
    finally:
        context.close()
