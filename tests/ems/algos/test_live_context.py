"""The live driver's pure part: a strategy worked in chunks, with everything (simulator, context, strategy)
through ``json.dumps`` between chunks and the market rebuilt from the fills so far, does exactly what one
backtest over the same window does (pure, no database)."""

import json
import random

import pytest

from ems.algos import ALGORITHMS, algo_from_state, run_backtest
from ems.algos.context import AlgoContext, decision_reason
from ems.algos.loop import drive, driver_state, pending_fills
from ems.algos.types import StrategyName
from ems.sim.clock import US
from ems.sim.exchange import VenueSimulator
from ems.sim.instrument import InstrumentParams
from ems.sim.market import Market
from ems.sim.orders import Side
from ems.sim.venues import DEFAULT_VENUES

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
START, END = 60 * 60 * US, 90 * 60 * US
PREFIX = "P7-"
SEED = 11


def make(name, **kw):
    cls = ALGORITHMS[StrategyName(name)]
    kw.setdefault("interval_s", 20.0 if name != StrategyName.DIRECT else 1.0)
    return cls(cls.Params(**kw), ACME)


def qty_for(name):
    return 40_000 if name != StrategyName.DIRECT else 6_000


def run_in_chunks(name, side, boundaries, venues=DEFAULT_VENUES):
    """Work the strategy chunk by chunk as the live driver does; return (fills, reports, sent, strategy)."""
    fills, reports, sent, cancelled = [], [], [], []
    market = Market(ACME, seed=SEED, day=3, venues=venues)
    sim = VenueSimulator(market, id_prefix=PREFIX)
    sim.advance(START)
    ctx = AlgoContext(market, sim, START, PREFIX)
    strategy = make(name, side=side, qty=qty_for(name), start=START, end=END, seed=SEED)
    ctx.algo = strategy
    strategy.on_start(ctx)
    for until in boundaries:
        # Between ticks everything is JSON; the market is rebuilt from the fills so far (booked ones and
        # those of reports still in flight, as the live driver loads them).
        saved = json.loads(json.dumps({"algo": strategy.state(), "driver": driver_state(ctx, sim)}))
        sent += ctx.sent
        cancelled += ctx.cancelled
        fills += sim.fills
        booked = [r.fill for r in reports if r.fill is not None]
        in_flight = pending_fills(saved["driver"])
        assert {f.exec_id for f in booked} | {f.exec_id for f in in_flight} == {f.exec_id for f in fills}
        market = Market(ACME, seed=SEED, day=3, venues=venues, fills=fills)
        sim = VenueSimulator.from_state(market, saved["driver"]["sim"], id_prefix=PREFIX)
        ctx = AlgoContext.from_state(market, sim, saved["driver"]["ctx"], prefix=PREFIX)
        strategy = algo_from_state(saved["algo"])
        ctx.algo = strategy
        run = drive(strategy, ctx, sim, until, end=END)
        reports += run.reports
    sent += ctx.sent
    cancelled += ctx.cancelled
    fills += sim.fills
    return fills, reports, sent, cancelled, strategy, ctx, sim


def boundaries(seed, n=40):
    r = random.Random(seed)
    points = sorted(START + int(r.random() * (END - START + 5 * US)) for _ in range(n))
    points.insert(n // 2, points[n // 2])  # a duplicate tick: advances nothing
    return points + [END + 10 * US]


def fill_key(f):
    return (f.exec_id, f.order_id, f.client_order_id, f.venue, f.side, f.qty, f.price, f.liquidity, f.fee, f.time)


@pytest.mark.parametrize("name", list(ALGORITHMS))
@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_live_chunks_give_exactly_the_backtest(name, side):
    straight = run_backtest(
        ACME, make(name, side=side, qty=qty_for(name), start=START, end=END, seed=SEED),
        seed=SEED, day=3, start=START, end=END, id_prefix=PREFIX,
    )
    fills, reports, sent, cancelled, strategy, ctx, sim = run_in_chunks(name, side, boundaries(len(name) * 7 + (side == Side.SELL)))
    assert straight.fills, "the window should trade"
    assert [fill_key(f) for f in fills] == [fill_key(f) for f in straight.fills]
    assert reports == straight.reports
    # The child orders: the same venue order ids, client ids, venues and sizes, in the same order.
    assert [(s.order_id, s.req.client_order_id, s.req.venue, s.req.qty) for s in sent] == [
        (o.order_id, o.client_order_id, o.venue, o.qty) for o in straight.orders
    ]
    assert strategy.state() == straight.strategy.state()
    assert ctx.ended and not sim.busy
    assert all(s.reason for s in sent)  # every child carries the decision that sent it
    assert {c for c, _ in cancelled} <= {s.order_id for s in sent}


def test_state_drops_done_orders_but_never_reuses_an_order_id():
    fills, reports, sent, cancelled, strategy, ctx, sim = run_in_chunks(StrategyName.TWAP, Side.BUY, boundaries(5))
    state = sim.state()
    assert state["orders"] == []  # everything done and delivered: nothing kept
    assert state["n"] == len(sent)
    ids = [s.order_id for s in sent]
    assert len(ids) == len(set(ids))
    exec_ids = [f.exec_id for f in fills]
    assert len(exec_ids) == len(set(exec_ids))


def test_decision_reason_reads_the_latest_log_entry():
    algo = make(StrategyName.TWAP, side=Side.BUY, qty=1_000, start=START, end=END)
    assert decision_reason(algo) == ""
    assert decision_reason(None) == ""
    algo.s["log"].append([START, "passive", "on_schedule_passive", {}])
    assert decision_reason(algo) == "passive:on_schedule_passive"
