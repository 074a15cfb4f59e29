"""What-if replay on the same market path (pure: no database): the same algorithm and parameters give the
original fills exactly; another algorithm or other parameters give other fills."""

import json

import pytest

from ems.algos import ALGORITHMS, algo_from_state, run_backtest
from ems.algos.context import AlgoContext
from ems.algos.loop import drive, driver_state
from ems.algos.types import StrategyName, Urgency
from ems.sim.clock import US
from ems.sim.exchange import VenueSimulator
from ems.sim.market import InstrumentParams, Market
from ems.sim.orders import Fill, Liquidity, Side
from tca.replay import replay

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
SEED, DAY = 11, 2
START, END = 60 * 60 * US, 80 * 60 * US
PREFIX = "P42-"


def params_for(name, side=Side.BUY, **kw):
    cls = ALGORITHMS[StrategyName(name)]
    qty = 6_000 if name == StrategyName.DIRECT else 30_000
    kw.setdefault("interval_s", 1.0 if name == StrategyName.DIRECT else 20.0)
    return cls.Params(side=side, qty=qty, start=START, end=END, seed=SEED, **kw).to_dict()


def original(name, params):
    cls = ALGORITHMS[StrategyName(name)]
    algo = cls(cls.Params.from_dict(params), ACME)
    return run_backtest(ACME, algo, seed=SEED, day=DAY, start=START, end=END, id_prefix=PREFIX).fills


def market(fills=()):
    return Market(ACME, seed=SEED, day=DAY, fills=fills)


def what_if(name, params, m=None):
    return replay(market() if m is None else m, name, params, id_prefix=PREFIX, start_us=START, end_us=END)


@pytest.mark.parametrize(
    ("name", "side"),
    [(StrategyName.TWAP, Side.BUY), (StrategyName.VWAP, Side.SELL), (StrategyName.POV, Side.BUY),
     (StrategyName.IS, Side.SELL), (StrategyName.DIRECT, Side.BUY)],
)
def test_replay_of_the_same_algorithm_and_parameters_reproduces_the_fills_exactly(name, side):
    params = params_for(name, side)
    fills = original(name, params)
    assert fills
    replayed = what_if(name, params)
    assert replayed == fills  # every field: exec id, venue order id, venue, side, qty, price, liquidity, fee, time
    assert all(f.exec_id.startswith(PREFIX) for f in replayed)


def test_another_algorithm_or_other_parameters_give_other_fills():
    twap = what_if(StrategyName.TWAP, params_for(StrategyName.TWAP))
    vwap = what_if(StrategyName.VWAP, params_for(StrategyName.VWAP))
    urgent = what_if(StrategyName.TWAP, params_for(StrategyName.TWAP, urgency=Urgency.HIGH, dark=False))
    key = [(f.time, f.venue, f.qty, f.price) for f in twap]
    assert key != [(f.time, f.venue, f.qty, f.price) for f in vwap]
    assert key != [(f.time, f.venue, f.qty, f.price) for f in urgent]
    assert not any(f.venue.startswith("DRK") for f in urgent)


def test_replay_is_deterministic_and_leaves_the_market_untouched():
    m = market()
    params = params_for(StrategyName.IS)
    first = what_if(StrategyName.IS, params, m)
    second = what_if(StrategyName.IS, params, m)
    assert first and first == second
    assert len(m.footprint.impact) == 0  # the replay traded on a copy


def others_in_window(n=10, qty=20_000):
    """Another parent of ours buying heavily through the window (odd microseconds: no tie with our events)."""
    return [Fill(f"Q-{k}", f"O-{k}", f"C-{k}", "XSMA", Side.BUY, qty, 100.0, Liquidity.TAKER, 0.0, START + k * 120 * US + 7_777, DAY)
            for k in range(n)]


def test_our_other_fills_on_the_day_are_part_of_the_path():
    others = others_in_window()
    params = params_for(StrategyName.TWAP)
    clean = what_if(StrategyName.TWAP, params)
    pushed = replay(market([f for f in others if f.time <= START]), StrategyName.TWAP, params, id_prefix=PREFIX,
                    start_us=START, end_us=END, later_fills=[f for f in others if f.time > START])
    avg = lambda fills: sum(f.qty * f.price for f in fills) / sum(f.qty for f in fills)  # noqa: E731
    assert avg(pushed) > avg(clean)  # the other parent's buying lifted the prices we paid
    # Why later fills go apart: a market's footprint takes fills in time order only.
    with pytest.raises(ValueError, match="time order"):
        what_if(StrategyName.TWAP, params, market(others))


def test_replay_with_later_fills_matches_the_live_driver_finding_them_tick_by_tick():
    """The live driver rebuilds the market at each tick from the fills booked so far (ours and the other
    parent's, up to the simulator's time): ticks at the other parent's fill times see each one as it comes."""
    others = others_in_window()
    params = params_for(StrategyName.VWAP, Side.SELL)
    cls = ALGORITHMS[StrategyName.VWAP]
    m = market([f for f in others if f.time <= START])
    sim = VenueSimulator(m, id_prefix=PREFIX)
    sim.advance(START)
    ctx = AlgoContext(m, sim, START, PREFIX)
    strategy = cls(cls.Params.from_dict(params), ACME)
    strategy.on_start(ctx)
    ours = []
    for tick in sorted({f.time for f in others if f.time > START}) + [END + 10 * US]:
        saved = json.loads(json.dumps({"algo": strategy.state(), "driver": driver_state(ctx, sim)}))
        ours += sim.fills
        m = market([f for f in others if f.time <= sim.time] + ours)
        sim = VenueSimulator.from_state(m, saved["driver"]["sim"], id_prefix=PREFIX)
        ctx = AlgoContext.from_state(m, sim, saved["driver"]["ctx"], prefix=PREFIX)
        strategy = algo_from_state(saved["algo"])
        drive(strategy, ctx, sim, tick, end=END)
    ours += sim.fills
    replayed = replay(market([f for f in others if f.time <= START]), StrategyName.VWAP, params, id_prefix=PREFIX,
                      start_us=START, end_us=END, later_fills=[f for f in others if f.time > START])
    assert ours and replayed == ours
    assert replayed != what_if(StrategyName.VWAP, params)


def test_replay_refuses_what_is_not_an_algorithm_and_a_bad_window():
    params = params_for(StrategyName.TWAP)
    with pytest.raises(ValueError):
        replay(market(), "rfq", params, id_prefix=PREFIX, start_us=START, end_us=END)
    with pytest.raises(ValueError):
        replay(market(), "nope", params, id_prefix=PREFIX, start_us=START, end_us=END)
    with pytest.raises(ValueError):
        replay(market(), "twap", params, id_prefix=PREFIX, start_us=END, end_us=START)
