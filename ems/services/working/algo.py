"""A parent an execution algorithm works on the simulated venues: its part of an instrument-day's tick.

Every parent on an instrument-day trades against the one shared simulator of
:class:`~ems.services.working.live.LiveMarket`; the tick (:mod:`ems.services.working.instrument`) runs them
together in one event loop (:func:`ems.algos.loop.drive_many`). For each parent:

1. :meth:`AlgoDriver.prepare`: the algorithm's context and the algorithm are restored from ``driver_state``
   and ``algo_state`` (a parent not worked yet gets its first plan when the tick reaches its start,
   :meth:`AlgoDriver.start_first_plan`: a new algorithm from ``parent.strategy`` / ``parent.params`` for the
   remaining quantity). A parent that is paused, halted, being cancelled, re-planning (``replan`` set, a
   strategy change, a constituent whose cancel is pending) or past its end has its children cancelled; its
   algorithm sends nothing and its reports are only recorded.
2. The loop runs every parent to "now" (:meth:`AlgoDriver.entry` is the parent's part of it).
3. :meth:`AlgoDriver.finish`: what happened is written in the order it happened
   (:mod:`ems.services.working.journal`). Once nothing is at a venue: a cancel closes the parent CANCELLED,
   a re-plan releases the pending-cancel constituents and starts a new epoch (a new algorithm for the
   remaining quantity from now, same end), and the end closes it EXPIRED (FILLED is booked by the last
   fill). The context and the algorithm are saved on the parent.
"""

from __future__ import annotations

from django.conf import settings

from ems.algos import ALGORITHMS, algo_from_state, algo_params
from ems.algos.base import ExecutionAlgo
from ems.algos.context import AlgoContext
from ems.algos.loop import Entry, deliver_reports, drive_many
from ems.algos.types import StrategyName
from ems.destinations import parents_stop_on_commit
from ems.models import ChildOrder, ParentOrder, Venue
from ems.selectors import instrument_params, live_clock
from ems.services.working.base import ACTOR, WORKING, ParentDriver, TickResult
from ems.services.working.journal import TickCounts, journal_apply
from ems.services.working.live import LiveMarket
from ems.sim.clock import SESSION_US
from ems.states import Control, ExecStatus
from oms.audit_events import AuditEventType
from oms.services.audit import PendingEvent, audit_append

MIN_COUNTDOWN_S = 0.02


class AlgoDriver(ParentDriver):
    """One parent's part of an instrument-day's tick (see the module docstring)."""

    def __init__(self, parent: ParentOrder, live: LiveMarket, now: int, venues: dict[str, Venue]) -> None:
        super().__init__(parent, now)
        self.counts = TickCounts()
        self.venues = venues
        self.live = live
        self.sim = live.sim
        self.algo: ExecutionAlgo | None = None
        self.ctx: AlgoContext | None = None
        self.cancel_sent: set[str] = set()  # venue order ids whose cancel the simulator has (or had) on its way
        self.skip = False  # closed and nothing in flight: nothing to do

    # --- the tick's phases --------------------------------------------------------------------------
    def prepare(self) -> None:
        """Restore the parent's context and algorithm; cancel the children of a parent that may not act."""
        p = self.parent
        ds = p.driver_state or {}
        if not p.is_open and not ds.get("active"):
            self.skip = True
            return
        self.cancel_sent = set(ds.get("cancel_sent", []))
        if ds.get("ctx"):
            self.ctx = AlgoContext.from_state(self.live.market, self.sim, ds["ctx"], owner=p.pk)
            if p.algo_state:
                self.algo = algo_from_state(p.algo_state)
                self.ctx.algo = self.algo
        if not self.needs_first_plan() and not self._algo_may_act():
            self._quiesce()

    def needs_first_plan(self) -> bool:
        """Working and never planned: the algorithm starts at :meth:`first_start_us`."""
        return not self.skip and self.algo is None and self._working() and (self.ctx is None or not self.ctx.ended)

    def first_start_us(self) -> int:
        """When the first plan starts: when the parent was created (its ``last_tick_us``), at the latest now."""
        return min(max(self.parent.last_tick_us, self.sim.time), self.now)

    def start_first_plan(self) -> None:
        """Start the first plan at the simulator's time (the tick brought it to :meth:`first_start_us`)."""
        self._new_epoch(first=True)
        if not self._algo_may_act():
            self._quiesce()

    def entry(self) -> Entry | None:
        """The parent's part of the tick's event loop (None: nothing to run)."""
        if self.skip:
            return None
        if self.ctx is None:  # never worked (paused before its first tick): an empty context at the sim's time
            self.ctx = AlgoContext.idle(self.sim, owner=self.parent.pk)
        if self._algo_may_act():
            return Entry(self.ctx, self.algo, self.algo.p.end)
        return Entry(self.ctx, None, 0)

    def finish(self) -> TickResult:
        """Write the parent's journal, quiesce it if it may not act any more, settle it, save it."""
        p = self.parent
        if self.skip:
            return self._result(active=False)
        self.write_journal()
        self._refresh()
        if not self._algo_may_act():
            self._quiesce()
        stop = self.stop_reason()
        if stop:
            parents_stop_on_commit([p], reason=stop)
        self._settle()
        return self.save()

    def _working(self) -> bool:
        """Working, running, and no re-plan pending (the algorithm may act)."""
        p = self.parent
        return p.status in WORKING and p.control == Control.RUNNING and not p.replan and not self.pending_cancel_orders()

    def _algo_may_act(self) -> bool:
        return self._working() and self.algo is not None and self.ctx is not None and not self.ctx.ended

    def _refresh(self) -> None:
        self.parent.refresh_from_db(fields=["status", "quantity", "filled_quantity", "reserved_quantity", "control", "notional",
                                            "avg_price", "fees", "completed_at"])

    # --- save ---------------------------------------------------------------------------------------------
    def save(self) -> TickResult:
        """Save the context and the algorithm on the parent; return the tick's result."""
        p = self.parent
        active = p.is_open or self.sim.busy_for(p.pk) or self._open_children_exist()
        open_ids = {o.order_id for o in self.sim.open_orders(owner=p.pk)}
        if self.ctx is None:
            self.ctx = AlgoContext.idle(self.sim, owner=p.pk)
        p.driver_state = {"active": active, "epoch": p.epoch, "cancel_sent": sorted(self.cancel_sent & open_ids),
                          "ctx": self.ctx.state()}
        p.algo_state = self.algo.state() if self.algo is not None else {}
        p.last_tick_us = max(p.last_tick_us, min(self.sim.time, SESSION_US))
        p.save(update_fields=["driver_state", "algo_state", "last_tick_us", "replan", "epoch", "updated_at"])
        return self._result(active=active)

    def _result(self, *, active: bool) -> TickResult:
        c = self.counts
        return self.result(active=active, next_tick_s=self._next_tick_s() if active else None, sent=c.sent, cancels=c.cancels,
                           reports=c.reports, fills=c.fills)

    def _next_tick_s(self) -> float:
        tick = settings.EMS_TICK_S
        times = [t for t in (self.sim.next_report_time(), self.ctx.next_timer if self.ctx is not None and not self.ctx.ended else None)
                 if t is not None]
        if not times:
            return tick
        ahead = min(times) - self.now
        return max(MIN_COUNTDOWN_S, min(tick, live_clock().wall_seconds(max(0, ahead))))

    # --- epochs -------------------------------------------------------------------------------------
    def _new_epoch(self, *, first: bool) -> None:
        """Start a plan: a new algorithm for what is left, from now to the parent's end."""
        p = self.parent
        remaining = p.workable_quantity  # what an open RFQ holds is not the algorithm's to work
        start = self.sim.time
        # The first plan keeps the end the selection matrix gave it; a re-plan works to the parent's end.
        end = min(int(p.params.get("end", p.end_us)), self.end_us) if first else self.end_us
        if remaining <= 0 or start >= end:
            self.algo = None
            return
        if not first:
            p.epoch += 1
        params = algo_params(p.strategy, p.params, qty=remaining, start=start, end=end)
        self.algo = ALGORITHMS[StrategyName(p.strategy)](params, instrument_params(p.instrument))
        self.ctx = AlgoContext(self.live.market, self.sim, start, owner=p.pk)
        self.ctx.algo = self.algo
        reason = p.replan or "first tick"
        p.replan = ""
        audit_append([PendingEvent(ACTOR, AuditEventType.PARENT_ORDER_PLAN_STARTED, "parent_order", p.pk,
                                   after={"epoch": p.epoch, "strategy": p.strategy, "qty": remaining, "start_us": start, "end_us": end},
                                   reason=reason)])
        self.algo.on_start(self.ctx)

    def _drive_alone(self) -> None:
        """Run this parent's new plan at "now" (a re-plan after the shared loop: the simulator is at now)."""
        drive_many([Entry(self.ctx, self.algo, self.algo.p.end)], self.sim, self.now)
        self.write_journal()

    def write_journal(self) -> None:
        """Write what the context journaled since the last call (:func:`journal_apply`)."""
        if self.ctx is None:
            return
        journal, self.ctx.journal = self.ctx.journal, []
        journal_apply(self.parent, journal, venues=self.venues, cancel_sent=self.cancel_sent, counts=self.counts, actor=ACTOR)

    # --- cancelling everything --------------------------------------------------------------------------
    def _quiesce(self) -> None:
        """Cancel every open child; its reports are delivered by the tick's loop (the algorithm is not called)."""
        if self.ctx is None:
            self.ctx = AlgoContext.idle(self.sim, owner=self.parent.pk)
        self._cancel_open_children()
        if self.sim.time >= self.now:
            deliver_reports(self.ctx, self.sim, self.now)
            self.write_journal()

    def _cancel_open_children(self) -> None:
        """Send a cancel for every order still working at the venues that has none on its way yet."""
        t = self.sim.time
        if t >= SESSION_US:
            return  # the close expires whatever still rests
        for o in self.sim.open_orders(owner=self.parent.pk):
            if o.order_id not in self.cancel_sent:
                self.sim.cancel(o.order_id, t)
                self.ctx.journal.append(("cancel", o.order_id, t))

    def _open_children_exist(self) -> bool:
        return ChildOrder.objects.filter(parent=self.parent, status__in=ExecStatus.open()).exists()

    # --- closing, re-planning ---------------------------------------------------------------------------
    def _settle(self) -> None:
        p = self.parent
        idle = not self.sim.busy_for(p.pk) and not self._open_children_exist()
        self._refresh()
        if not idle or not p.is_open:
            return
        if p.reserved_quantity and self.stop_reason():
            return  # a destination (an RFQ) still holds part of it: it was asked to stop; its close ticks us
        done = self.close_or_release()
        if done == "released":
            p.refresh_from_db(fields=["status", "quantity", "filled_quantity", "completed_at"])
            if p.is_open and p.control == Control.RUNNING:
                self._replan("constituent cancelled")
        elif done is not None:
            pass
        elif p.control != Control.RUNNING:
            return
        elif p.replan:
            self._replan(p.replan)
        elif self.ctx is not None and self.ctx.ended:
            # The plan ended before the window did (its own end): a fresh plan for what is left.
            self._replan("plan ended early")
        else:
            return
        p.refresh_from_db(fields=["status", "quantity", "filled_quantity", "completed_at"])

    def _replan(self, reason: str) -> None:
        p = self.parent
        p.replan = reason
        self._new_epoch(first=False)
        if self._algo_may_act():
            self._drive_alone()
        elif self.algo is None and p.is_open and self.now >= self.end_us:
            self.expire()
