"""The driver of a parent whose strategy a destination works (the RFQ platform; :mod:`ems.destinations`).

No algorithm and no simulated venue: while the parent is working and running, holds nothing at the
destination and has something left, the destination is asked to work it (an RFQ round); when it declines
(its rounds are spent, a round executed nothing, nobody quotes), the rest is worked by IS from now to the
parent's end, recorded in the selection reason and audited, and the next tick runs the algorithm. A parent
that must stop asks the destination to stop and settles (cancelled, expired, constituents released) once
nothing is held. The destination's closes enqueue the next tick; the chain also ticks every ``EMS_TICK_S``
so the end of the window is seen.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from ems.algos import algo_params
from ems.algos.types import StrategyName
from ems.broadcast import parents_changed_on_commit
from ems.destinations import Destination, parents_stop_on_commit
from ems.models import ParentOrder
from ems.services.working.base import ACTOR, WORKING, ParentDriver, TickResult
from ems.states import Control
from oms.audit_events import AuditEventType
from oms.services.audit import PendingEvent, audit_append


class DestinationDriver(ParentDriver):
    """One tick of a parent a destination works (see the module docstring)."""

    def __init__(self, parent: ParentOrder, destination: Destination, now: int) -> None:
        super().__init__(parent, now)
        self.destination = destination

    def finish(self) -> TickResult:
        p = self.parent
        if not p.is_open:
            return self._result(active=False)
        stop = self.stop_reason()
        if stop:
            parents_stop_on_commit([p], reason=stop)
            if not p.reserved_quantity:
                self.close_or_release()  # closes it, or releases the cancelled constituents and goes on with the rest
                p.refresh_from_db(fields=["status", "quantity", "filled_quantity", "reserved_quantity", "completed_at"])
                self._pc = None
                stop = self.stop_reason() if p.is_open else "closed"
        if not stop and p.status in WORKING and p.control == Control.RUNNING and not p.reserved_quantity and p.workable_quantity > 0:
            p.replan = ""
            why = self.destination.parent_work(p, actor=ACTOR)
            p.refresh_from_db(fields=["reserved_quantity", "status", "filled_quantity"])
            if why is not None:
                self._fall_back(why)
        p.last_tick_us = max(p.last_tick_us, self.now)
        p.driver_state = {"active": p.is_open, "destination": self.destination.strategy}
        p.save(update_fields=["last_tick_us", "driver_state", "replan", "strategy", "params", "selection_reason", "epoch", "updated_at"])
        return self._result(active=p.is_open and p.control != Control.PAUSED)

    def _fall_back(self, why: str) -> None:
        """Work what is left with IS from now to the parent's end (the destination would not). Not through the
        selection matrix: it would send a block straight back to the destination."""
        p = self.parent
        params = algo_params(StrategyName.IS, p.params, qty=p.workable_quantity, start=self.now, end=self.end_us).to_dict()
        before = {"strategy": p.strategy, "params": p.params}
        p.strategy, p.params = StrategyName.IS.value, params
        p.replan = f"{before['strategy']} fallback: is"
        stamp = timezone.now().strftime("%H:%M:%S")
        p.selection_reason = f"{p.selection_reason}\n{stamp} {why}: the rest ({p.workable_quantity:,}) is worked by IS".strip()
        audit_append([PendingEvent(ACTOR, AuditEventType.PARENT_ORDER_STRATEGY_CHANGED, "parent_order", p.pk, before=before,
                                   after={"strategy": p.strategy, "params": p.params, "quantity": p.workable_quantity}, reason=why)])
        parents_changed_on_commit([p])

    def _result(self, *, active: bool) -> TickResult:
        return self.result(active=active, next_tick_s=settings.EMS_TICK_S)
