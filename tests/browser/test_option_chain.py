"""The option chain page (issue 22): per expiry and strike, calls and puts with the venue's quote, the model's
value, implied volatility and delta; it follows the underlying's market as prices refresh."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from ems.tasks import market_prices_refresh
from oms.demo import seed_option_chains

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_pm_reads_the_chain_and_it_follows_the_market(signed_in, pm, instrument, venues, screenshot):
    seed_option_chains(timezone.now().date(), ("ACME",))
    page = signed_in(pm)
    page.goto("/options/")

    expect(page).to_have_url(f"{page.url.split('/options/')[0]}/options/ACME/")
    expect(page.locator("h1")).to_have_text("ACME options")
    page.click("text=← ACME market")
    expect(page.locator("#md-options")).to_be_visible()
    page.click("#md-options")  # the market page links the chain back
    expect(page.locator("h1")).to_have_text("ACME options")
    expect(page.locator("section.chain-expiry")).to_have_count(3)
    first = page.locator("section.chain-expiry").first
    expect(first.locator("tbody tr")).to_have_count(9)
    expect(page.locator("#chain-spot")).to_contain_text("reference price")
    row = first.locator("tbody tr[data-strike='100']")
    bid, ask = (float(row.locator(f"td.{c}").first.inner_text()) for c in ("bid", "ask"))
    assert 0 < bid < ask
    assert row.locator("td.iv").first.inner_text().endswith("%")
    screenshot(page, "option-chain")

    # A trader's reading pace: the table re-fetches every 3 s; once a market price arrives it is priced off it.
    market_prices_refresh()
    expect(page.locator("#chain-spot")).to_contain_text("as of", timeout=10_000)
    page.wait_for_timeout(12_000)
    expect(page.locator("section.chain-expiry")).to_have_count(3)
    screenshot(page, "option-chain-live")


def test_a_pm_sees_option_positions_with_their_greeks_by_underlying(signed_in, pm, portfolio, instrument, screenshot):
    from oms.models import Instrument
    from tests.ems import factories as f

    seed_option_chains(timezone.now().date(), ("ACME",))
    options = Instrument.objects.filter(underlying=instrument, option_type="put").order_by("expiry", "strike")
    f.position(portfolio=portfolio, instrument=instrument, quantity=2_000, avg_cost="100.00")
    f.position(portfolio=portfolio, instrument=options[12], quantity=50, avg_cost="1.20")  # a January put
    page = signed_in(pm)
    page.goto("/positions/")

    row = page.locator(f"#positions-table tr[data-instrument='{options[12].symbol}']")
    expect(row.locator("td.delta")).not_to_have_text("")
    assert float(row.locator("td.delta").inner_text().replace(",", "")) < 0  # long puts: short delta
    total = page.locator(f"#greeks-table tr[data-underlying='{instrument.symbol}']")
    expect(total).to_have_count(1)
    net = float(total.locator("td.net-delta").inner_text().replace(",", ""))
    assert net < 2_000  # the shares held, less the puts' delta
    page.wait_for_timeout(10_000)  # a PM reads the book
    screenshot(page, "positions-with-options")
