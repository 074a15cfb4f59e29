"""Backtest: run a strategy against the simulated venues on a virtual clock, a whole window in one go.

The strategy sees the world only through :class:`ems.algos.context.AlgoContext` (callbacks ``on_start``,
``on_timer``, ``on_report``, ``on_end``; see that module), and :func:`run_backtest` runs the one event loop
(:func:`ems.algos.loop.drive`, the live driver's too) once from ``start`` to ``end``.

``run_backtest(..., restore_at=t)`` checks the restart story of the live driver: at the first callback at
or after ``t`` it serialises the strategy's state through ``json.dumps``, builds a fresh strategy from it
(``type(strategy).from_state``) and carries on with that one on the same simulator, as a Celery worker
taking over a crashed one's persisted state would.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property

from ems.algos.context import AlgoContext, Strategy
from ems.algos.loop import drive
from ems.sim.clock import SESSION_US
from ems.sim.exchange import OrderState, VenueSimulator
from ems.sim.impact import DEFAULT_IMPACT, ImpactParams
from ems.sim.instrument import InstrumentParams
from ems.sim.market import Market, Tape
from ems.sim.measures import slippage_bps
from ems.sim.orders import ExecutionReport, Fill, ReportKind, Side
from ems.sim.venues import DEFAULT_VENUES, VenueProfile


@dataclass
class BacktestResult:
    """What a backtest produced; benchmarks are computed on the same (seeded, impacted) market."""

    params: InstrumentParams
    seed: int
    day: int
    start: int
    end: int
    market: Market
    arrival_mid: float
    fills: list[Fill]
    reports: list[ExecutionReport]
    orders: list[OrderState]
    wall_time_s: float
    events: int = 0  # timer callbacks + reports delivered
    strategy: Strategy | None = None  # the strategy object at the end (a restored copy after restore_at)

    @cached_property
    def tape(self) -> Tape:
        """Market prints and consolidated quotes over ``[start, end)``."""
        return self.market.tape(self.start, self.end)

    def filled_qty(self, side: Side | str | None = None) -> int:
        return sum(f.qty for f in self.fills if side is None or f.side == side)

    def avg_price(self, side: Side | str) -> float | None:
        qty = self.filled_qty(side)
        return sum(f.qty * f.price for f in self.fills if f.side == side) / qty if qty else None

    @property
    def fees(self) -> float:
        """Total fees paid (negative: net rebates)."""
        return sum(f.fee for f in self.fills)

    def market_vwap(self) -> float | None:
        return self.market.vwap(self.start, self.end)

    def market_twap(self) -> float:
        return self.market.twap(self.start, self.end)

    def slippage_bps(self, side: Side | str, benchmark: float) -> float | None:
        """Return our average price against ``benchmark`` in bps, positive = better than the benchmark
        (bought below it / sold above it)."""
        avg = self.avg_price(side)
        if avg is None:
            return None
        return slippage_bps(side, avg, benchmark)

    def report_counts(self) -> dict[ReportKind, int]:
        out: dict[ReportKind, int] = {}
        for r in self.reports:
            out[r.kind] = out.get(r.kind, 0) + 1
        return out


def run_backtest(
    instrument_params: InstrumentParams,
    strategy: Strategy,
    venues: tuple[VenueProfile, ...] = DEFAULT_VENUES,
    seed: int = 0,
    day: int = 0,
    start: int = 0,
    end: int = SESSION_US,
    *,
    impact: ImpactParams = DEFAULT_IMPACT,
    id_prefix: str = "",
    restore_at: int | None = None,
) -> BacktestResult:
    """Run ``strategy`` on one simulated day from ``start`` to ``end`` (µs since the open).

    Deterministic: the same arguments give the same fills, reports and tape. Reports already in flight at
    ``end`` are delivered afterwards (no timers fire then); orders still resting are left in ``orders``.
    ``restore_at``: swap the strategy for one restored from its JSON state before the first callback at
    or after that time (see the module docstring).
    """
    if not 0 <= start < end <= SESSION_US:
        raise ValueError("need 0 <= start < end <= SESSION_US")
    wall = time.perf_counter()
    market = Market(instrument_params, seed=seed, day=day, venues=venues, impact=impact)
    sim = VenueSimulator(market, id_prefix=id_prefix)
    sim.advance(start)
    ctx = AlgoContext(market, sim, start, id_prefix)
    arrival_mid = market.mid(start)

    def swap(current: Strategy) -> Strategy:
        nonlocal restore_at
        if restore_at is not None and ctx.now >= restore_at:
            restore_at = None
            return type(current).from_state(json.loads(json.dumps(current.state())))
        return current

    strategy = swap(strategy)
    strategy.on_start(ctx)
    run = drive(strategy, ctx, sim, SESSION_US * 2, end=end, swap=swap if restore_at is not None else None)
    strategy = run.strategy
    reports = run.reports
    events = run.events
    orders = sim.orders()
    return BacktestResult(
        instrument_params,
        seed,
        day,
        start,
        end,
        market,
        arrival_mid,
        list(sim.fills),
        reports,
        orders,
        time.perf_counter() - wall,
        events,
        strategy,
    )
