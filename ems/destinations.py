"""Outside execution destinations (the RFQ platform): the interface the EMS defines and a higher app
registers itself as, from its AppConfig, so that ``ems`` never imports it (DESIGN.md §3).

A destination works a parent whose strategy it owns (``strategy``) instead of an algorithm on the
simulated venues, and it may hold part of any parent (``ParentOrder.reserved_quantity``: an RFQ a trader
started for part of a TWAP parent) which the parent's algorithm then leaves alone. Its executions go
through the one EMS fill service (``ems.services.booking.fills_book``) on a ChildOrder at a venue of its
own kind, and are allocated like any other fill.

The EMS calls a destination in two places:

- ``parent_work``, from the parent's tick, inside the tick's transaction (the parent row locked): the
  parent is working, running, holds nothing at the destination (``reserved_quantity == 0``) and has
  something left. The destination starts its work (inserts its own rows, reserves quantity on the parent,
  enqueues its tasks on commit) and returns None; or returns why it will not, and the EMS then works
  the rest with Implementation Shortfall, saying so in the parent's selection reason.
- ``parents_stop``, **after commit** (no lock held), when parents were paused, halted, cancelled,
  re-planned or reached their end: the destination cancels what it holds for them and releases their
  reserved quantity (and enqueues their ticks, so they can settle). It must be idempotent.

A destination asks the EMS for two things, here and nowhere else: a tick of a parent after its own commit
(:func:`parent_tick_request`, when it closes what it held) and the queue its own Celery tasks go to
(:func:`work_queue`).

Lock order, for a destination's writes: its own rows first, then ParentOrder (then what ``fills_book``
locks). The EMS never locks a destination's rows, and never calls it while holding a parent except
through ``parent_work``, which may only insert new rows of the destination's.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from django.db import transaction

from ems.services.ticks import parent_tick_enqueue, work_queue

if TYPE_CHECKING:
    from ems.models import ParentOrder
    from oms.roles import Actor

log = logging.getLogger(__name__)


class Destination(Protocol):
    strategy: str  # the StrategyName value it works ("rfq")

    def parent_work(self, parent: ParentOrder, *, actor: Actor) -> str | None: ...

    def parents_stop(self, parent_ids: list[int], *, reason: str) -> None: ...


_REGISTRY: dict[str, Destination] = {}


def destination_register(destination: Destination) -> None:
    """Register ``destination`` for its strategy (call from the owning app's AppConfig.ready)."""
    _REGISTRY[destination.strategy] = destination


def destination_for(strategy: str) -> Destination | None:
    """The destination working ``strategy``, or None (an algorithm on the simulated venues works it)."""
    return _REGISTRY.get(strategy)


def destinations() -> tuple[Destination, ...]:
    return tuple(_REGISTRY.values())


def parent_tick_request(parent_id: int) -> None:
    """Tick ``parent_id`` at once after the current transaction commits (the destination let go of it)."""
    parent_tick_enqueue(parent_id, countdown=0)


def parents_stop_on_commit(parents: Iterable, *, reason: str) -> None:
    """After the current transaction commits, ask every destination to stop what it holds for ``parents``
    (only those holding something, ``reserved_quantity > 0``)."""
    ids = sorted({p.pk for p in parents if p.reserved_quantity > 0})
    if not ids or not _REGISTRY:
        return

    def stop() -> None:
        for d in destinations():
            try:
                d.parents_stop(ids, reason=reason)
            except Exception:  # the parent's next tick asks again: never lose the control that called us
                log.exception("destination %s could not stop parents %s", d.strategy, ids)

    transaction.on_commit(stop)


__all__ = ["Destination", "destination_for", "destination_register", "destinations", "parent_tick_request",
           "parents_stop_on_commit", "work_queue"]
