"""A four-leg package's RFQ ladder in a real browser, on a real ASGI server and a real Celery worker running the
simulated market makers: the legs listed with their model values, net quotes arriving live over /ws/rfq/<id>/
without a reload, one click on the best executes every leg, and the legs show the prices they were booked at,
adding up to the net price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ems.models import Fill
from rfq.models import RFQ, Quote
from rfq.states import RfqStatus
from tests.browser.conftest import signed_in_at
from tests.browser.live_stack import expect_net_quotes_arrive_live, package_live_stack, package_makers  # noqa: F401 (fixtures)
from tests.rfq.package_helpers import chain, four_legs, package_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_four_leg_package_ladder_fills_live_and_one_click_books_every_leg(browser, live_stack, trader, makers, instrument,
                                                                            portfolio, screenshot):
    options = chain(instrument)
    context, page = signed_in_at(browser, live_stack, trader, timeout_ms=15_000)
    try:
        rfq = package_for(trader, portfolio, four_legs(instrument, options), quantity=10, window_s="40")
        page.goto(f"/rfq/{rfq.id}/")
        legs = page.locator("#rfq-legs tbody tr")
        expect(legs).to_have_count(4)
        expect(legs.nth(0)).to_contain_text(options["c100"].symbol)
        expect(legs.nth(3)).to_contain_text("SELL")
        expect(legs.nth(3)).to_contain_text("400")
        expect(page.locator("#rfq-head")).to_contain_text("Package of 4 legs")

        expect_net_quotes_arrive_live(page)
        screenshot(page, "package_ladder_quoting")

        best_id = int(page.locator("#rfq-ladder tr.is-best").get_attribute("data-quote-id"))
        page.locator("#rfq-ladder tr.is-best .btn-exec").click()
        expect(page.locator("#rfq-outcome")).to_contain_text("Executed: every leg of 10 packages")
        expect(page.locator("#rfq-head .badge")).to_have_text("EXECUTED")
        expect(page.locator("#rfq-legs tbody tr td.px").nth(1)).not_to_have_text("—")
        screenshot(page, "package_ladder_executed")
    finally:
        context.close()

    rfq = RFQ.objects.get(pk=rfq.pk)
    best = min(Quote.objects.filter(rfq=rfq), key=lambda q: q.price)
    assert (rfq.status, rfq.executed_quote_id, best_id) == (RfqStatus.EXECUTED, best.pk, best.pk)
    assert Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-Q{best.pk}-L").count() == 4
    assert sum((leg.sign * leg.weight * leg.executed_price for leg in rfq.legs.all()), Decimal(0)) == best.price
