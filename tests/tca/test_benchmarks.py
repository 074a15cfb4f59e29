"""Benchmarks read off the deterministic market (pure: no database), checked against hand sums over its tape."""

import pytest

from ems.sim.clock import SESSION_US, US
from ems.sim.market import InstrumentParams, Market
from ems.sim.orders import Fill, Liquidity, Side
from tca.benchmarks import fill_benchmarks, parent_benchmarks
from tca.measures import MARKOUT_HORIZONS_S, markout_bps

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
SEED, DAY = 5, 3
START, END = 3_600 * US, 5_400 * US
approx = pytest.approx


def market(fills=(), day=DAY):
    return Market(ACME, seed=SEED, day=day, fills=fills)


def our_buys(n=20, qty=5_000, price=150.0):
    """Large buys of ours spread over the window, at a price no market print comes near."""
    step = (END - START) // n
    return [Fill(f"X-{k}", f"O-{k}", f"C-{k}", "XSMA", Side.BUY, qty, price, Liquidity.TAKER, 0.0, START + k * step + 17, DAY)
            for k in range(n)]


def hand_vwap(m, t0, t1):
    rows = m.prints(t0, t1).records()
    return sum(r["price"] * r["size"] for r in rows) / sum(r["size"] for r in rows)


def test_interval_vwap_is_the_hand_sum_over_the_market_prints_in_the_window():
    m = market(our_buys())
    b = parent_benchmarks(m, None, start_us=START, end_us=END, arrival=100.0)
    assert b.interval_vwap == approx(hand_vwap(m, START, END), rel=1e-12)
    assert b.market_volume == sum(r["size"] for r in m.prints(START, END).records())


def test_interval_vwap_excludes_our_fills_but_includes_their_impact():
    ours = our_buys()
    clean, traded = market(), market(ours)
    a, b = clean.prints(START, END), traded.prints(START, END)
    # The same prints (times, sizes, venues, sides): our 100,000 shares add none to the tape...
    assert len(a) == len(b) and (a.time == b.time).all() and (a.size == b.size).all() and (a.venue == b.venue).all()
    ba = parent_benchmarks(clean, None, start_us=START, end_us=END, arrival=100.0)
    bb = parent_benchmarks(traded, None, start_us=START, end_us=END, arrival=100.0)
    assert ba.market_volume == bb.market_volume == int(a.size.sum())
    # ...and our 150.00 prints are not averaged in (they would drag the VWAP far up)...
    with_ours = (float(b.price @ b.size) + sum(f.qty * f.price for f in ours)) / (int(b.size.sum()) + sum(f.qty for f in ours))
    assert bb.interval_vwap < 101.0 < with_ours
    # ...but the impact of our buying lifts the other participants' prices.
    assert bb.interval_vwap > ba.interval_vwap


def test_interval_twap_is_the_mean_mid_over_the_whole_seconds_of_the_window():
    m = market(our_buys())
    t0, t1 = START + US // 2, START + 20 * US  # whole seconds 3601 .. 3619
    b = parent_benchmarks(m, None, start_us=t0, end_us=t1, arrival=100.0)
    mids = [m.mid(s * US) for s in range(3_601, 3_620)]
    assert b.interval_twap == approx(sum(mids) / len(mids), rel=1e-12)


def test_open_close_previous_close_end_price_and_arrival():
    m, prev = market(our_buys()), market(day=DAY - 1)
    b = parent_benchmarks(m, prev, start_us=START, end_us=END, arrival=99.87)
    assert b.open == m.prints(0, SESSION_US).price[0]
    assert b.close == m.mid(SESSION_US)
    assert b.prev_close == prev.mid(SESSION_US)
    assert b.end_price == m.mid(END)
    assert b.arrival == 99.87
    # Days join up: without our trading, yesterday's close is today's opening mid.
    assert b.prev_close == approx(market().mid(0), rel=1e-12)
    assert parent_benchmarks(m, None, start_us=START, end_us=END, arrival=99.87).prev_close is None


def test_an_empty_window_has_no_vwap_and_a_reversed_one_is_refused():
    m = market()
    b = parent_benchmarks(m, None, start_us=START, end_us=START, arrival=100.0)
    assert b.interval_vwap is None and b.market_volume == 0 and b.interval_twap == m.mid(START)
    with pytest.raises(ValueError):
        parent_benchmarks(m, None, start_us=END, end_us=START, arrival=100.0)


def test_markouts_are_read_at_each_horizon_and_capped_at_the_close():
    m = market(our_buys())
    t = SESSION_US - 30 * US
    fb = fill_benchmarks(m, side="sell", price=100.0, time_us=t)
    assert set(fb.markouts) == set(MARKOUT_HORIZONS_S)
    assert fb.markouts[1] == approx(markout_bps("sell", 100.0, m.mid(t + US)))
    assert fb.markouts[10] == approx(markout_bps("sell", 100.0, m.mid(t + 10 * US)))
    close = markout_bps("sell", 100.0, m.mid(SESSION_US))
    assert fb.markouts[60] == approx(close) and fb.markouts[300] == approx(close)


@pytest.mark.parametrize(
    ("side", "touch", "expected"),
    [("buy", "bid", 1.0), ("buy", "mid", 0.0), ("buy", "ask", -1.0), ("sell", "ask", 1.0), ("sell", "bid", -1.0)],
)
def test_spread_capture_against_the_consolidated_quote(side, touch, expected):
    m = market()
    t = START + 123_456
    q = m.bbo(t - 1)
    price = {"bid": q.bid, "ask": q.ask, "mid": q.mid}[touch]
    fb = fill_benchmarks(m, side=side, price=price, time_us=t)
    assert fb.spread_capture == approx(expected)
    assert fb.spread_bps == approx((q.ask - q.bid) / q.mid * 1e4)
    assert fb.mid == m.mid(t)
    assert fb.effective_spread_bps == approx(2 * abs(price - m.mid(t)) / m.mid(t) * 1e4)


def test_spread_capture_uses_the_quote_the_fill_met_not_the_depth_it_took():
    t = START + 654_321
    q = market().bbo(t - 1)
    # We take the whole best offer on every venue showing it: the rebuilt market then shows a higher ask at t.
    sweep = [Fill(f"S-{v}", f"O-{v}", f"C-{v}", v, Side.BUY, market().snapshot(v, t).best_ask.size, q.ask, Liquidity.TAKER, 0.0, t, DAY)
             for v in q.ask_venues]
    traded = market(sweep)
    assert traded.bbo(t).ask > q.ask
    fb = fill_benchmarks(traded, side="buy", price=q.ask, time_us=t)
    assert fb.spread_capture == approx(-1.0)
    assert fb.mid == market().mid(t)  # the mid at the fill excludes the fill's own impact
