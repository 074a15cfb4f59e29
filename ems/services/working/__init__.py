"""The live driver: one Celery tick works one parent order up to market time "now".

Each tick (:func:`parent_tick`), in one transaction under the parent's row lock (a tick already running for
the parent makes this one skip, ``SKIP LOCKED``):

1. Market time "now" from the deployment's :func:`ems.selectors.live_clock`, capped at the session close
   (a parent whose market day is over is run to the close, its resting orders expire, and it expires):
   :func:`ems.services.working.base.tick_until_us`.
2. The parent's driver runs: :class:`~ems.services.working.algo.AlgoDriver` when an execution algorithm
   works it on the simulated venues, :class:`~ems.services.working.destination.DestinationDriver` when a
   destination (the RFQ platform) does. What both share (the window, the stop rule, the closes once nothing
   is held, the result) is :class:`~ems.services.working.base.ParentDriver`; writing the loop's journal to
   rows is :mod:`ems.services.working.journal`.
3. The next tick is enqueued after commit (:mod:`ems.services.ticks`, the one owner of the tick task).

Idempotent: a duplicate tick finds the state already advanced and only moves it to a later "now"; the
unique ``exec_id`` of each fill is the database's last word on double booking. Client order ids are
namespaced per parent and epoch, venue order ids per parent (:mod:`ems.services.children`).
"""

from __future__ import annotations

from django.db import transaction

from ems.destinations import destination_for
from ems.models import ParentOrder
from ems.services.ticks import parent_tick_enqueue
from ems.services.working.algo import AlgoDriver
from ems.services.working.base import TickResult, tick_until_us
from ems.services.working.destination import DestinationDriver


def parent_tick(*, parent_id: int) -> TickResult | None:
    """Work one parent up to market time now (see the module docstring). None: another tick holds it."""
    with transaction.atomic():
        parent = (
            ParentOrder.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("instrument").filter(pk=parent_id).first()
        )
        if parent is None:
            return None
        destination = destination_for(parent.strategy)
        driver = DestinationDriver(parent, destination) if destination is not None else AlgoDriver(parent)
        result = driver.run()
        if result.active:
            parent_tick_enqueue(parent.pk, countdown=result.next_tick_s)
    return result


__all__ = ["AlgoDriver", "DestinationDriver", "TickResult", "tick_until_us", "parent_tick"]
