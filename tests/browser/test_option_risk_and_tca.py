"""Options in the browser (issue 22, items 5 and 6): the ticket shows an option limb's denial next to the quantity,
and a parent's TCA page shows its RFQ execution against the model mid, the best and the cover quote."""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import expect

from oms.demo import seed_option_chains
from oms.models import Instrument, Order
from tests.browser.test_desk import fill_ticket, submit_ticket
from tests.factories import RiskLimitFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PUT = "ACME270115P95"


def test_an_option_order_over_the_most_contracts_is_denied_on_the_ticket(signed_in, pm, portfolio, instrument, screenshot):
    seed_option_chains(date(2026, 12, 7), ("ACME",))
    RiskLimitFactory(portfolio=None, max_option_contracts=500)
    page = signed_in(pm)

    fill_ticket(page, instrument=PUT, quantity="501", limit_price="2.00")
    submit_ticket(page)

    expect(page.locator("#field-quantity .err-denied")).to_contain_text("Denied by pre-trade risk")
    notice = page.locator("#ticket .notice-denied")
    expect(notice).to_contain_text("risk.max_contracts")
    expect(notice).to_contain_text("501 contracts exceed the maximum of 500")
    order = Order.objects.get(portfolio=portfolio)
    assert (order.status, order.deny_code) == ("DENIED", "risk.max_contracts")
    screenshot(page, "option_max_contracts_denied")


def test_the_tca_page_shows_an_option_rfq_execution(signed_in, trader, pm, portfolio, other_pm, other_portfolio, instrument, clock,
                                                    screenshot):
    from oms.roles import Actor
    from rfq.services import quote_accept, rfq_create
    from tests.rfq.services_helpers import block_parent, mid_price, providers, quote

    seed_option_chains(date(2026, 12, 7), ("ACME",))
    put = Instrument.objects.get(symbol=PUT)
    providers("MMA", "MMB", "MMC")
    parent = block_parent(instrument=put, pm=pm, portfolio=portfolio, other_pm=other_pm, other_portfolio=other_portfolio,
                          quantities=(300, 200), strategy="rfq")
    actor = Actor.for_user(trader, "api")
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    quote(rfq, "MMA", mid_price(rfq, 300))
    best = quote(rfq, "MMB", mid_price(rfq, 100))
    quote(rfq, "MMC", mid_price(rfq, 500))
    assert quote_accept(rfq_id=rfq.pk, quote_id=best.pk, actor=actor).executed

    page = signed_in(trader)
    page.goto(f"/tca/parents/{parent.pk}/")

    section = page.locator(f"#tca-rfq-{rfq.pk}")
    expect(section).to_contain_text(f"RFQ {rfq.pk} execution")
    expect(section).to_contain_text("500 contracts (x 100)")
    expect(section.locator("tr[data-benchmark=model_mid]")).to_contain_text("Model mid at request")
    best_row = section.locator("tr[data-benchmark=best_quote]")
    expect(best_row).to_contain_text("0.0 bp")  # executed at the best quote: no slippage, no colour
    expect(best_row.locator(".slip-good, .slip-bad")).to_have_count(0)
    expect(section.locator("tr[data-benchmark=cover_quote] .slip-good").first).to_be_visible()
    screenshot(page, "tca_option_rfq")
