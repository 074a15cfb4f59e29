"""TCA of an option RFQ execution (issue 22, item 6): the executed price against the model's mid at request time
(BSM on the underlying's mid at that instant), the best quote and the cover, in bps and currency x contracts x
multiplier, positive = better; in the parent report, GET /api/tca/parent-orders/{id}/ and the TCA page."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ems.option_market import option_quote_now
from ems.selectors import market_prices
from oms.demo import seed_option_chains
from oms.models import Instrument
from rfq.services import quote_accept, rfq_create
from tca.measures import package_price, rfq_slippage
from tca.reports import parent_report
from tests.rfq.services_helpers import block_parent, mid_price, providers, quote

pytestmark = pytest.mark.django_db


@pytest.fixture
def executed(clock, instrument, pm, portfolio, other_pm, other_portfolio, actor):
    """A buy of 500 ACME puts (300 + 200 for two PMs) executed by RFQ at the best of three quotes."""
    seed_option_chains(date(2026, 12, 7), ("ACME",))
    put = Instrument.objects.get(symbol="ACME270115P95")
    providers("MMA", "MMB", "MMC")
    parent = block_parent(instrument=put, pm=pm, portfolio=portfolio, other_pm=other_pm, other_portfolio=other_portfolio,
                          quantities=(300, 200), strategy="rfq")
    rfq = rfq_create(parent_id=parent.pk, actor=actor)
    quote(rfq, "MMA", mid_price(rfq, 300))
    best = quote(rfq, "MMB", mid_price(rfq, 100))
    quote(rfq, "MMC", mid_price(rfq, 500))
    assert quote_accept(rfq_id=rfq.pk, quote_id=best.pk, actor=actor).executed
    rfq.refresh_from_db()
    return parent, rfq, put


def test_package_price_nets_the_legs_and_a_single_option_is_its_own_price():
    assert package_price([("buy", 1, 2.5)]) == 2.5
    assert package_price([("buy", 1, 3.0), ("sell", 2, 1.25)]) == pytest.approx(0.5)  # a 1x2 put spread
    assert rfq_slippage("buy", 2.0, 2.1, 500, 100) == (pytest.approx(476.1905, abs=1e-3), pytest.approx(5000.0))
    assert rfq_slippage("sell", 2.0, 2.1, 500, 100)[1] == pytest.approx(-5000.0)
    assert rfq_slippage("buy", 0.1, -0.2, 10, 100) == (None, pytest.approx(-300.0))  # a credit: no bps


def test_an_option_rfq_is_measured_against_the_model_mid_the_best_and_the_cover(executed, trader):
    parent, rfq, put = executed

    report = parent_report(user=trader, parent_id=parent.pk)

    [x] = report["rfq_executions"]
    assert (x["rfq_id"], x["instrument"], x["side"], x["quantity"], x["multiplier"]) == (rfq.pk, put.symbol, "buy", 500, 100)
    assert x["price"] == rfq.executed_price and x["provider"] == "MMB" and x["quotes_received"] == 3
    b = {row["name"]: row for row in x["benchmarks"]}
    # The best quote is the one executed: no slippage; the cover (MMA) is what the competition saved.
    assert b["best_quote"]["price"] == rfq.executed_price and b["best_quote"]["slippage_bps"] == 0
    cover = Decimal(mid_price(rfq, 300))
    assert b["cover_quote"]["price"] == cover
    assert b["cover_quote"]["slippage_ccy"] == (cover - rfq.executed_price) * 500 * 100 > 0
    assert b["cover_quote"]["slippage_bps"] == pytest.approx(float((cover - rfq.executed_price) / cover * 10_000), abs=1e-3)
    # The model mid: the BSM value with ACME at its mid when the RFQ was created (the live market at that instant).
    spot = market_prices([put.underlying], wall=rfq.created_at.timestamp())[0].mid
    model = option_quote_now(put, put.underlying, spot, rfq.created_at).mid
    assert float(b["model_mid"]["price"]) == pytest.approx(model, abs=1e-6)
    assert float(x["legs"][0]["model_mid"]) == pytest.approx(model, abs=1e-6)
    assert float(b["model_mid"]["slippage_ccy"]) == pytest.approx((model - float(rfq.executed_price)) * 500 * 100, abs=0.01)
    assert b["model_mid"]["slippage_bps"] < 0  # paid 100 bp over the venue's mid: worse than the model


def test_a_pm_reads_their_share_of_the_currency(executed, pm, trader):
    parent, rfq, _ = executed

    desk = parent_report(user=trader, parent_id=parent.pk)["rfq_executions"][0]["benchmarks"]
    mine = parent_report(user=pm, parent_id=parent.pk)["rfq_executions"][0]["benchmarks"]

    for d, m in zip(desk, mine, strict=True):
        assert m["slippage_bps"] == d["slippage_bps"]
        assert m["slippage_ccy"] == (d["slippage_ccy"] * Decimal("0.6")).quantize(Decimal("0.000001"))  # 300 of 500


def test_the_api_and_the_page_show_the_rfq_execution(executed, trader, api, client):
    parent, rfq, _ = executed

    body = api(trader).get(f"/api/tca/parent-orders/{parent.pk}/").json()
    client.force_login(trader)
    page = client.get(f"/tca/parents/{parent.pk}/").content.decode()

    [x] = body["rfq_executions"]
    assert [b["name"] for b in x["benchmarks"]] == ["model_mid", "best_quote", "cover_quote"]
    assert x["legs"][0]["instrument"] == "ACME270115P95" and x["quotes_received"] == 3
    assert f'id="tca-rfq-{rfq.pk}"' in page and "Model mid at request" in page and "Cover" in page


def test_an_option_parents_market_benchmarks_are_the_model_on_its_underlying_not_a_tape_of_its_own(executed, trader):
    from ems.sim.clock import SESSION_US
    from tca.figures import OptionModelMarket, day_market

    parent, rfq, put = executed
    market = day_market(put, parent.market_day)
    assert isinstance(market, OptionModelMarket)

    report = parent_report(user=trader, parent_id=parent.pk)

    b = {row["name"]: row for row in report["benchmarks"]}
    model = next(row for row in report["rfq_executions"][0]["benchmarks"] if row["name"] == "model_mid")["price"]
    assert b["interval_vwap"]["price"] is None and report["parent"]["participation"] is None  # no options tape: not made up
    for name in ("decision", "interval_twap", "close"):
        assert abs(b[name]["price"] - model) / model < Decimal("0.25"), name  # the option's own price, not its underlying's
    assert float(b["close"]["price"]) == pytest.approx(market.mid(SESSION_US), abs=1e-4)
    assert all(abs(w["bps"] or 0) < 100_000 for w in report["waterfall"])  # the shortfall in the option's prices
