"""Ticks: the one owner of the tick task's name and of every way a tick is asked for.

The live unit of work is the instrument-day: one chain of Celery tasks (``ems.tasks.instrument_tick``, the
driver :mod:`ems.services.working.instrument`) per instrument and market day works every parent on it, each
tick enqueueing the next one after its commit on the queue of the worker that owns the instrument-day
(:func:`worker_queue`: every worker also consumes a queue of its own). Whatever else wants a parent worked
now asks here:

- :func:`parent_tick_enqueue`, after the current transaction commits: the aggregation's new parents, a
  trader's control, a destination's close (through :func:`ems.destinations.parent_tick_request`), an order
  of the parent whose cancel the OMS was asked for (the ``oms.signals.order_cancel_requested`` signal, which
  the EMS connects in its AppConfig: the OMS never imports the EMS);
- :func:`parent_ticks_send`, at once: from inside an after-commit callback;
- :func:`instrument_days_sweep` (beat), for chains that stopped because a worker died or a tick failed.

A request goes to the owner's queue while its lease lasts, else to the shared queue (:func:`work_queue`),
where any worker may take it, and with it the instrument-day (so new instrument-days spread over the
workers, and a dead worker's go to the survivors). Every task the EMS and its destinations send goes on
:func:`work_queue` unless it is for one worker.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ems.models import InstrumentDay, ParentOrder
from ems.states import Control, ExecStatus

log = logging.getLogger(__name__)

TICK_TASK = "ems.tasks.instrument_tick"
WORKER_QUEUE_PREFIX = "ems.worker."


@dataclass(frozen=True)
class Worker:
    """A process that ticks instrument-days: its name (the lease's ``owner``) and its own queue (None: it takes
    its ticks from the shared queue, e.g. a test or a shell)."""

    name: str
    queue: str | None


def worker_queue(hostname: str) -> str:
    """The queue only the worker ``hostname`` consumes (added to it at start-up, ``config/celery.py``)."""
    return f"{WORKER_QUEUE_PREFIX}{hostname}"


def work_queue() -> str | None:
    """The Celery queue of the EMS's work: ticks, and the destinations' own tasks (None: the default queue).
    Tests give their workers a queue of their own (``settings.EMS_QUEUE``)."""
    return settings.EMS_QUEUE


def instrument_tick_send(instrument_id: int, day: int, *, token: int | None = None, queue: str | None = None,
                         countdown: float | None = None) -> None:
    """Send one tick of the instrument-day now: on ``queue`` (a worker's own), else the shared queue. ``token``:
    the chain it continues (None: a request, which any chain's tick may serve)."""
    current_app.send_task(TICK_TASK, args=[instrument_id, day, token], countdown=countdown, queue=queue or work_queue())


def instrument_days_send(keys: Iterable[tuple[int, int]], *, countdown: float | None = None) -> None:
    """Send a request tick of each ``(instrument id, market day)`` to its owner while its lease lasts, else to
    the shared queue."""
    keys = sorted(set(keys))
    if not keys:
        return
    now = timezone.now()
    owners = {(r.instrument_id, r.market_day): r.owner_queue for r in InstrumentDay.objects.filter(
        instrument_id__in={k[0] for k in keys}, market_day__in={k[1] for k in keys}, lease_until__gt=now).only(
        "instrument_id", "market_day", "owner_queue")}
    for instrument_id, day in keys:
        instrument_tick_send(instrument_id, day, queue=owners.get((instrument_id, day)) or None, countdown=countdown)


def parent_ticks_send(parent_ids: Iterable[int], *, countdown: float | None = None) -> None:
    """Ask now for a tick of each of ``parent_ids`` (the tick of its instrument-day)."""
    ids = list(parent_ids)
    if ids:
        instrument_days_send(ParentOrder.objects.filter(pk__in=ids).values_list("instrument_id", "market_day"), countdown=countdown)


def parent_tick_enqueue(parent_id: int, *, countdown: float | None = None) -> None:
    """Ask for a tick of ``parent_id`` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: parent_ticks_send([parent_id], countdown=countdown))


def parents_tick_enqueue(parents: Iterable[ParentOrder], *, countdown: float | None = None) -> None:
    """Ask, after the current transaction commits, for one tick of each instrument-day ``parents`` are on
    (a kill switch over 50 parents on 5 instruments sends 5 ticks, not 50)."""
    keys = {(p.instrument_id, p.market_day) for p in parents}
    if keys:
        transaction.on_commit(lambda: instrument_days_send(keys, countdown=countdown))


def on_order_cancel_requested(sender, *, order_id: int, parent_id: int, **kwargs) -> None:
    """Receiver of ``oms.signals.order_cancel_requested`` (sent after commit): tick the order's parent, whose
    driver cancels its children, takes the order's rest out and closes the order."""
    parent_ticks_send([parent_id])


def instrument_days_sweep() -> int:
    """Re-enqueue the ticks of instrument-days whose chain stopped: those with a parent that has work (open
    RUNNING parents, parents with something still at the venues, parents being cancelled) and no tick for
    ``EMS_STALE_TICK_S`` (a worker died mid-chain, or a tick failed). Return how many were enqueued."""
    stale = timezone.now() - timezone.timedelta(seconds=settings.EMS_STALE_TICK_S)
    busy = ParentOrder.objects.filter(
        Q(status__in=ExecStatus.working(), control=Control.RUNNING) | Q(driver_state__active=True)
        | Q(status=ExecStatus.PENDING_CANCEL)).values_list("instrument_id", "market_day").distinct()
    fresh = set(InstrumentDay.objects.filter(updated_at__gte=stale).values_list("instrument_id", "market_day"))
    keys = [k for k in set(busy) if k not in fresh]
    instrument_days_send(keys)
    return len(keys)


def instrument_days_rebalance(workers: Iterable[str]) -> list[tuple[int, int, str]]:
    """Even out the instrument-days with work among the live ``workers`` (hostnames): while one owns two more
    than another, hand one of its instrument-days (not ticking right now) to the least loaded. The handover
    moves the chain on (the old owner's pending tick is stale and does nothing) and sends the new owner a tick
    on its own queue; the new owner rebuilds the market from the database. Return the moves made."""
    now = timezone.now()
    live = sorted(set(workers))
    if len(live) < 2:
        return []
    busy = set(ParentOrder.objects.filter(status__in=ExecStatus.open()).values_list("instrument_id", "market_day").distinct())
    rows = [r for r in InstrumentDay.objects.filter(lease_until__gt=now, owner__in=live).only("instrument_id", "market_day", "owner")
            if (r.instrument_id, r.market_day) in busy]
    load = {w: [r for r in rows if r.owner == w] for w in live}
    moves: list[tuple[int, int, str]] = []
    while True:
        most = max(live, key=lambda w: len(load[w]))
        least = min(live, key=lambda w: len(load[w]))
        if len(load[most]) - len(load[least]) < 2:
            return moves
        row = load[most].pop()
        with transaction.atomic():
            locked = InstrumentDay.objects.select_for_update(skip_locked=True).filter(pk=row.pk, owner=most).first()
            if locked is None:
                continue  # ticking right now (or moved meanwhile): another sweep will see it
            locked.owner, locked.owner_queue = least, worker_queue(least)
            locked.lease_until = now + timezone.timedelta(seconds=settings.EMS_LEASE_S)
            locked.chain += 1
            locked.save(update_fields=["owner", "owner_queue", "lease_until", "chain", "updated_at"])
            chain = locked.chain
            transaction.on_commit(lambda r=locked, c=chain: instrument_tick_send(r.instrument_id, r.market_day, token=c,
                                                                                 queue=r.owner_queue))
        load[least].append(row)
        moves.append((row.instrument_id, row.market_day, least))


__all__ = ["TICK_TASK", "Worker", "instrument_days_rebalance", "instrument_days_send", "instrument_days_sweep", "instrument_tick_send", "on_order_cancel_requested",
           "parent_tick_enqueue", "parent_ticks_send", "work_queue", "worker_queue"]
