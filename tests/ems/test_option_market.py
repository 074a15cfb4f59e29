"""The simulated options market seen from the database (issue 22, item 2): option prices from the underlying's
mid, written beside the equities' by the refresh; the chain page's figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ems.option_market import option_quote_now, option_ticks, years_to_expiry
from ems.selectors import option_chain
from ems.sim.options import bsm_price
from ems.tasks import market_prices_refresh
from oms.demo import seed_option_chains
from oms.models import Instrument, MarketPrice

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)


@pytest.fixture
def chain(instrument):
    seed_option_chains(NOW.date(), ("ACME",))
    instrument.refresh_from_db()
    return instrument


def test_an_option_is_priced_off_its_underlying_with_the_surface_and_the_model(chain, settings):
    put = Instrument.objects.get(symbol="ACME270115P95")
    q = option_quote_now(put, chain, Decimal("100"), NOW)
    t = years_to_expiry(put, NOW)
    assert t == pytest.approx((datetime(2027, 1, 15, 21, tzinfo=UTC) - NOW).total_seconds() / (365 * 86400))
    assert q.mid == pytest.approx(bsm_price(100, 95, t, q.vol, "put", rate=settings.OPTIONS_RATE))
    assert q.bid < q.mid < q.ask and q.greeks.delta < 0
    # The skew: the out-of-the-money put is priced at a higher volatility than the at-the-money one.
    assert q.vol > option_quote_now(Instrument.objects.get(symbol="ACME270115P100"), chain, Decimal("100"), NOW).vol


def test_option_ticks_follow_the_spot_and_skip_expired_options(chain):
    options = list(Instrument.objects.filter(underlying=chain).select_related("underlying"))
    low = {t.instrument_id: t for t in option_ticks(options, {chain.id: Decimal("95")}, NOW)}
    high = {t.instrument_id: t for t in option_ticks(options, {chain.id: Decimal("105")}, NOW)}
    call = Instrument.objects.get(symbol="ACME270115C100")
    assert high[call.id].mid > low[call.id].mid
    after_december = datetime(2026, 12, 19, tzinfo=UTC)
    left = option_ticks(options, {chain.id: Decimal("100")}, after_december)
    assert len(left) == 36 and all(Instrument.objects.get(pk=t.instrument_id).expiry > date(2026, 12, 18) for t in left)
    assert option_ticks(options, {}, NOW) == []  # no underlying price: no option price


def test_the_refresh_writes_option_prices_beside_the_equities(chain, venues, clock):
    market_prices_refresh()
    underlying = MarketPrice.objects.get(instrument=chain)
    put = MarketPrice.objects.get(instrument__symbol="ACME270115P95")
    assert put.as_of == underlying.as_of and 0 <= put.bid < put.ask


def test_the_chain_lists_each_expiry_by_strike_with_both_sides(chain):
    view = option_chain(chain, now=NOW)
    assert view["spot"] == Decimal("100.00")  # no market price yet: the reference price
    assert [e.expiry for e in view["expiries"]] == [date(2026, 12, 18), date(2027, 1, 15), date(2027, 2, 19)]
    rows = view["expiries"][0].rows
    assert [r.strike for r in rows] == [Decimal(80 + 5 * k) for k in range(9)]
    assert all(r.call[0].option_type == "call" and r.put[0].option_type == "put" for r in rows)
    deltas = [r.call[1].greeks.delta for r in rows]
    assert deltas == sorted(deltas, reverse=True)  # calls: delta falls with the strike


def test_a_pms_option_order_joins_a_parent_worked_by_rfq_with_its_reason(market, submit, chain):
    """Issue 22, item 4: a listed option is worked by RFQ whatever its size or the strategy asked for."""
    from ems.models import ParentOrder
    from ems.services.aggregation import aggregation_cycle
    from oms.roles import Actor

    put = submit("buy", 500, instrument="ACME270115P95", strategy="vwap", limit_price="5.00")

    aggregation_cycle(actor=Actor.system("aggregation"))

    parent = ParentOrder.objects.get(constituents__order=put)
    assert parent.strategy == "rfq"
    assert "a listed option" in parent.selection_reason and "VWAP cannot apply" in parent.selection_reason


def test_option_positions_carry_their_greeks_and_add_up_by_underlying(chain, portfolio):
    from ems.selectors import greeks_by_underlying, position_list, position_marks
    from tests.ems import factories as f

    put = Instrument.objects.get(symbol="ACME270115P95")
    call = Instrument.objects.get(symbol="ACME270115C105")
    f.position(portfolio=portfolio, instrument=chain, quantity=1_000, avg_cost="100.00")
    f.position(portfolio=portfolio, instrument=put, quantity=20, avg_cost="1.50")
    f.position(portfolio=portfolio, instrument=call, quantity=-10, avg_cost="3.00")
    user = portfolio.members.first()

    rows = {r["position"].instrument.symbol: r for r in position_marks(position_list(user=user), now=NOW)}

    put_row = rows["ACME270115P95"]
    g = option_quote_now(put, chain, Decimal("100.00"), NOW).greeks  # no market price yet: the reference price
    assert put_row["greeks"]["delta"] == pytest.approx(g.delta * 20 * 100)
    # No venue price yet: marked at the model's value.
    assert put_row["mark"] == Decimal(f"{option_quote_now(put, chain, Decimal('100.00'), NOW).mid:.4f}")
    assert put_row["market_value"] == put_row["mark"] * 20 * 100
    assert rows["ACME"]["greeks"] is None
    [total] = greeks_by_underlying(list(rows.values()))
    assert (total["portfolio"], total["underlying"], total["contracts"], total["shares"]) == (portfolio.code, "ACME", 10, 1_000)
    assert total["net_delta"] == pytest.approx(1_000 + put_row["greeks"]["delta"] + rows["ACME270115C105"]["greeks"]["delta"])
    assert total["vega"] == pytest.approx(put_row["greeks"]["vega"] + rows["ACME270115C105"]["greeks"]["vega"])
