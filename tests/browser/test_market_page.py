"""The market-data page: live L2 ladders per venue, consolidated BBO, prints and a chart, over a websocket."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _ladders(page) -> str:
    return page.locator("#md-ladders").inner_text()


def test_market_page_shows_a_ladder_per_lit_venue_that_changes_over_time(signed_in, pm, instrument, venues, screenshot):
    page = signed_in(pm)
    page.goto(f"/market/{instrument.symbol}/")

    expect(page.locator("#md-live")).to_have_text("live")
    ladders = page.locator(".md-ladder")
    expect(ladders).to_have_count(3)  # the three lit venues; dark pools display nothing
    for code in ("XSMA", "XSMB", "XSMI"):
        ladder = page.locator(f".md-ladder[data-venue={code}]")
        expect(ladder.locator("tr.bid")).to_have_count(10)
        expect(ladder.locator("tr.ask")).to_have_count(10)

    bid = float(page.locator("#bbo-bid").inner_text())
    ask = float(page.locator("#bbo-ask").inner_text())
    assert 0 < bid < ask, "the consolidated book is never crossed"
    assert abs((bid + ask) / 2 - float(instrument.reference_price)) / float(instrument.reference_price) < 0.5
    expect(page.locator("#md-prints tr").first).not_to_have_class("empty")
    expect(page.locator("#md-chart canvas").first).to_be_visible()

    first_clock = page.locator("#md-clock").inner_text()
    first = _ladders(page)
    # At 60x, a second of wall time is a minute of market: the pushed ladder must move.
    page.wait_for_function(
        "([before, clock]) => document.querySelector('#md-ladders').innerText !== before"
        " && document.querySelector('#md-clock').textContent !== clock",
        arg=[first, first_clock], timeout=10_000,
    )
    screenshot(page, "market")


def test_market_index_opens_the_first_instrument_and_unknown_symbol_is_404(signed_in, pm, instrument, venues):
    page = signed_in(pm)
    page.goto("/market/")
    page.wait_for_url(f"**/market/{instrument.symbol}/")
    response = page.goto("/market/NOPE/")
    assert response.status == 404
