"""A GTC order still working the next market day, as the PM and the trader see it (issue 19, item 6): the
order stays open on the blotter with its leaves, its page names the parent working it today and the one that
worked it yesterday, and the trader reads yesterday's parent as done for the day."""

import re

import pytest
from playwright.sync_api import expect

from ems.models import ParentOrder
from ems.states import ExecStatus
from tests.ems.live_helpers import DAY, MarketClock, tick_until_done
from tests.ems.test_gtc_carry_over import START, _passive_buy

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_gtc_order_still_working_the_next_market_day(signed_in, settings, pm, trader, portfolio, instrument, screenshot):
    clock = MarketClock(settings, t_us=START)
    order, first = _passive_buy(instrument, portfolio, pm, "gtc")
    tick_until_done(first, clock)  # through day 2's close: done for the day, the rest carried to day 3
    first.refresh_from_db()
    order.refresh_from_db()
    second = ParentOrder.objects.get(constituents__order=order, constituents__current=True)
    assert first.status == ExecStatus.DONE_FOR_DAY and second.market_day == DAY + 1
    leaves = order.quantity - order.filled_quantity

    page = signed_in(pm)
    row = page.locator(f"#order-row-{order.pk}")
    expect(row).to_have_attribute("data-status", "PARTIALLY_FILLED")
    expect(row).to_contain_text("GTC")
    expect(row).to_contain_text(f"{leaves:,}")  # still working: its leaves on the blotter

    page.goto(f"/orders/{order.pk}/")
    expect(page.locator("[data-testid=order-parent]")).to_have_text(
        f"worked in parent P{second.pk} (earlier market days: P{first.pk})")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("order.aggregated")
    screenshot(page, "gtc-order-next-day")

    desk = signed_in(trader)
    desk.goto(f"/desk/parents/{first.pk}/")
    expect(desk.locator("body")).to_contain_text(re.compile("done for day", re.I))
    desk.goto(f"/orders/{order.pk}/")
    desk.locator("[data-testid=order-parent] a", has_text=f"P{second.pk}").click()
    expect(desk).to_have_url(f"{desk.url.split('/parents/')[0]}/parents/{second.pk}/")
    expect(desk.locator("body")).to_contain_text(f"{second.quantity:,}")
    screenshot(desk, "gtc-next-day-parent")
