"""Parent ticks: the one owner of the tick task's name and of every way a tick is asked for.

A parent order is worked by a chain of Celery tasks (``ems.tasks.parent_tick``, the live driver
:mod:`ems.services.working`), each of which enqueues the next one after its commit. Whatever else wants a
parent worked now asks here:

- :func:`parent_tick_enqueue`, after the current transaction commits: the aggregation's new parents, a
  trader's control, a destination's close (through :func:`ems.destinations.parent_tick_request`), an order
  of the parent whose cancel the OMS was asked for (the ``oms.signals.order_cancel_requested`` signal, which
  the EMS connects in its AppConfig: the OMS never imports the EMS);
- :func:`parent_ticks_send`, at once: from inside an after-commit callback, and the sweep;
- :func:`parents_sweep` (beat), for chains that stopped because a worker died.

Every task the EMS and its destinations send goes on :func:`work_queue`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ems.models import ParentOrder
from ems.states import Control, ExecStatus

log = logging.getLogger(__name__)

TICK_TASK = "ems.tasks.parent_tick"


def work_queue() -> str | None:
    """The Celery queue of the EMS's work: ticks, and the destinations' own tasks (None: the default queue).
    Tests give their workers a queue of their own (``settings.EMS_QUEUE``)."""
    return settings.EMS_QUEUE


def parent_ticks_send(parent_ids: Iterable[int], *, countdown: float | None = None) -> None:
    """Send one tick of each of ``parent_ids`` now."""
    for pid in parent_ids:
        current_app.send_task(TICK_TASK, args=[pid], countdown=countdown, queue=work_queue())


def parent_tick_enqueue(parent_id: int, *, countdown: float | None = None) -> None:
    """Send one tick of ``parent_id`` after the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: parent_ticks_send([parent_id], countdown=countdown))


def on_order_cancel_requested(sender, *, order_id: int, parent_id: int, **kwargs) -> None:
    """Receiver of ``oms.signals.order_cancel_requested`` (sent after commit): tick the order's parent, whose
    driver cancels its children, takes the order's rest out and closes the order."""
    parent_ticks_send([parent_id])


def parents_sweep() -> int:
    """Re-enqueue the ticks of parents whose chain stopped: open RUNNING parents not ticked for
    ``EMS_STALE_TICK_S`` (a worker died mid-chain), and parents with work left at the venues while paused,
    halted or cancelling (or closed with reports still in flight). Return how many were enqueued."""
    stale = timezone.now() - timezone.timedelta(seconds=settings.EMS_STALE_TICK_S)
    running = ParentOrder.objects.filter(status__in=ExecStatus.working(), control=Control.RUNNING, updated_at__lt=stale)
    # Not running the algorithm but still with something at the venues: cancels to see through.
    others = ParentOrder.objects.filter(updated_at__lt=stale, driver_state__active=True).exclude(pk__in=running.values("pk"))
    cancelling = ParentOrder.objects.filter(status=ExecStatus.PENDING_CANCEL, updated_at__lt=stale)
    ids = sorted(set(running.values_list("pk", flat=True)) | set(others.values_list("pk", flat=True))
                 | set(cancelling.values_list("pk", flat=True)))
    parent_ticks_send(ids)
    return len(ids)


__all__ = ["TICK_TASK", "on_order_cancel_requested", "parent_tick_enqueue", "parent_ticks_send", "parents_sweep", "work_queue"]
