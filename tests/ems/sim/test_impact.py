import math

import numpy as np
import pytest

from ems.algos.backtest import Strategy, run_backtest
from ems.sim.clock import SESSION_US, US
from ems.sim.exchange import VenueSimulator
from ems.sim.impact import ASK, BID, Footprint, ImpactParams, ImpactState, walk_book
from ems.sim.market import InstrumentParams, Market
from ems.sim.orders import Liquidity, OrderRequest, Side
from ems.sim.venues import DEFAULT_VENUES

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
P = ImpactParams()


def temp_formula(x: float) -> float:
    return P.eta * 0.02 * (math.sqrt(x + P.linear_below) - math.sqrt(P.linear_below))


def test_buying_raises_impact_after_the_fill_and_selling_mirrors_it():
    buy, sell = ImpactState(0.02, 1_000_000), ImpactState(0.02, 1_000_000)
    buy.add(10 * US, 10_000)
    sell.add(10 * US, -10_000)
    assert buy.at(10 * US) == 0.0  # the fill's own instant still shows the price it traded at
    assert buy.at(10 * US + 1) > 0
    assert sell.at(10 * US + 1) == pytest.approx(-buy.at(10 * US + 1))


def test_temporary_impact_decays_with_its_half_life_and_permanent_stays():
    state = ImpactState(0.02, 1_000_000, P)
    state.add(0, 50_000)  # 5% of ADV at once
    perm0, temp0 = state.components(1)
    assert perm0 == pytest.approx(P.gamma * 0.02 * 0.05)
    assert temp0 == pytest.approx(temp_formula(0.05), rel=1e-6)
    half = int(P.half_life_s * US)
    perm1, temp1 = state.components(half)
    assert perm1 == perm0
    assert temp1 == pytest.approx(temp_formula(0.025), rel=1e-6)
    _, temp_late = state.components(10 * half)
    assert temp_late < 0.01 * temp0


def test_quick_meta_orders_follow_the_square_root_law():
    impacts = []
    for q in (20_000, 80_000, 320_000):
        state = ImpactState(0.02, 1_000_000)
        state.add(0, q)
        impacts.append(state.components(1)[1])
    assert 1.8 < impacts[1] / impacts[0] < 2.2 and 1.8 < impacts[2] / impacts[1] < 2.2
    # ... and a lone small order barely moves the price (linear regime below x0).
    small = ImpactState(0.02, 5_000_000)
    small.add(0, 100)
    assert small.at(1) < 0.5e-4


def test_vectorised_impact_matches_scalar_and_order_is_enforced():
    state = ImpactState(0.02, 1_000_000)
    for k, q in enumerate([500, -200, 3_000, 1_000]):
        state.add(k * 60 * US, q)
    ts = np.array([0, 1, 59 * US, 60 * US, 61 * US, 400 * US, SESSION_US])
    assert state.at_many(ts) == pytest.approx([state.at(int(t)) for t in ts])
    with pytest.raises(ValueError):
        state.add(0, 100)


def test_taken_depth_refills_with_the_venue_half_life():
    fp = Footprint(ACME, DEFAULT_VENUES)
    t = 100 * US
    fp.record(t, "XSMA", Side.BUY, 1_000, 100.05, Liquidity.TAKER)
    fp.record(t, "XSMA", Side.SELL, 300, 99.95, Liquidity.MAKER)  # a maker fill takes nothing
    assert fp.taken(0, ASK, t) == {10005: pytest.approx(1_000)}
    assert fp.taken(0, BID, t) == {}
    half = int(DEFAULT_VENUES[0].refill_half_life_s * US)
    assert fp.taken(0, ASK, t + half)[10005] == pytest.approx(500)
    assert fp.taken(0, ASK, t - 1) == {}


def test_dark_fills_leak_less():
    lit, dark = Footprint(ACME, DEFAULT_VENUES), Footprint(ACME, DEFAULT_VENUES)
    lit.record(0, "XSMA", Side.BUY, 5_000, 100.0, Liquidity.TAKER)
    dark.record(0, "DRKB", Side.BUY, 5_000, 100.0, Liquidity.MID)
    assert 0 < dark.impact.at(1) < lit.impact.at(1)


def test_walk_book_takes_levels_best_first_up_to_the_limit():
    asks = [(100, 300), (101, 500), (102, 1_000)]
    assert walk_book(asks, 600, None, Side.BUY) == [(100, 300), (101, 300)]
    assert walk_book(asks, 5_000, 101, Side.BUY) == [(100, 300), (101, 500)]
    assert walk_book(asks, 5_000, 99, Side.BUY) == []
    bids = [(99, 200), (98, 400)]
    assert walk_book(bids, 1_000, 99, Side.SELL) == [(99, 200)]
    assert walk_book(bids, 1_000, None, Side.SELL) == [(99, 200), (98, 400)]


def test_buying_a_lot_moves_later_mids_up_and_the_temporary_part_decays():
    m = Market(ACME, seed=2)
    sim = VenueSimulator(m)
    t0 = 3_600 * US
    for k in range(20):  # 20 x 3 x 5,000 = 300,000 shares (6% of ADV) in ~3 minutes
        t = t0 + k * 10 * US
        sim.advance(t)
        for code in ("XSMA", "XSMB", "XSMI"):
            sim.submit(OrderRequest(code, Side.BUY, 5_000, "market", tif="ioc"), t)
    sim.advance(t0 + 300 * US)
    bought = sum(f.qty for f in sim.fills)
    assert bought > 200_000

    def lift(t):
        return math.log(m.mid(t) / m.data.mid[t // US])

    just_after = lift(t0 + 300 * US)
    assert just_after > 0.5 * temp_formula(bought / ACME.adv)
    later = lift(t0 + 300 * US + 2 * int(P.half_life_s * US))
    assert 0 < later < 0.5 * just_after
    assert later > P.gamma * 0.02 * bought / ACME.adv * 0.99  # the permanent part stays


class EvenTaker(Strategy):
    """Buy ``qty`` evenly, one marketable IOC per lit venue each minute."""

    def __init__(self, qty):
        self.qty = qty

    def on_start(self, ctx):
        ctx.set_timer(60)
        self.on_timer(ctx)

    def on_timer(self, ctx):
        left = self.qty - ctx.filled[Side.BUY] - sum(r.qty for r in ctx.open_orders.values())
        minutes = max(1, math.ceil((SESSION_US - ctx.now) / (60 * US)))
        slice_qty = min(left, math.ceil(left / minutes / 100) * 100)
        for code, book in ctx.snapshots().items():
            share = slice_qty // 3
            if share > 0:
                ctx.place(code, Side.BUY, share, price=round(book.best_ask.price + 0.02, 2), tif="ioc")


def test_buying_ten_percent_of_adv_costs_about_sigma_root_ten_percent():
    result = run_backtest(ACME, EvenTaker(ACME.adv // 10), seed=5)
    assert result.filled_qty(Side.BUY) > 0.95 * ACME.adv // 10
    q = np.array([f.qty for f in result.fills])
    px = np.array([f.price for f in result.fills])
    base = result.market.data.mid[np.array([f.time for f in result.fills]) // US]
    cost = float(q @ (px - base) / (q @ base))  # against the impact-free mid at the same instants
    target = ACME.daily_vol * math.sqrt(0.1)
    assert 0.4 * target < cost < 2.0 * target


def test_market_rebuilt_from_our_fills_is_the_market_we_traded_in():
    result = run_backtest(ACME, EvenTaker(200_000), seed=8, start=0, end=1_800 * US)
    rebuilt = Market(ACME, seed=8, fills=result.fills)  # e.g. a web process reading fills from the database
    for t in range(0, 1_800 * US, 97 * US):
        assert rebuilt.mid(t) == result.market.mid(t)
        assert rebuilt.bbo(t) == result.market.bbo(t)
        assert rebuilt.snapshot("XSMI", t) == result.market.snapshot("XSMI", t)
    assert rebuilt.mid(1_000 * US) != Market(ACME, seed=8).mid(1_000 * US)
