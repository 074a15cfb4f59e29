"""The one event loop of every driver: a strategy, its :class:`~ems.algos.context.AlgoContext`, a venue simulator.

:func:`drive` jumps from event to event, a due timer or the delivery of a report, the venues
(:class:`ems.sim.exchange.VenueSimulator`) running in between. Everything it needs to go on lives in the
context (timers, loop phase, drain horizon), the simulator and the strategy, so calling it again with a
later ``until``, or after restoring all three from JSON (:func:`driver_state`, :meth:`AlgoContext.from_state`,
``VenueSimulator.from_state``, the algorithm's ``from_state``), continues exactly where it stopped:

- the backtest (:func:`ems.algos.backtest.run_backtest`) calls it once for a day;
- the what-if replay (:mod:`tca.replay`) calls it once per batch of our other fills;
- the live driver (:mod:`ems.services.working`) calls it once per Celery tick, up to market time "now",
  with the market rebuilt from the seed and our fills between ticks.

Running a strategy in any number of chunks this way gives exactly the fills, reports and orders of one
backtest over the same window (tests/ems/algos/test_live_context.py proves it for every algorithm).

A :class:`Budget` bounds a run: :func:`drive` spends one step per event (a report delivered, a timer fired)
and raises :class:`BudgetExceeded` (``reason``: ``events``, ``time`` or ``cancelled``) as soon as the budget's
events, its deadline (``time.monotonic()``) or its ``cancelled`` callable say so. The what-if replay
(:mod:`tca.services.what_if`) runs under one; a budget spans every call that is given it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ems.algos.context import AlgoContext, Strategy
from ems.sim.clock import SESSION_US
from ems.sim.exchange import VenueSimulator
from ems.sim.orders import ExecutionReport, Fill

NO_TIMER = SESSION_US * 2  # later than anything the loop is asked to reach


class BudgetReason(StrEnum):
    EVENTS = "events"
    TIME = "time"
    CANCELLED = "cancelled"


class BudgetExceeded(Exception):
    """A run stopped by its :class:`Budget`: ``reason`` and the events spent so far."""

    def __init__(self, reason: BudgetReason, events: int):
        super().__init__(f"budget exceeded ({reason}) after {events} events")
        self.reason = reason
        self.events = events


@dataclass
class Budget:
    """Steps and time a run may take: ``max_events`` events (None: any), until ``deadline`` (a
    ``time.monotonic()`` value; None: no limit), while ``cancelled()`` (None: never) is false. Checked at every
    event, so a run stops within one event of its limit."""

    max_events: int | None = None
    deadline: float | None = None
    cancelled: Callable[[], bool] | None = None
    events: int = 0

    @classmethod
    def of(cls, *, max_events: int | None = None, seconds: float | None = None,
           cancelled: Callable[[], bool] | None = None) -> Budget:
        return cls(max_events, None if seconds is None else time.monotonic() + seconds, cancelled)

    def spend(self, n: int = 1) -> None:
        self.events += n
        if self.max_events is not None and self.events > self.max_events:
            raise BudgetExceeded(BudgetReason.EVENTS, self.events)
        if self.cancelled is not None and self.cancelled():
            raise BudgetExceeded(BudgetReason.CANCELLED, self.events)
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise BudgetExceeded(BudgetReason.TIME, self.events)


@dataclass
class Run:
    """What one call of :func:`drive` did: the reports delivered, the callbacks made, and the strategy
    object at the end (``swap`` may have replaced it)."""

    reports: list[ExecutionReport]
    events: int
    strategy: Strategy


def drive(
    strategy: Strategy,
    ctx: AlgoContext,
    sim: VenueSimulator,
    until: int,
    *,
    end: int,
    swap: Callable[[Strategy], Strategy] | None = None,
    budget: Budget | None = None,
) -> Run:
    """Run ``strategy`` from the context's time up to ``until`` (see the module docstring).

    At ``end`` it calls ``on_end`` (once: ``ctx.ended``) and then delivers the reports still in flight for
    two round trips (``ctx.drain_until``; no timers fire then). ``on_start`` is the caller's. ``swap`` is
    called before each callback and returns the strategy to use from then on (the backtest's ``restore_at``).
    ``budget``: each event spends one step of it (:class:`BudgetExceeded` when it is spent; the run stops there).
    """
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
            ctx.clock.advance_to(sim.time)
            reports.append(report)
            ctx.record(report)
            current().on_report(ctx, report)
            events += 1
            if budget is not None:
                budget.spend()
        ctx.clock.advance_to(sim.time)

    while not ctx.ended and not ctx.stopped:
        next_timer = ctx.next_timer
        target = min(NO_TIMER if next_timer is None else next_timer, end)
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
        for _ in range(ctx.pop_due_timers(target)):
            current().on_timer(ctx)
            events += 1
            if budget is not None:
                budget.spend()
            if ctx.stopped:
                break
    if not ctx.ended:
        ctx.ended = True
        current().on_end(ctx)
        ctx.drain_until = min(SESSION_US, ctx.now) + 2 * max(v.latency_us for v in ctx.venues) + 1
    horizon = min(ctx.drain_until, until)
    while sim.time < horizon:
        deliver(horizon)
    return Run(reports, events, strategy)


def deliver_reports(ctx: AlgoContext, sim: VenueSimulator, until: int) -> list[ExecutionReport]:
    """Run the venues up to ``until`` with no strategy to call: each report is recorded in the context (its
    journal) and the clock follows. What a driver does while the algorithm may not act."""
    reports = sim.advance(max(until, sim.time))
    for report in reports:
        ctx.record(report)
    ctx.clock.advance_to(max(ctx.now, sim.time))
    return reports


def driver_state(ctx: AlgoContext, sim: VenueSimulator) -> dict:
    """The state a live driver keeps between chunks: the simulator and the context, as plain JSON."""
    return {"sim": sim.state(), "ctx": ctx.state()}


def pending_fills(state: dict) -> list[Fill]:
    """Fills the simulator of a saved :func:`driver_state` made whose reports are not delivered yet: part of
    the market's footprint already, but not booked anywhere, so the next chunk's market must be given them."""
    return VenueSimulator.state_fills(state["sim"]) if state.get("sim") else []


__all__ = ["Budget", "BudgetExceeded", "BudgetReason", "Run", "deliver_reports", "drive", "driver_state", "pending_fills"]
