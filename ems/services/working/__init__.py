"""The live driver: one Celery tick works every parent of one instrument-day up to market time "now".

- :mod:`ems.services.working.instrument`: the tick of an instrument-day (lease, locks, the shared loop, save);
- :mod:`ems.services.working.live`: the instrument-day's market and venue simulator, kept in the owning
  worker's memory and rebuilt from the database only when a worker takes the instrument-day over;
- :class:`~ems.services.working.algo.AlgoDriver`: a parent an execution algorithm works on the simulated venues;
  :class:`~ems.services.working.destination.DestinationDriver`: a parent a destination (the RFQ platform) works;
  what both share (the window, the stop rule, the closes once nothing is held, the result) is
  :class:`~ems.services.working.base.ParentDriver`; writing the loop's journal to rows is
  :mod:`ems.services.working.journal`;
- the next tick is enqueued after commit (:mod:`ems.services.ticks`, the one owner of the tick task).

Idempotent: a duplicate tick finds the state already advanced and only moves it to a later "now"; the
unique ``exec_id`` of each fill is the database's last word on double booking. Client order ids are
namespaced per parent and epoch (:mod:`ems.services.children`), venue order ids per instrument-day.
"""

from __future__ import annotations

from ems.models import ParentOrder
from ems.services.working.algo import AlgoDriver
from ems.services.working.base import TickResult, tick_until_us
from ems.services.working.destination import DestinationDriver
from ems.services.working.instrument import InstrumentTickResult, instrument_day_tick


def parent_tick(*, parent_id: int) -> TickResult | None:
    """Tick the parent's instrument-day (every parent on it) and return this parent's part. None: the
    instrument-day's tick did nothing (another tick holds it, or another worker owns it)."""
    parent = ParentOrder.objects.only("instrument_id", "market_day").get(pk=parent_id)
    result = instrument_day_tick(instrument_id=parent.instrument_id, day=parent.market_day)
    if result is None:
        return None
    if parent_id in result.parents:
        return result.parents[parent_id]
    p = ParentOrder.objects.get(pk=parent_id)
    return TickResult(p.pk, p.status, p.control, p.epoch, result.market_us, 0, 0, 0, 0, active=False, next_tick_s=None)


__all__ = ["AlgoDriver", "DestinationDriver", "InstrumentTickResult", "TickResult", "instrument_day_tick", "parent_tick",
           "tick_until_us"]
