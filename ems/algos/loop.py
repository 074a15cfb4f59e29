"""The one event loop of every driver: a strategy, its :class:`~ems.algos.context.AlgoContext`, a venue simulator.

:func:`drive` jumps from event to event, a due timer or the delivery of a report, the venues
(:class:`ems.sim.exchange.VenueSimulator`) running in between. Everything it needs to go on lives in the
context (timers, loop phase, drain horizon), the simulator and the strategy, so calling it again with a
later ``until``, or after restoring all three from JSON (:func:`driver_state`, :meth:`AlgoContext.from_state`,
``VenueSimulator.from_state``, the algorithm's ``from_state``), continues exactly where it stopped:

- the backtest (:func:`ems.algos.backtest.run_backtest`) calls it once for a day;
- the what-if replay (:mod:`tca.replay`) calls it once per batch of our other fills;
- the live driver (:mod:`ems.services.working`) calls :func:`drive_many` once per Celery tick of an
  instrument-day, up to market time "now", with every parent on it trading against one shared simulator
  kept in the owning worker's memory between ticks.

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


@dataclass
class Entry:
    """One strategy of a :func:`drive_many` run: its context, the strategy (None: no strategy may act, its
    reports are only recorded, as :func:`deliver_reports` does) and the end of its plan (market µs)."""

    ctx: AlgoContext
    strategy: Strategy | None
    end: int


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
    entry = Entry(ctx, strategy, end)
    reports, events = drive_many([entry], sim, until, swap=swap, budget=budget)
    return Run(reports, events, entry.strategy)


def drive_many(
    entries: list[Entry],
    sim: VenueSimulator,
    until: int,
    *,
    swap: Callable[[Strategy], Strategy] | None = None,
    budget: Budget | None = None,
) -> tuple[list[ExecutionReport], int]:
    """Run every entry's strategy against one shared simulator up to ``until``: the one event loop.

    Events are taken in time order across all entries (a report is handed to the context of the order's
    ``owner`` in the simulator, or to the only entry); at one instant, timers fire in the order of
    ``entries``. Each strategy is ended at its own ``end`` (or when it stops) exactly as :func:`drive`
    describes; once every strategy has ended, the loop delivers up to the latest drain horizon and returns.
    Return the reports delivered and the callbacks made.
    """
    reports: list[ExecutionReport] = []
    events = 0
    until = max(int(until), sim.time)
    by_owner = {e.ctx.owner: e for e in entries}

    def call(e: Entry) -> Strategy:
        if swap is not None:
            e.strategy = swap(e.strategy)
        return e.strategy

    def spend() -> None:
        nonlocal events
        events += 1
        if budget is not None:
            budget.spend()

    def deliver(t: int) -> None:
        for report in sim.step(t):
            e = entries[0] if len(entries) == 1 else by_owner[sim.owner_of(report.order_id)]
            e.ctx.clock.advance_to(sim.time)
            reports.append(report)
            e.ctx.record(report)
            if e.strategy is not None:
                call(e).on_report(e.ctx, report)
                spend()
        for e in entries:
            e.ctx.clock.advance_to(max(e.ctx.now, sim.time))

    def finish(e: Entry) -> None:
        e.ctx.ended = True
        call(e).on_end(e.ctx)
        e.ctx.drain_until = min(SESSION_US, e.ctx.now) + 2 * max(v.latency_us for v in e.ctx.venues) + 1

    while True:
        live = [e for e in entries if e.strategy is not None and not e.ctx.ended]
        for e in live:
            if e.ctx.stopped:
                finish(e)
        live = [e for e in live if not e.ctx.ended]
        if not live:
            break
        target = min(min(NO_TIMER if e.ctx.next_timer is None else e.ctx.next_timer, e.end) for e in live)
        if target > until:
            deliver(until)
            if sim.time < until:
                continue  # stopped at a report delivery; the strategy may have reacted
            return reports, events
        deliver(target)
        if sim.time < target:
            continue
        for e in live:
            if target >= e.end:
                finish(e)
                continue
            for _ in range(e.ctx.pop_due_timers(target)):
                call(e).on_timer(e.ctx)
                spend()
                if e.ctx.stopped:
                    break
    drains = [e.ctx.drain_until for e in entries if e.strategy is not None and e.ctx.drain_until is not None]
    horizon = min(max(drains, default=sim.time), until)
    while sim.time < horizon:
        deliver(horizon)
    return reports, events


def deliver_reports(ctx: AlgoContext | list[AlgoContext], sim: VenueSimulator, until: int) -> list[ExecutionReport]:
    """Run the venues up to ``until`` with no strategy to call: each report is recorded in its context (its
    journal; with several contexts on one simulator, the context of the order's ``owner``) and the clocks
    follow. What a driver does while no algorithm may act."""
    contexts = ctx if isinstance(ctx, list) else [ctx]
    by_owner = {c.owner: c for c in contexts}
    reports = sim.advance(max(until, sim.time))
    for report in reports:
        (contexts[0] if len(contexts) == 1 else by_owner[sim.owner_of(report.order_id)]).record(report)
    for c in contexts:
        c.clock.advance_to(max(c.now, sim.time))
    return reports


def driver_state(ctx: AlgoContext, sim: VenueSimulator) -> dict:
    """The state a driver of one strategy keeps between chunks: the simulator and the context, as plain JSON
    (the live driver keeps the simulator once per instrument-day and each parent's context on the parent)."""
    return {"sim": sim.state(), "ctx": ctx.state()}


def pending_fills(state: dict) -> list[Fill]:
    """Fills the simulator of a saved :func:`driver_state` made whose reports are not delivered yet: part of
    the market's footprint already, but not booked anywhere, so the next chunk's market must be given them."""
    return VenueSimulator.state_fills(state["sim"]) if state.get("sim") else []


__all__ = ["Budget", "BudgetExceeded", "BudgetReason", "Entry", "Run", "deliver_reports", "drive", "drive_many", "driver_state",
           "pending_fills"]
