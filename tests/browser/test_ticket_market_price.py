"""The ticket shows, and estimates at, the price pre-trade risk will use: the live mid, or the stale reference."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import expect

from oms.models import PriceTick
from oms.services import market_prices_update

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_ticket_estimates_a_market_order_at_the_live_mid_and_marks_a_stale_price(
    signed_in, pm, portfolio, instrument, other_instrument, screenshot,
):
    now = timezone.now()
    market_prices_update(prices=[
        PriceTick(instrument.id, Decimal("101.49"), Decimal("101.51"), Decimal("101.50"), Decimal("101.51"), now),
        PriceTick(other_instrument.id, Decimal("55.00"), Decimal("55.02"), Decimal("55.01"), None,
                  now - timedelta(seconds=settings.RISK_PRICE_MAX_AGE_S + 5)),
    ])
    page = signed_in(pm)

    page.fill("#t-instrument", "ACME")
    page.fill("#t-quantity", "1000")
    page.click("label[for=t-order_type-market]")

    hint = page.locator("#t-instrument-hint")
    expect(hint).to_contain_text("mid 101.50 USD · live")
    expect(hint).to_have_attribute("title", f"market mid 101.50 at {now:%H:%M:%S} UTC")
    expect(page.locator("#t-estimate")).to_have_text("≈ 101,500.00 USD at mid")
    screenshot(page, "ticket-live-mid")

    page.fill("#t-instrument", "BETA")
    expect(hint).to_contain_text("ref 50.00 USD · stale")
    expect(page.locator("#t-estimate")).to_have_text("≈ 50,000.00 USD at ref")


def test_ticket_follows_the_market_price_while_the_page_is_open(signed_in, pm, portfolio, instrument):
    def tick(mid):
        m = Decimal(mid)
        market_prices_update(prices=[PriceTick(instrument.id, m - Decimal("0.01"), m + Decimal("0.01"), m, m, timezone.now())])

    tick("101.50")
    page = signed_in(pm)
    page.fill("#t-instrument", "ACME")
    hint = page.locator("#t-instrument-hint")
    expect(hint).to_contain_text("mid 101.50 USD · live")  # rendered with the page

    tick("102.25")  # the EMS refreshed the price

    expect(hint).to_contain_text("mid 102.25 USD · live")  # polled, no reload
