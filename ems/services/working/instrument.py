"""One tick of an instrument-day: every parent of ours on one instrument and market day, advanced together.

The unit of live work is the instrument-day (``ems.models.InstrumentDay``). A tick
(:func:`instrument_day_tick`, the Celery task ``ems.tasks.instrument_tick``), in one transaction:

1. Locks the instrument-day's row (``SKIP LOCKED``: a tick already running makes this one return at once)
   and checks the lease: the worker process that holds it (``owner`` until ``lease_until``) is the only one
   that works the instrument-day; a request reaching another worker is handed to the owner's queue. A
   worker whose lease ran out (it died, or stopped ticking) is replaced by whichever worker takes the next
   tick: it takes the lease over and rebuilds the market from the database (``takeovers``). A tick of a
   superseded chain (``token`` older than the row's ``chain``) does nothing, so exactly one chain lives.
2. Locks the parents that have work (open, or with something still at the venues) in pk order.
3. Takes the market from memory (:mod:`ems.services.working.live`; rebuilt only if this process does not
   hold the row's version) and runs every parent against its one simulator up to market time "now":
   parents an algorithm works through :class:`~ems.services.working.algo.AlgoDriver` (prepared, started in
   the order of their start times, then one shared event loop, then each finished), parents a destination
   works (the RFQ platform) through :class:`~ems.services.working.destination.DestinationDriver`.
4. Saves the simulator's state on the row, moves ``version`` and ``chain`` on, renews the lease, and
   enqueues the next tick on this worker's own queue after commit (:mod:`ems.services.ticks`).

Nothing here is lost or booked twice when a worker dies mid-tick: the transaction rolls back, the
in-memory copy is dropped or goes stale (its version is behind the row's), the lease runs out, and the
sweep's tick lets a survivor take over from the last commit; every fill's unique ``exec_id`` and the
venue order ids' unique constraint stay the database's last word.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ems.algos.loop import deliver_reports, drive_many
from ems.destinations import destination_for
from ems.models import InstrumentDay, ParentOrder, Venue
from ems.selectors import live_clock
from ems.services.ticks import Worker, instrument_tick_send
from ems.services.working.algo import AlgoDriver
from ems.services.working.base import ParentDriver, TickResult, tick_until_us
from ems.services.working.destination import DestinationDriver
from ems.services.working.live import LiveMarket, live_market_committed, live_market_discard, live_market_for
from ems.states import ExecStatus


def this_process() -> Worker:
    """A process that ticks outside a Celery worker (a shell, a test, a benchmark): its name, the default queue."""
    return Worker(f"local@{socket.gethostname()}:{os.getpid()}", None)


@dataclass
class InstrumentTickResult:
    """What one tick of an instrument-day did (for logs, tests and the benchmark)."""

    instrument_id: int
    day: int
    owner: str
    version: int
    market_us: int
    rebuilt: bool
    parents: dict[int, TickResult] = field(default_factory=dict)
    active: bool = False
    next_tick_s: float | None = None


def instrument_day_tick(*, instrument_id: int, day: int, token: int | None = None,
                        worker: Worker | None = None) -> InstrumentTickResult | None:
    """Work every parent of the instrument-day up to market time now (see the module docstring). None: the tick
    did nothing (its day has not begun, another tick holds the instrument-day, another worker owns it, or its
    chain was superseded)."""
    worker = worker or this_process()
    if live_clock().market_time().day < day:
        return None  # a day not begun (a GTC parent carried over to it): its first tick is asked for at its open
    live: LiveMarket | None = None
    try:
        with transaction.atomic():
            row = _lock(instrument_id, day)
            if row is None or (token is not None and token != row.chain):
                return None
            now_wall = timezone.now()
            if row.owner and row.owner != worker.name and row.lease_until is not None and row.lease_until > now_wall:
                if token is None:  # a request (a control, a new parent, the sweep): the owner's chain does it
                    transaction.on_commit(lambda: instrument_tick_send(instrument_id, day, queue=row.owner_queue))
                return None
            if row.owner != worker.name:  # taking it over: what this process may hold of it is not to be trusted
                live_market_discard(instrument_id, day)
                row.takeovers += 1 if row.owner else 0
                row.owner, row.owner_queue = worker.name, worker.queue or ""
            row.lease_until = now_wall + timedelta(seconds=settings.EMS_LEASE_S)
            parents = list(
                ParentOrder.objects.select_for_update(of=("self",)).select_related("instrument")
                .filter(instrument_id=instrument_id, market_day=day)
                .filter(Q(status__in=ExecStatus.open()) | Q(driver_state__active=True)).order_by("pk")
            )
            last = min((p.last_tick_us for p in parents), default=0)
            live = live_market_for(row, start_us=max(0, last))
            now = max(tick_until_us(day, last), live.sim.time)
            result = InstrumentTickResult(instrument_id, day, worker.name, row.version + 1, now, live.rebuilt)
            for driver in _run(parents, live, now):
                r = driver.finish()
                result.parents[driver.parent.pk] = r
            live.sim.compact()
            row.sim_state = live.sim.state()
            row.version += 1
            row.chain += 1
            row.save(update_fields=["owner", "owner_queue", "lease_until", "version", "chain", "takeovers", "sim_state", "updated_at"])
            waits = [r.next_tick_s for r in result.parents.values() if r.active and r.next_tick_s is not None]
            result.active = bool(waits)
            if waits:
                result.next_tick_s = min(waits)
                chain, queue = row.chain, worker.queue
                transaction.on_commit(lambda: instrument_tick_send(instrument_id, day, token=chain, queue=queue,
                                                                   countdown=result.next_tick_s))
    except BaseException:
        live_market_discard(instrument_id, day)
        raise
    if live is not None:
        live_market_committed(live, result.version)
    return result


def _lock(instrument_id: int, day: int) -> InstrumentDay | None:
    # OF self: locking the joined instrument row too would make a fill's deferred foreign-key check at COMMIT
    # (a new position or fill on this instrument takes a KEY SHARE on it) wait for this tick, while the tick waits
    # for the parent that fill's transaction holds: a deadlock (seen with a package's legs booked while their
    # instruments tick).
    rows = InstrumentDay.objects.select_for_update(skip_locked=True, of=("self",)).select_related("instrument")
    row = rows.filter(instrument_id=instrument_id, market_day=day).first()
    if row is None and not InstrumentDay.objects.filter(instrument_id=instrument_id, market_day=day).exists():
        InstrumentDay.objects.bulk_create([InstrumentDay(instrument_id=instrument_id, market_day=day)], ignore_conflicts=True)
        row = rows.filter(instrument_id=instrument_id, market_day=day).first()
    return row


def _run(parents: list[ParentOrder], live: LiveMarket, now: int) -> list[ParentDriver]:
    """Run every parent's part of the tick up to ``now``; return the drivers, ready to finish."""
    venues = {v.code: v for v in Venue.objects.all()}
    drivers: list[ParentDriver] = []
    algos: list[AlgoDriver] = []
    for p in parents:
        destination = destination_for(p.strategy)
        if destination is not None:
            drivers.append(DestinationDriver(p, destination, now))
        else:
            d = AlgoDriver(p, live, now, venues)
            d.prepare()
            algos.append(d)
            drivers.append(d)
    sim = live.sim
    # Parents not planned yet start when they were created, in that order: the others' events before it come first.
    waiting = sorted((d for d in algos if d.needs_first_plan()), key=lambda d: (d.first_start_us(), d.parent.pk))
    started = [d for d in algos if d not in waiting]
    for d in waiting:
        _advance(started, sim, d.first_start_us())
        d.start_first_plan()
        started.append(d)
    _advance(started, sim, now)
    return drivers


def _advance(drivers: list[AlgoDriver], sim, until: int) -> None:
    entries = [e for e in (d.entry() for d in drivers) if e is not None]
    if until > sim.time and entries:
        drive_many(entries, sim, until)
    deliver_reports([e.ctx for e in entries], sim, until) if entries else sim.advance(max(until, sim.time))


__all__ = ["InstrumentTickResult", "instrument_day_tick", "this_process"]
