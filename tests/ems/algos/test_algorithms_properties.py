"""Property tests of the execution algorithms on the simulated venues (hypothesis; pure, no database).

Each example backtests an algorithm on a short seeded window with drawn venue latencies and profiles, so
reports interleave differently from one example to the next.
"""

import json
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.algos import ALGORITHMS, Strategy, run_backtest
from ems.algos.types import StrategyName, Urgency
from ems.sim.clock import SESSION_US, US
from ems.sim.instrument import InstrumentParams
from ems.sim.orders import Side
from ems.sim.venues import DEFAULT_VENUES

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
THIN = InstrumentParams("THIN", reference_price=25.0, adv=400_000, daily_vol=0.035, spread_bps=20.0)
ALGOS = [name for name in StrategyName if name in ALGORITHMS]
PROPS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)


@st.composite
def venue_sets(draw):
    """The default venues with drawn latencies, depth and dark-pool odds / minimums."""
    out = []
    for v in DEFAULT_VENUES:
        latency = draw(st.integers(20, 20_000))
        if v.is_lit:
            out.append(replace(v, latency_us=latency, depth_factor=draw(st.sampled_from([0.2, 0.5, 1.0, 2.0]))))
        else:
            p = draw(st.sampled_from([0.0, 0.01, 0.1, 0.5]))
            out.append(replace(v, latency_us=latency, fill_probability=p, min_size=draw(st.sampled_from([100, 500, 2_000]))))
    return tuple(out)


class Guarded(Strategy):
    """Forward to an algorithm and check the over-fill guard after every callback."""

    def __init__(self, algo):
        self.algo = algo
        self.peak = 0

    def check(self, ctx):
        a = self.algo
        committed = a.filled + a.outstanding
        self.peak = max(self.peak, committed)
        assert committed <= a.p.qty
        assert ctx.filled[a.p.side] == a.filled  # the algorithm's own books agree with the venues' fills
        json.dumps(a.state())  # the state is plain JSON at every instant

    def on_start(self, ctx):
        self.algo.on_start(ctx)
        self.check(ctx)

    def on_timer(self, ctx):
        self.algo.on_timer(ctx)
        self.check(ctx)

    def on_report(self, ctx, report):
        self.algo.on_report(ctx, report)
        self.check(ctx)

    def on_end(self, ctx):
        self.algo.on_end(ctx)
        self.check(ctx)


def make(name, instrument=ACME, **kw):
    cls = ALGORITHMS[StrategyName(name)]
    kw.setdefault("interval_s", 20.0 if name != StrategyName.DIRECT else 1.0)
    return cls(cls.Params(**kw), instrument)


@PROPS
@given(
    name=st.sampled_from(ALGOS),
    venues=venue_sets(),
    seed=st.integers(0, 10_000),
    side=st.sampled_from(list(Side)),
    adv_fraction=st.sampled_from([0.0005, 0.005, 0.02]),
    urgency=st.sampled_from(list(Urgency)),
    start_min=st.integers(0, 330),
)
def test_no_algorithm_ever_overfills_whatever_latencies_and_report_order(
    name, venues, seed, side, adv_fraction, urgency, start_min
):
    qty = max(100, int(ACME.adv * adv_fraction) // 100 * 100 + 37)  # an odd lot on top: the last child is odd
    start = start_min * 60 * US
    end = min(SESSION_US, start + 30 * 60 * US)
    guard = Guarded(make(name, side=side, qty=qty, start=start, end=end, urgency=urgency, seed=seed))
    result = run_backtest(ACME, guard, venues, seed=seed, start=start, end=end)
    assert result.filled_qty() <= qty
    assert result.filled_qty() == guard.algo.filled
    assert not [o for o in result.orders if o.is_open]  # nothing left working after the end


@PROPS
@given(
    name=st.sampled_from([StrategyName.TWAP, StrategyName.VWAP, StrategyName.IS, StrategyName.DIRECT]),
    seed=st.integers(0, 10_000),
    side=st.sampled_from(list(Side)),
    adv_fraction=st.sampled_from([0.001, 0.005]),
    start_min=st.integers(0, 330),
)
def test_every_algorithm_completes_by_its_end_time_with_market_orders(name, seed, side, adv_fraction, start_min):
    qty = int(ACME.adv * adv_fraction)
    start = start_min * 60 * US
    end = min(SESSION_US, start + 30 * 60 * US)
    algo = make(name, side=side, qty=qty, start=start, end=end, seed=seed)
    result = run_backtest(ACME, algo, seed=seed, start=start, end=end)
    assert result.filled_qty() == qty
    assert max(f.time for f in result.fills) <= end
    assert algo.s["log"][-1][1:3] == ["end", "done"]


@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), side=st.sampled_from(list(Side)))
def test_pov_completes_when_the_market_volume_allows(seed, side):
    start, end = 60 * 60 * US, 120 * 60 * US
    qty = 20_000  # ~2% of the hour's expected volume: a 10% rate gets there well before the end
    algo = make(StrategyName.POV, side=side, qty=qty, start=start, end=end, seed=seed)
    result = run_backtest(ACME, algo, seed=seed, start=start, end=end)
    assert result.filled_qty() == qty and max(f.time for f in result.fills) <= end


@PROPS
@given(
    name=st.sampled_from(ALGOS),
    seed=st.integers(0, 10_000),
    side=st.sampled_from(list(Side)),
    offset_bps=st.sampled_from([-20, -5, 0, 5, 20]),
    start_min=st.integers(0, 330),
    instrument=st.sampled_from([ACME, THIN]),
)
def test_limit_price_is_never_violated(name, seed, side, offset_bps, start_min, instrument):
    from ems.sim.market import Market

    start = start_min * 60 * US
    end = min(SESSION_US, start + 30 * 60 * US)
    arrival = Market(instrument, seed=seed).mid(start)
    # A limit around the arrival mid, on the tick grid: some fills are possible, some are not.
    limit = round(round(arrival * (1 + Side(side).sign * offset_bps / 1e4) / instrument.tick_size) * instrument.tick_size, 2)
    qty = int(instrument.adv * 0.005) // 100 * 100
    algo = make(name, instrument, side=side, qty=qty, start=start, end=end, limit_price=limit, seed=seed)
    result = run_backtest(instrument, algo, seed=seed, start=start, end=end)
    assert result.filled_qty() <= qty
    for f in result.fills:
        assert (f.price <= limit + 1e-9) if side == Side.BUY else (f.price >= limit - 1e-9)


def participation_windows(result, algo, window_us):
    fills_t = np.array([f.time for f in result.fills])
    fills_q = np.array([f.qty for f in result.fills])
    out = []
    for t in range(algo.p.start + window_us, algo.p.end + 1, 10 * 60 * US):
        vol = result.market.volume(t - window_us, t)
        ours = fills_q[(fills_t >= t - window_us) & (fills_t < t)].sum()
        out.append(ours / vol)
    return out


@settings(max_examples=4, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), side=st.sampled_from(list(Side)), rate=st.sampled_from([0.05, 0.1, 0.2]))
def test_pov_participation_stays_in_its_band_over_30_minute_windows(seed, side, rate):
    band = rate * 0.3
    start, end = 30 * 60 * US, 180 * 60 * US
    algo = make(StrategyName.POV, side=side, qty=ACME.adv, start=start, end=end, rate=rate, band=band, interval_s=30.0, seed=seed)
    result = run_backtest(ACME, algo, seed=seed, start=start, end=end)
    windows = participation_windows(result, algo, 30 * 60 * US)
    assert windows and all(rate - band <= w <= rate + band for w in windows), windows
    total = result.filled_qty() / result.market.volume(start, end)
    assert abs(total - rate) <= band / 2


SCHEDULE_TOLERANCE = 3  # x the algorithm's escalation tolerance (1% of qty by default): 3% of qty


def worst_schedule_deviation(result, algo):
    times = np.array(sorted(f.time for f in result.fills))
    qty = np.cumsum([f.qty for f in sorted(result.fills, key=lambda f: f.time)])
    worst = 0.0
    for t in range(algo.p.start, algo.p.end, 15 * US):
        k = np.searchsorted(times, t, "right")
        done = qty[k - 1] if k else 0
        worst = max(worst, abs(done - algo.target(None, t)))
    return worst


@settings(max_examples=4, deadline=None, derandomize=True)
@given(
    name=st.sampled_from([StrategyName.TWAP, StrategyName.VWAP]),
    seed=st.integers(0, 10_000),
    side=st.sampled_from(list(Side)),
    adv_fraction=st.sampled_from([0.01, 0.1]),
)
def test_twap_and_vwap_track_their_schedule_within_the_stated_tolerance(name, seed, side, adv_fraction):
    qty = int(ACME.adv * adv_fraction)
    algo = make(name, side=side, qty=qty, seed=seed, interval_s=60.0)
    result = run_backtest(ACME, algo, seed=seed)
    assert result.filled_qty() == qty
    assert worst_schedule_deviation(result, algo) <= SCHEDULE_TOLERANCE * algo.p.tolerance * qty


def fill_key(f):
    return (f.exec_id, f.venue, f.side, f.qty, f.price, f.time)


@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    name=st.sampled_from(ALGOS),
    seed=st.integers(0, 10_000),
    side=st.sampled_from(list(Side)),
    at=st.floats(0.05, 0.95),
    venues=venue_sets(),
)
def test_restore_mid_run_gives_identical_remaining_decisions_and_fills(name, seed, side, at, venues):
    start, end = 60 * 60 * US, 100 * 60 * US
    restore_at = start + int(at * (end - start))
    qty = 30_000 if name != StrategyName.DIRECT else 5_000
    a = make(name, side=side, qty=qty, start=start, end=end, seed=seed)
    b = make(name, side=side, qty=qty, start=start, end=end, seed=seed)
    straight = run_backtest(ACME, a, venues, seed=seed, start=start, end=end)
    restarted = run_backtest(ACME, b, venues, seed=seed, start=start, end=end, restore_at=restore_at)
    assert restarted.strategy is not b  # the run did swap in a restored copy
    assert [fill_key(f) for f in restarted.fills] == [fill_key(f) for f in straight.fills]
    assert restarted.reports == straight.reports
    assert restarted.strategy.state() == a.state()
