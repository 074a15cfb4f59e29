"""The ticket through a PM's day (issue 19, items 5 and 9): the last order's denial goes once the next is
typed, messages are read whole (the field points at the denial's reason under the send button), the estimate never promises a route risk would deny, speaks of dealers for an
RFQ and of waiting for a passive limit, and its "why" line follows the strategy the PM picks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from oms.models import RiskLimit
from tests.browser.test_desk import fill_ticket, submit_ticket
from tests.factories import RiskLimitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WHOLE = "el => el.scrollHeight <= el.clientHeight + 1 && el.scrollWidth <= el.clientWidth + 1"


def test_the_last_orders_denial_goes_once_the_next_order_is_typed(signed_in, pm, portfolio, instrument, screenshot):
    RiskLimitFactory(portfolio=None, max_order_quantity=100_000)
    page = signed_in(pm)
    fill_ticket(page, quantity="250000", order_type="market", limit_price=None)
    page.wait_for_timeout(400)  # a person reads the estimate before sending
    submit_ticket(page)

    denial = page.locator("#field-quantity .err-denied")
    expect(denial).to_have_text("Denied by pre-trade risk: see below")
    assert denial.evaluate(WHOLE), "the field's message is cut"
    notice = page.locator("#ticket .notice-denied")
    expect(notice).to_contain_text("Quantity 250,000 exceeds the maximum of 100,000 per order")
    assert notice.evaluate(WHOLE), "the denial's reason is cut"
    screenshot(page, "ticket_denied_whole_message")

    page.locator("#t-quantity").press_sequentially("9", delay=120)  # the PM starts on the next order

    expect(page.locator("#ticket .notice-denied")).to_have_count(0)
    expect(page.locator("#ticket .err-denied")).to_have_count(0)
    expect(page.locator("#field-quantity")).not_to_have_class("field has-error")
    screenshot(page, "ticket_denial_cleared")


def test_a_long_field_error_is_read_whole(signed_in, pm, portfolio, instrument, screenshot):
    page = signed_in(pm)
    fill_ticket(page, instrument="NOSUCHTHING")
    submit_ticket(page)

    err = page.locator("#field-instrument .err")
    expect(err).to_be_visible()
    assert err.evaluate(WHOLE), "the instrument's message is cut"
    screenshot(page, "ticket_field_error_whole")


def test_the_estimate_shows_the_denial_instead_of_a_route_and_a_block_goes_to_dealers(
    signed_in, pm, portfolio, instrument, screenshot,
):
    RiskLimitFactory(portfolio=None, max_order_quantity=2_000_000, max_order_notional=500_000_000)
    page = signed_in(pm)
    estimate = page.locator("#t-pretrade")
    fill_ticket(page, quantity="3000000", order_type="market", limit_price=None)  # 30% of ADV, over the limit

    expect(estimate).to_contain_text("Would be denied")
    expect(estimate).to_contain_text("risk.max_quantity")
    expect(estimate).not_to_contain_text("RFQ")
    screenshot(page, "ticket_estimate_denied")

    RiskLimit.objects.filter(portfolio=None).update(max_order_quantity=5_000_000)  # the desk's block limit
    page.fill("#t-quantity", "2500000")  # 25% of ADV: the matrix's block row
    expect(estimate).to_contain_text("RFQ to dealers now")
    expect(estimate).to_contain_text("dealers' quotes set the price")
    expect(estimate).not_to_contain_text("% of volume")
    expect(estimate).not_to_contain_text("± 0.0")
    expect(page.locator("#t-pretrade .est-why")).to_contain_text("RFQ to dealers: a quarter of a day's volume")
    screenshot(page, "ticket_estimate_rfq")


def test_a_passive_limit_waits_and_the_why_line_follows_the_strategy(signed_in, pm, portfolio, instrument, screenshot):
    page = signed_in(pm)
    why = page.locator("#t-pretrade .est-why")
    fill_ticket(page, quantity="1000", limit_price="95.00")  # a buy 5% below the market: passive

    expect(why).to_contain_text("POV")
    expect(page.locator("#t-pretrade")).not_to_contain_text("DIRECT")
    expect(why).not_to_contain_text("fits the displayed books")

    for strategy, start in (("twap", "TWAP to"), ("direct", "DIRECT at the limit"), ("vwap", "VWAP to")):
        page.select_option("#t-strategy", strategy)
        expect(why).to_contain_text(start)
        expect(why).to_contain_text("requested by the PM")
        page.wait_for_timeout(300)  # a person reads it before the next change
    screenshot(page, "ticket_why_follows_strategy")
