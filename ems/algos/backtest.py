"""Backtest driver: run a strategy against the simulated venues on a virtual clock.

The strategy sees the world only through :class:`ems.algos.context.AlgoContext` (callbacks ``on_start``,
``on_timer``, ``on_report``, ``on_end``; see that module); :class:`BacktestContext` implements it on
:mod:`ems.sim`. The loop jumps from event to event: a timer, or the delivery of a report; the venues run
in between (:class:`ems.sim.exchange.VenueSimulator`).

The event loop itself is :func:`drive`, shared with the live driver (:mod:`ems.algos.live`), which runs
it chunk by chunk between Celery ticks. ``run_backtest(..., restore_at=t)`` checks the restart story of the live driver: at the first callback at
or after ``t`` it serialises the strategy's state through ``json.dumps``, builds a fresh strategy from it
(``type(strategy).from_state``) and carries on with that one on the same simulator, as a Celery worker
taking over a crashed one's persisted state would.
"""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from ems.algos.context import AlgoContext, Strategy
from ems.sim.clock import SESSION_US, US, VirtualClock
from ems.sim.exchange import OrderState, VenueSimulator
from ems.sim.impact import DEFAULT_IMPACT, ImpactParams
from ems.sim.instrument import InstrumentParams
from ems.sim.market import BBO, Book, Market, Prints, Tape
from ems.sim.measures import slippage_bps
from ems.sim.orders import ExecutionReport, Fill, OrderRequest, ReportKind, Side
from ems.sim.venues import DEFAULT_VENUES, VenueProfile


class BacktestContext(AlgoContext):
    """The backtest driver's context: the simulated market and venues on a virtual clock."""

    def __init__(self, market: Market, sim: VenueSimulator, clock: VirtualClock, start: int, prefix: str) -> None:
        super().__init__(market.params, market.venues, start)
        self._market = market
        self._sim = sim
        self._clock = clock
        self._prefix = prefix
        self._timers: list[tuple[int, int, int]] = []  # (time, seq, period or 0)
        self._timer_seq = 0
        self._n_sent = 0
        self._stopped = False
        self.ended = False  # on_end has run (the event loop is draining the reports still in flight)
        self.drain_until: int | None = None

    # --- time and market ------------------------------------------------------------------------------
    @property
    def now(self) -> int:
        return self._clock.now()

    @property
    def day(self) -> int:
        return self._clock.day

    def mid(self) -> float:
        return self._market.mid(self.now)

    def bbo(self) -> BBO:
        return self._market.bbo(self.now)

    def snapshot(self, venue: str) -> Book:
        return self._market.snapshot(venue, self.now)

    def snapshots(self) -> dict[str, Book]:
        return self._market.snapshots(self.now)

    def prints(self, since: int) -> Prints:
        return self._market.prints(since, self.now)

    def market_volume(self, since: int) -> int:
        return self._market.volume(since, self.now)

    def market_vwap(self, since: int) -> float | None:
        return self._market.vwap(since, self.now)

    # --- orders ---------------------------------------------------------------------------------------
    def send(self, req: OrderRequest) -> str:
        if req.client_order_id is None:
            self._n_sent += 1
            req = OrderRequest(req.venue, req.side, req.qty, req.order_type, req.price, req.tif, f"{self._prefix}C{self._n_sent}")
        order_id = self._sim.submit(req, self.now)
        self.open_orders[order_id] = req
        return order_id

    def cancel(self, order_id: str) -> None:
        self._sim.cancel(order_id, self.now)

    def order(self, order_id: str) -> OrderState:
        """The venue's view of an order (a backtest convenience; not part of :class:`AlgoContext`)."""
        return self._sim.order(order_id)

    # --- timers ---------------------------------------------------------------------------------------
    def set_timer(self, interval_s: float) -> None:
        period = int(interval_s * US)
        if period <= 0:
            raise ValueError("timer interval must be positive")
        self._add_timer(self.now + period, period)

    def wake_at(self, t_us: int) -> None:
        self._add_timer(max(int(t_us), self.now), 0)

    def stop(self) -> None:
        self._stopped = True

    def _add_timer(self, t: int, period: int) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (t, self._timer_seq, period))

    def _next_timer(self) -> int:
        return self._timers[0][0] if self._timers else SESSION_US * 2

    def _due_timers(self, t: int) -> int:
        """Pop the timers due at ``t`` (re-arming periodic ones); return how many fired."""
        n = 0
        while self._timers and self._timers[0][0] <= t:
            _, _, period = heapq.heappop(self._timers)
            if period:
                self._add_timer(t + period, period)
            n += 1
        return n


StrategyContext = BacktestContext  # the name the harness had before the interface was split out


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


@dataclass
class Run:
    """What one call of :func:`drive` did: the reports delivered, the callbacks made, and the strategy
    object at the end (``swap`` may have replaced it)."""

    reports: list[ExecutionReport]
    events: int
    strategy: Strategy


def drive(
    strategy: Strategy,
    ctx: BacktestContext,
    sim: VenueSimulator,
    until: int,
    *,
    end: int,
    swap: Callable[[Strategy], Strategy] | None = None,
) -> Run:
    """The one event loop of every driver: run ``strategy`` from the context's time up to ``until``.

    It jumps from event to event, a due timer or the delivery of a report, the venues running in between;
    at ``end`` it calls ``on_end`` (once: ``ctx.ended``) and then delivers the reports still in flight
    for two round trips (``ctx.drain_until``; no timers fire then). Everything it needs to go on lives in
    ``ctx`` (timers, ended, drain horizon), ``sim`` and the strategy, so calling it again with a later
    ``until``, or after restoring all three from JSON, continues exactly where it stopped: the backtest
    calls it once, the live driver once per Celery tick up to market time "now". ``on_start`` is the
    caller's. ``swap`` is called before each callback and returns the strategy to use from then on (the
    backtest's ``restore_at``).
    """
    clock = ctx._clock
    reports: list[ExecutionReport] = []
    events = 0
    until = max(int(until), sim.time)

    def current() -> Strategy:
        nonlocal strategy
        if swap is not None:
            strategy = swap(strategy)
        return strategy

    def deliver(t: int) -> None:
        nonlocal events
        for report in sim.step(t):
            clock.advance_to(sim.time)
            reports.append(report)
            ctx.record(report)
            current().on_report(ctx, report)
            events += 1
        clock.advance_to(sim.time)

    while not ctx.ended and not ctx._stopped:
        target = min(ctx._next_timer(), end)
        if target > until:
            deliver(until)
            if sim.time < until:
                continue  # stopped at a report delivery; the strategy may have reacted
            return Run(reports, events, strategy)
        deliver(target)
        if sim.time < target:
            continue
        if target >= end:
            break
        for _ in range(ctx._due_timers(target)):
            current().on_timer(ctx)
            events += 1
            if ctx._stopped:
                break
    if not ctx.ended:
        ctx.ended = True
        current().on_end(ctx)
        ctx.drain_until = min(SESSION_US, clock.now()) + 2 * max(v.latency_us for v in ctx.venues) + 1
    horizon = min(ctx.drain_until, until)
    while sim.time < horizon:
        deliver(horizon)
    return Run(reports, events, strategy)


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
    clock = VirtualClock(day, start)
    ctx = BacktestContext(market, sim, clock, start, id_prefix)
    arrival_mid = market.mid(start)

    def swap(current: Strategy) -> Strategy:
        nonlocal restore_at
        if restore_at is not None and clock.now() >= restore_at:
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
