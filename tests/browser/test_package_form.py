"""A trader builds a four-leg package in a real browser (issue 22): from the option chain page to the "New package"
form, four legs typed (buy the 100/105 call spread, buy the 95 put, sell 40 shares per package), on to the package's
ladder where net quotes from the simulated market makers (a real Celery worker) arrive live; after reading it for a
while the trader clicks the best and every leg shows the price it was booked at. And a bad leg: its error next to
that leg with its code, what was typed kept, nothing created."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ems.models import Fill
from oms.models import Order
from rfq.models import RFQ, Quote
from rfq.states import RfqStatus
from tests.browser.conftest import signed_in_at
from tests.browser.live_stack import expect_net_quotes_arrive_live, package_live_stack, package_makers  # noqa: F401 (fixtures)
from tests.rfq.package_helpers import chain, four_legs

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
READ_S = 1.5  # a person's pause between looking and acting, in seconds


def pause(page, seconds: float = READ_S) -> None:
    page.wait_for_timeout(seconds * 1000)


def type_leg(page, n: int, leg: dict) -> None:
    page.fill(f"#leg-{n}-instrument", leg["instrument"])
    page.click(f"label[for=leg-{n}-side-{leg['side']}]")
    page.fill(f"#leg-{n}-ratio", str(leg["ratio"]))
    pause(page, 0.6)


def test_a_trader_builds_a_four_leg_package_in_the_form_reads_the_live_ladder_and_one_click_books_every_leg(
        browser, live_stack, trader, makers, instrument, portfolio, screenshot):
    options = chain(instrument)
    legs = four_legs(instrument, options)
    context, page = signed_in_at(browser, live_stack, trader, timeout_ms=15_000)
    try:
        page.goto(f"/options/{instrument.symbol}/")
        pause(page)
        for key in ("c100", "c105", "p95"):  # the call spread and the put, picked off the chain
            page.click(f".add-leg[data-symbol='{options[key].symbol}']")
            pause(page, 0.8)
        expect(page.locator("#new-package")).to_have_text("New package (3 legs)")
        screenshot(page, "package_chain_legs")
        page.click("#new-package")
        page.wait_for_url(re.compile(r"/rfq/package/new/\?underlying=ACME&leg="))
        expect(page.locator("#package-form tr.package-leg")).to_have_count(4)
        for n, key in enumerate(("c100", "c105", "p95")):
            expect(page.locator(f"#leg-{n}-instrument")).to_have_value(options[key].symbol)
        expect(page.locator("#package-form")).to_contain_text("currency per package")
        assert page.locator(f"#package-symbols option[value='{options['c105'].symbol}']").count() == 1  # the chain to pick from
        screenshot(page, "package_form_empty")
        pause(page)

        page.select_option("#pk-portfolio", portfolio.code)
        page.fill("#pk-quantity", "10")
        page.fill("#pk-window", "40")
        for n, leg in enumerate(legs):
            type_leg(page, n, leg)
        expect(page.locator("#leg-3-side-sell")).to_be_checked()
        screenshot(page, "package_form_filled")
        pause(page)
        page.click("#package-submit")

        page.wait_for_url(re.compile(r"/rfq/\d+/$"))
        rfq_id = int(re.search(r"/rfq/(\d+)/$", page.url).group(1))
        rows = page.locator("#rfq-legs tbody tr")
        expect(rows).to_have_count(4)
        expect(rows.nth(0)).to_contain_text(options["c100"].symbol)
        expect(rows.nth(3)).to_contain_text("SELL")
        expect(rows.nth(3)).to_contain_text("400")
        expect_net_quotes_arrive_live(page)
        expect(page.locator("#rfq-live")).to_contain_text("currency per package")
        pause(page, 4)  # the trader reads the ladder before clicking
        screenshot(page, "package_form_ladder")

        best_id = int(page.locator("#rfq-ladder tr.is-best").get_attribute("data-quote-id"))
        page.locator("#rfq-ladder tr.is-best .btn-exec").click()
        expect(page.locator("#rfq-outcome")).to_contain_text("Executed: every leg of 10 packages")
        prices = page.locator("#rfq-legs tbody tr td.px:last-child")
        for n in range(4):
            expect(prices.nth(n)).not_to_have_text("—")
        screenshot(page, "package_form_executed")
    finally:
        context.close()

    rfq = RFQ.objects.get(pk=rfq_id)
    best = min(Quote.objects.filter(rfq=rfq), key=lambda q: q.price)
    assert (rfq.status, rfq.executed_quote_id, best_id, rfq.source) == (RfqStatus.EXECUTED, best.pk, best.pk, "desk")
    assert [(leg.instrument.symbol, leg.side, leg.ratio) for leg in rfq.legs.order_by("leg_no")] == [
        (leg["instrument"], leg["side"], leg["ratio"]) for leg in legs]
    assert Fill.objects.filter(exec_id__startswith=f"RFQ{rfq.pk}-Q{best.pk}-L").count() == 4
    assert sum((leg.sign * leg.weight * leg.executed_price for leg in rfq.legs.all()), Decimal(0)) == best.price


def test_a_bad_leg_shows_its_error_next_to_it_keeps_what_was_typed_and_creates_nothing(
        signed_in, trader, venues, instrument, portfolio, screenshot):
    options = chain(instrument)
    page = signed_in(trader)
    page.goto("/rfq/")
    screenshot(page, "rfq_list_new_package")
    pause(page)
    page.click("#new-package")
    page.wait_for_url(re.compile(r"/rfq/package/new/$"))
    page.select_option("#pk-underlying", instrument.symbol)
    page.wait_for_url(re.compile(r"underlying=ACME"))
    type_leg(page, 0, {"instrument": options["c100"].symbol, "side": "buy", "ratio": 1})
    type_leg(page, 1, {"instrument": "ACME270115C999", "side": "sell", "ratio": 1})
    type_leg(page, 2, {"instrument": instrument.symbol, "side": "sell", "ratio": 40})
    pause(page)
    page.click("#package-submit")

    error = page.locator("#leg-1-error")
    expect(error).to_contain_text("rfq.leg_unknown_instrument")
    expect(error).to_contain_text("ACME270115C999")
    expect(page.locator("#leg-1-instrument")).to_have_value("ACME270115C999")
    expect(page.locator("#leg-2-ratio")).to_have_value("40")
    expect(page.locator("#leg-1-side-sell")).to_be_checked()
    assert "/rfq/package/new/" in page.url
    screenshot(page, "package_form_error")

    # Mended, but leg 3's ratio typed as 0: that shows on its own row, the first leg's error gone.
    page.fill("#leg-1-instrument", options["c105"].symbol)
    page.fill("#leg-2-ratio", "0")
    pause(page)
    page.click("#package-submit")
    expect(page.locator("#leg-2-error")).to_contain_text("rfq.leg_bad_ratio")
    expect(page.locator("#leg-1-error")).to_have_count(0)
    screenshot(page, "package_form_error_ratio")
    assert not RFQ.objects.exists() and not Order.objects.exists()
