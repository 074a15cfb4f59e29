"""The execution algorithms: registry, parameters and state as JSON, schedules, the decision log and the
recalibration rules, single-venue mode and DIRECT through the router (pure; no database)."""

import ast
import json
from dataclasses import replace
from pathlib import Path

import pytest

import ems.algos as algos_pkg
from ems.algos import ALGORITHMS, AlgoContext, Strategy, algo_from_state, run_backtest
from ems.algos import almgren_chriss as ac
from ems.algos.base import LOG_MAX
from ems.algos.context import DRIVER_API, STRATEGY_API, expected_volume_share
from ems.algos.direct import Direct, DirectParams
from ems.algos.is_ import IS, ISParams
from ems.algos.twap import TWAP, TWAPParams
from ems.algos.types import StrategyName, Urgency
from ems.algos.vwap import VWAP, VWAPParams
from ems.sim.clock import SESSION_US, US
from ems.sim.exchange import VenueSimulator
from ems.sim.instrument import InstrumentParams
from ems.sim.market import Market
from ems.sim.venues import DEFAULT_VENUES

ACME = InstrumentParams("ACME", reference_price=100.0, adv=5_000_000, daily_vol=0.02, spread_bps=5.0)
HOUR = 3_600 * US


def test_registry_maps_every_algorithm_strategy_name_and_leaves_rfq_and_auto_to_others():
    # RFQ runs on the RFQ platform; AUTO is resolved by the selection matrix before an algorithm starts.
    assert set(ALGORITHMS) == set(StrategyName) - {StrategyName.RFQ, StrategyName.AUTO}
    for name, cls in ALGORITHMS.items():
        assert cls.name is name


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_params_and_state_round_trip_through_json(name):
    cls = ALGORITHMS[name]
    params = cls.Params(side="sell", qty=12_345, start=HOUR, end=2 * HOUR, limit_price=99.5, urgency="high", seed=3)
    assert cls.Params.from_dict(json.loads(json.dumps(params.to_dict()))) == params
    algo = cls(params, ACME)
    result = run_backtest(ACME, algo, seed=1, start=HOUR, end=2 * HOUR)
    state = json.loads(json.dumps(algo.state()))
    again = algo_from_state(state)
    assert type(again) is cls and again.p == params and again.instrument == ACME
    assert again.state() == algo.state()
    assert again.filled == algo.filled == result.filled_qty()


def test_params_refuse_an_empty_window_or_quantity():
    with pytest.raises(ValueError):
        TWAPParams(side="buy", qty=0)
    with pytest.raises(ValueError):
        VWAPParams(side="buy", qty=100, start=HOUR, end=HOUR)


def test_twap_schedule_is_an_even_line_from_start_to_end():
    algo = TWAP(TWAPParams(side="buy", qty=39_000, start=0, end=SESSION_US, interval_s=60.0), ACME)
    sched = algo.schedule()
    assert sched[0] == (0, 0) and sched[-1] == (SESSION_US, 39_000)
    assert len(sched) == 391
    assert all(q == 100 * k for k, (_, q) in enumerate(sched))


def test_vwap_schedule_follows_the_expected_volume_curve_known_before_the_day():
    algo = VWAP(VWAPParams(side="buy", qty=100_000), ACME)
    sched = dict(algo.schedule())
    # the U-shape: the first half hour carries much more than its 1/13 of the day, the midday much less
    assert sched[1_800 * US] == round(100_000 * expected_volume_share(0, 1_800 * US))
    assert sched[1_800 * US] > 100_000 / 13 * 1.5
    assert sched[12_600 * US] - sched[10_800 * US] < 100_000 / 13
    # built before the day from the curve: the same whatever the day or seed it will trade on
    assert VWAP(VWAPParams(side="buy", qty=100_000, seed=9), ACME).schedule() == algo.schedule()


def test_is_schedule_is_the_almgren_chriss_trajectory_front_loaded_by_urgency():
    params = ISParams(side="sell", qty=200_000, start=0, end=2 * HOUR, interval_s=60.0)
    algo = IS(params, ACME)
    model = ac.calibrate(ACME, qty=200_000, horizon_s=7_200.0)
    holdings = ac.trajectory(model, 200_000, 7_200.0, 120, ac.risk_aversion(Urgency.MEDIUM))
    assert [q for _, q in algo.schedule()] == [round(200_000 - x) for x in holdings]
    expected, variance = algo.expected_cost()
    assert expected == pytest.approx(ac.expected_cost(model, holdings, 60.0))
    assert variance == pytest.approx(ac.cost_variance(model, holdings, 60.0))

    def done_at_half(urgency):
        return dict(IS(replace(params, urgency=urgency), ACME).schedule())[HOUR]

    assert done_at_half(Urgency.LOW) < done_at_half(Urgency.MEDIUM) < done_at_half(Urgency.HIGH)
    assert done_at_half(Urgency.MEDIUM) > 100_000  # front-loaded: more than half done at half time


def test_decision_log_is_bounded_and_every_entry_is_machine_readable():
    algo = VWAP(VWAPParams(side="buy", qty=50_000, interval_s=30.0), ACME)
    run_backtest(ACME, algo, seed=2)
    log = algo.decisions
    assert len(log) == LOG_MAX < algo.s["log_n"]
    for t, action, code, numbers in log:
        assert isinstance(t, int) and action.isidentifier() and code.isidentifier()
        assert all(isinstance(v, (int, float, str, type(None))) for v in numbers.values())
    assert log[-1][1:3] == ["end", "done"]


def full_log(algo, instrument=ACME, venues=DEFAULT_VENUES, **kw):
    run_backtest(instrument, algo, venues, **kw)
    assert algo.s["log_n"] == len(algo.decisions)  # nothing dropped: the whole run is checked
    return algo.decisions


def test_behind_schedule_crosses_then_sweeps_and_never_escalates_on_schedule():
    # HIGH urgency IS over half an hour: the front-loaded start leaves the passive slices behind.
    algo = IS(ISParams(side="buy", qty=60_000, start=HOUR, end=HOUR + 1_800 * US, interval_s=20.0, urgency="high"), ACME)
    log = full_log(algo, seed=4, start=HOUR, end=HOUR + 1_800 * US)
    tol = algo.tol_qty()
    by_code = {}
    for _, _action, code, numbers in log:
        by_code.setdefault(code, []).append(numbers)
    assert by_code["behind_cross_spread"] and by_code["far_behind_sweep"]
    assert all(tol < n["behind"] <= 2 * tol for n in by_code["behind_cross_spread"])
    assert all(n["behind"] > 2 * tol for n in by_code["far_behind_sweep"])
    assert all(n["behind"] <= tol for n in by_code["on_schedule_passive"])


def test_ahead_of_schedule_cancels_the_resting_orders():
    # A dark pool with contra every second fills the pegs at once: TWAP gets ahead and must slow down.
    venues = tuple(replace(v, fill_probability=1.0, market_share=0.5) if v.code == "DRKB" else v for v in DEFAULT_VENUES)
    algo = TWAP(TWAPParams(side="buy", qty=40_000, start=HOUR, end=2 * HOUR, interval_s=30.0, seed=1), ACME)
    log = full_log(algo, venues=venues, seed=5, start=HOUR, end=2 * HOUR)
    slow = [n for _, action, _, n in log if action == "slow_down"]
    assert slow
    assert all(n["filled"] - n["target"] > algo.tol_qty() for n in slow)
    assert any(n["cancels"] >= 1 for n in slow)


def test_single_venue_mode_sends_everything_to_that_venue_and_nothing_dark():
    for cls in (VWAP, Direct):
        algo = cls(cls.Params(side="sell", qty=20_000, start=HOUR, end=2 * HOUR, venue="XSMB", dark=False), ACME)
        result = run_backtest(ACME, algo, seed=6, start=HOUR, end=2 * HOUR)
        assert result.filled_qty() == 20_000
        assert {o.venue for o in result.orders} == {"XSMB"}


def test_direct_goes_through_the_router_at_once_and_reroutes_what_is_left():
    # A limit one tick through the far touch: the first route takes what is shown, the rest waits for the
    # books to refill and is re-routed at the following wakes.
    from ems.sim.market import Market

    bbo = Market(ACME, seed=8).bbo(HOUR)
    params = DirectParams(side="buy", qty=20_000, start=HOUR, end=HOUR + 200 * US, limit_price=round(bbo.ask + 0.01, 2))
    algo = Direct(params, ACME)
    result = run_backtest(ACME, algo, seed=8, start=HOUR, end=HOUR + 200 * US)
    log = algo.decisions
    assert log[1][0] == HOUR and log[1][1] == "route" and log[1][2].startswith("route.")
    reroutes = [n for _, action, _, n in log if action == "reroute"]
    assert reroutes and 0 < reroutes[0]["filled"] < result.filled_qty() <= 20_000  # the re-routes filled more
    assert all(f.price <= params.limit_price for f in result.fills)


class Twice(Strategy):
    """Deliver every timer twice, as a restarted live driver re-arming a persisted timer might."""

    def __init__(self, algo):
        self.algo = algo

    def on_start(self, ctx):
        self.algo.on_start(ctx)

    def on_timer(self, ctx):
        self.algo.on_timer(ctx)
        self.algo.on_timer(ctx)

    def on_report(self, ctx, report):
        self.algo.on_report(ctx, report)

    def on_end(self, ctx):
        self.algo.on_end(ctx)


def test_a_duplicated_or_stale_timer_changes_nothing():
    def run(wrap):
        algo = TWAP(TWAPParams(side="buy", qty=20_000, start=HOUR, end=2 * HOUR, seed=2), ACME)
        result = run_backtest(ACME, wrap(algo), seed=3, start=HOUR, end=2 * HOUR)
        return [(f.time, f.qty, f.price) for f in result.fills], algo.decisions

    assert run(Twice) == run(lambda a: a)


def test_the_context_has_two_faces_and_nothing_else():
    # One context class for every driver: what a strategy may use, and what a driver uses besides.
    public = {name for name in dir(AlgoContext) if not name.startswith("_")}
    ctx = AlgoContext(Market(ACME, seed=1, day=0), VenueSimulator(Market(ACME, seed=1, day=0)), 0)
    public |= {name for name in vars(ctx) if not name.startswith("_")}
    assert public == STRATEGY_API | DRIVER_API
    assert not STRATEGY_API & DRIVER_API
    assert STRATEGY_API == {
        "params", "venues", "lit_venues", "dark_venues", "start", "fills", "open_orders", "filled",
        "now", "day", "mid", "bbo", "snapshot", "snapshots", "prints", "market_volume", "market_vwap",
        "expected_volume_share", "send", "place", "cancel", "wake_at", "set_timer", "stop",
    }  # fmt: skip


def test_the_algorithms_use_only_the_strategy_face_of_their_context():
    # Every `ctx.<name>` in the algorithms (and the router they call) is on the strategy's face: no
    # algorithm reads the simulator, the clock, the timers or the journal.
    used: dict[str, set[str]] = {}
    for path in sorted(Path(algos_pkg.__file__).parent.rglob("*.py")):
        if path.stem in {"context", "loop", "backtest"}:
            continue  # the context itself and its drivers
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ctx":
                used.setdefault(node.attr, set()).add(path.name)
    assert used, "the scan found no ctx.<name> at all"
    assert {name: files for name, files in used.items() if name not in STRATEGY_API} == {}
