import json
import math
import os
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ems.sim.clock import SESSION_MINUTES, SESSION_SECONDS, SESSION_US, US
from ems.sim.market import N_LEVELS, InstrumentParams, Market, MarketDay, market_day, volume_curve
from ems.sim.venues import DEFAULT_VENUES

ROOT = Path(__file__).resolve().parents[3]
ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
LIT_CODES = [v.code for v in DEFAULT_VENUES if v.is_lit]


def day_of(params=ACME, seed=1, day=0, venues=DEFAULT_VENUES):
    return MarketDay(params, seed, day, venues)


@pytest.mark.parametrize("vol", [0.01, 0.02, 0.04])
def test_realised_volatility_matches_daily_vol(vol):
    params = InstrumentParams("VOL", 50.0, 2_000_000, vol, 8.0)
    realised = [math.sqrt(np.sum(np.diff(day_of(params, seed, day).log_mid) ** 2)) for seed in range(8) for day in range(5)]
    assert np.mean(realised) == pytest.approx(vol, rel=0.02)


def test_daily_returns_have_daily_vol_and_days_join_up():
    days = [day_of(seed=3, day=day).log_mid for day in range(400)]
    for before, after in zip(days[:-1], days[1:], strict=True):
        assert after[0] == pytest.approx(before[-1], abs=1e-12)  # day d closes where day d + 1 opens
    closes = [path[-1] for path in days]
    assert np.std(np.diff(closes)) == pytest.approx(ACME.daily_vol, rel=0.15)


def test_volume_curve_is_u_shaped():
    w = volume_curve()
    assert len(w) == SESSION_MINUTES and w.sum() == pytest.approx(1.0)
    midday = w[150:240].mean()
    assert w[0] > 3 * midday and w[-1] > 2 * midday
    assert w[:30].sum() > w[180:210].sum() and w[-30:].sum() > w[180:210].sum()


def test_print_volume_follows_the_curve_and_averages_adv():
    per_minute = np.zeros(SESSION_MINUTES)
    totals = []
    for seed in range(80):
        pr = day_of(seed=seed, day=seed % 3).prints
        totals.append(pr.size.sum())
        np.add.at(per_minute, pr.t // (60 * US), pr.size)
    assert np.mean(totals) == pytest.approx(ACME.adv, rel=0.06)
    assert per_minute[:15].sum() > 2 * per_minute[180:195].sum()
    assert per_minute[-15:].sum() > 2 * per_minute[180:195].sum()


@pytest.mark.parametrize("adv", [40_000, 800_000, 60_000_000])
def test_print_sizes_are_whole_lots_and_volume_scales_with_adv(adv):
    params = InstrumentParams("SZ", 20.0, adv, 0.02, 10.0)
    totals = []
    for seed in range(40):
        pr = day_of(params, seed).prints
        assert np.all(pr.size > 0) and np.all(pr.size % params.lot_size == 0)
        assert np.all(np.diff(pr.t) >= 0) and pr.t[0] >= 0 and pr.t[-1] < SESSION_US
        totals.append(pr.size.sum())
    assert np.mean(totals) == pytest.approx(adv, rel=0.08)


def test_prints_split_by_lit_market_share():
    counts = np.zeros(len(LIT_CODES))
    for seed in range(10):
        counts += np.bincount(day_of(seed=seed).prints.venue, minlength=len(LIT_CODES))
    shares = np.array([v.market_share for v in DEFAULT_VENUES if v.is_lit])
    assert counts / counts.sum() == pytest.approx(shares / shares.sum(), abs=0.01)


def check_book(book, params):
    tick = params.tick_size
    assert len(book.bids) >= 5 and len(book.asks) >= 5
    assert book.best_bid.price < book.best_ask.price
    assert book.best_ask.price - book.best_bid.price >= tick - 1e-9
    for side, sign in ((book.bids, -1), (book.asks, 1)):
        prices = [lvl.price for lvl in side]
        assert all(sign * (b - a) > 0 for a, b in zip(prices[:-1], prices[1:], strict=True))  # strictly away from the touch
        assert all(lvl.size > 0 and lvl.size % params.lot_size == 0 for lvl in side)
        assert all(abs(p / tick - round(p / tick)) < 1e-6 for p in prices)


@settings(max_examples=60, deadline=None, database=None)
@given(t=st.integers(0, SESSION_US), seed=st.integers(0, 5), day=st.integers(0, 3))
def test_books_never_crossed_at_any_time(t, seed, day):
    market = Market(ACME, seed=seed, day=day)
    for code in LIT_CODES:
        book = market.snapshot(code, t)
        check_book(book, ACME)
        assert len(book.bids) == N_LEVELS
    bbo = market.bbo(t)
    assert bbo.bid < market.mid(t) < bbo.ask
    assert bbo.bid_size > 0 and bbo.ask_size > 0
    assert bbo.spread >= ACME.tick_size - 1e-9


def test_spread_is_around_the_instrument_spread_and_wider_at_the_open():
    market = Market(ACME, seed=4)
    quotes = market.quotes(0, SESSION_US, venue="XSMA")
    rel = (quotes.ask - quotes.bid) / ((quotes.ask + quotes.bid) / 2) * 1e4
    assert np.all(quotes.ask > quotes.bid)
    assert 4.0 < np.median(rel[3600:]) < 9.0  # 5 bps, plus rounding out to whole ticks on each side
    assert rel[:300].mean() > rel[3600:].mean()


def test_consolidated_quotes_never_crossed_all_day():
    for seed in range(3):
        q = Market(ACME, seed=seed).quotes(0, SESSION_US)
        assert len(q) == SESSION_SECONDS
        assert np.all(q.bid < q.ask) and np.all(q.bid_size > 0) and np.all(q.ask_size > 0)


def test_prints_trade_at_their_venues_touch():
    market = Market(ACME, seed=5)
    prints = market.prints(3_600 * US, 3_660 * US)
    assert len(prints) > 10
    for t, v, price, side in zip(prints.time, prints.venue, prints.price, prints.side, strict=True):
        book = market.snapshot(prints.venues[v], int(t))
        assert price == (book.best_ask.price if side > 0 else book.best_bid.price)


def test_same_seed_same_market_and_different_seed_differs():
    a, b, c = day_of(seed=11), day_of(seed=11), day_of(seed=12)
    a.generate_all()
    b.generate_all()
    assert np.array_equal(a.mid, b.mid) and np.array_equal(a.prints.t, b.prints.t)
    assert np.array_equal(a.depth(0), b.depth(0)) and np.array_equal(a.half, b.half)
    assert np.array_equal(a.contra(0).size, b.contra(0).size)
    assert not np.array_equal(a.mid, c.mid)


def test_a_venue_book_does_not_depend_on_the_other_venues():
    alone = day_of(venues=(DEFAULT_VENUES[1],))
    full = day_of()
    assert np.array_equal(alone.depth(0), full.depth(1))
    assert np.array_equal(alone.half[0], full.half[1])


def test_cached_and_fresh_days_agree_and_lazy_order_does_not_matter():
    cached = market_day(ACME, 21, 2, DEFAULT_VENUES)
    fresh = day_of(seed=21, day=2)
    fresh.depth(2)  # generate components in a different order
    assert np.array_equal(cached.depth(2), fresh.depth(2))
    assert np.array_equal(cached.prints.size, fresh.prints.size)


SNAPSHOT_CODE = """
import json, sys
from ems.sim.market import InstrumentParams, Market
m = Market(InstrumentParams("ACME", 100.0, 5_000_000, 0.02, 5.0), seed=42, day=7)
t = 12_345_678_901
out = {"book": [list(map(list, m.snapshot("XSMB", t).bids)), list(map(list, m.snapshot("XSMB", t).asks))],
       "bbo": [m.bbo(t).bid, m.bbo(t).ask], "mid": m.mid(t), "vwap": m.vwap(0, t)}
print(json.dumps(out))
"""


def test_another_process_computes_the_same_snapshot():
    m = Market(ACME, seed=42, day=7)
    t = 12_345_678_901
    here = {
        "book": [list(map(list, m.snapshot("XSMB", t).bids)), list(map(list, m.snapshot("XSMB", t).asks))],
        "bbo": [m.bbo(t).bid, m.bbo(t).ask],
        "mid": m.mid(t),
        "vwap": m.vwap(0, t),
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "12345"}  # a differently salted hash()
    done = subprocess.run([sys.executable, "-c", SNAPSHOT_CODE], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == json.loads(json.dumps(here))


def test_market_pickles_without_its_arrays_and_answers_the_same():
    m = Market(ACME, seed=8)
    _ = m.data.prints
    clone = pickle.loads(pickle.dumps(m))
    assert clone._data is None
    assert clone.snapshot("XSMA", 999 * US) == m.snapshot("XSMA", 999 * US)


def test_benchmarks_vwap_twap_volume_and_bars_agree():
    m = Market(ACME, seed=9)
    t0, t1 = 600 * US, 4_200 * US
    prints = m.prints(t0, t1)
    vwap = m.vwap(t0, t1)
    assert prints.price.min() <= vwap <= prints.price.max()
    assert vwap == pytest.approx(float(prints.price @ prints.size) / prints.size.sum())
    times, mids = m.mid_series(t0, t1)
    assert m.twap(t0, t1) == pytest.approx(mids.mean())
    assert m.volume(t0, t1) == prints.size.sum()
    bars = m.bars(t0, t1, 60 * US)
    assert len(bars.time) == 60 and bars.volume.sum() == prints.size.sum()
    assert np.all(bars.low <= bars.open) and np.all(bars.open <= bars.high)
    assert np.all(bars.low <= bars.close) and np.all(bars.close <= bars.high)
    assert m.vwap(t0, t0) is None
    records = prints.records()
    assert records[0]["venue"] in LIT_CODES and records[0]["side"] in ("buy", "sell")


def test_instrument_params_accept_database_types_and_refuse_nonsense():
    p = InstrumentParams("X", Decimal("12.34"), 1000, Decimal("0.015"), Decimal("7"), Decimal("0.01"), 100)
    assert isinstance(p.reference_price, float) and p.price_decimals == 2
    assert InstrumentParams("Y", 1.0, 10, 0.01, 1.0, tick_size=0.0001).price_decimals == 4
    with pytest.raises(ValueError):
        InstrumentParams("Z", 0, 1000, 0.02, 5)
