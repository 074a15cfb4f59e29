"""The live driver: one Celery tick works one parent order up to market time "now".

Each tick, in one transaction under the parent's row lock (a tick already running for the parent makes
this one skip, ``SKIP LOCKED``):

1. Market time "now" from the deployment's :func:`ems.selectors.live_clock`, capped at the session close
   (a parent whose market day is over is run to the close, its resting orders expire, and it expires).
2. The market is rebuilt from the seed and every lit / dark fill of the instrument-day in the database
   up to the simulator's time, plus the fills of reports still in flight (in the saved simulator state):
   the impact of all our trading shows and no worker holds the market in memory.
3. The simulator, the algorithm's context and the algorithm are restored from ``driver_state`` and
   ``algo_state`` (first tick: a new algorithm from ``parent.strategy`` / ``parent.params`` for the
   remaining quantity, started at ``last_tick_us``), and the shared event loop
   (:func:`ems.algos.backtest.drive`, the backtest's own) runs to "now".
4. What happened, in the order it happened (the context's journal): each order sent becomes a
   ChildOrder (PENDING_NEW, audited "child_order.placed" with the algorithm's decision), each cancel a
   "pending_cancel" report, each execution report is booked (``fill_book`` for fills,
   ``child_reports_apply`` for the rest).
5. A parent that is paused, halted, being cancelled, re-planning (``replan`` set, a strategy change, a
   constituent whose cancel is pending) or past its end only has its children cancelled and their reports
   processed; the algorithm sends nothing. Once nothing is at a venue: a cancel closes the parent
   CANCELLED, a re-plan releases the pending-cancel constituents and starts a new epoch (a new algorithm
   for the remaining quantity from now, same end), and the end closes it EXPIRED (FILLED is booked by the
   last fill).
6. The state is saved and the next tick is enqueued after commit: after ``EMS_TICK_S``, or sooner when
   the algorithm's next timer or the next report delivery comes first.

Idempotent: a duplicate tick finds the state already advanced and only moves it to a later "now"; the
unique ``exec_id`` of each fill is the database's last word on double booking. Client order ids are
namespaced per parent and epoch (``P<parent>E<epoch>-``), venue order ids per parent (``P<parent>-``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ems.algos import ALGORITHMS, algo_from_state
from ems.algos.base import ExecutionAlgo
from ems.algos.live import LiveContext, drive, live_state, pending_fills
from ems.algos.types import StrategyName
from ems.broadcast import parents_changed_on_commit
from ems.destinations import Destination, destination_for, parents_stop_on_commit
from ems.models import ChildOrder, Constituent, ParentOrder, Venue
from ems.models import Fill as FillRow
from ems.selectors import instrument_params, live_clock, venue_profiles
from ems.services.booking import Execution, child_reports_apply, fills_book
from ems.services.closing import constituent_release, parent_order_close
from ems.sim.clock import SESSION_US, US
from ems.sim.exchange import VenueSimulator
from ems.sim.market import Market
from ems.sim.orders import ExecutionReport, Liquidity, ReportKind, Side
from ems.sim.orders import Fill as SimFill
from ems.states import Control, ExecStatus
from oms.audit_events import AuditEventType
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.states import OrderStatus

log = logging.getLogger(__name__)

TICK_TASK = "ems.tasks.parent_tick"
ACTOR = Actor.system("ems.parent_tick")
S = ExecStatus
WORKING = (S.ACCEPTED, S.PARTIALLY_FILLED)
MIN_COUNTDOWN_S = 0.02
_REPORT_KINDS = {
    ReportKind.ACK: "ack",
    ReportKind.CANCELLED: "cancelled",
    ReportKind.REJECTED: "rejected",
    ReportKind.EXPIRED: "expired",
    ReportKind.CANCEL_REJECTED: "cancel_rejected",
}


@dataclass(frozen=True)
class TickResult:
    """What one tick did (for logs, tests and the benchmark)."""

    parent_id: int
    status: str
    control: str
    epoch: int
    market_us: int
    sent: int
    cancels: int
    reports: int
    fills: int
    active: bool  # anything still to do (working, or children / reports at the venues)
    next_tick_s: float | None


def tick_queue() -> str | None:
    """The Celery queue EMS ticks go to (None: the default queue). Tests give workers a queue of their own."""
    return settings.EMS_QUEUE


def parent_tick_enqueue(parent_id: int, *, countdown: float | None = None) -> None:
    """Send one tick of ``parent_id`` after the current transaction commits (at once outside one)."""
    def send() -> None:
        current_app.send_task(TICK_TASK, args=[parent_id], countdown=countdown, queue=tick_queue())

    transaction.on_commit(send)


def prefix_for(parent: ParentOrder) -> str:
    """Venue order ids and exec ids of a parent's simulator: unique across parents."""
    return f"P{parent.pk}-"


def client_order_id_for(parent: ParentOrder, epoch: int, sim_client_order_id: str) -> str:
    """Our ClOrdID (FIX 11) for a child: the algorithm's id namespaced per parent and epoch."""
    return f"P{parent.pk}E{epoch}-{sim_client_order_id}"


def market_now(parent: ParentOrder) -> int:
    """Market µs the parent's tick runs to: now on its day, capped at the close (+ the reports of the
    close when the day is over)."""
    mt = live_clock().market_time()
    if mt.day > parent.market_day:
        return SESSION_US + _drain_us()
    if mt.day < parent.market_day:
        return parent.last_tick_us
    return min(mt.t_us, SESSION_US)


def _drain_us() -> int:
    profiles = venue_profiles()
    return 2 * max((v.latency_us for v in profiles), default=0) + 1


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
        driver = _DestinationDriver(parent, destination) if destination is not None else _Driver(parent)
        result = driver.run()
        if result.active:
            parent_tick_enqueue(parent.pk, countdown=result.next_tick_s)
    return result


class _Driver:
    """One tick of one parent (inside the tick's transaction, the parent locked)."""

    def __init__(self, parent: ParentOrder) -> None:
        self.parent = parent
        self.now = max(market_now(parent), parent.last_tick_us)
        self.counts = {"sent": 0, "cancels": 0, "reports": 0, "fills": 0}
        self.venues = {v.code: v for v in Venue.objects.all()}
        self.strategy: ExecutionAlgo | None = None
        self.ctx: LiveContext | None = None
        self.sim: VenueSimulator | None = None
        self._pc: list[int] | None = None  # constituent orders whose cancel is pending
        self.cancel_sent: set[str] = set()  # venue order ids whose cancel the simulator has (or had) on its way

    # --- the tick ---------------------------------------------------------------------------------
    def run(self) -> TickResult:
        p = self.parent
        ds = p.driver_state or {}
        if not p.is_open and not ds.get("active"):
            return self._result(active=False)
        self._restore(ds)
        if self.strategy is None and self._working() and (self.ctx is None or not self.ctx.ended):
            self._new_epoch(first=True)
        if self._strategy_may_act():
            self._drive()
            self._refresh()
        if not self._strategy_may_act():
            self._quiesce()
        stop = _stop_reason(p, self.now, self._end(), self._pending_cancel_orders())
        if stop:
            parents_stop_on_commit([p], reason=stop)
        self._settle()
        return self._save()

    def _working(self) -> bool:
        """Working, running, and no re-plan pending (the algorithm may act)."""
        p = self.parent
        return p.status in WORKING and p.control == Control.RUNNING and not p.replan and not self._pending_cancel_orders()

    def _strategy_may_act(self) -> bool:
        return self._working() and self.strategy is not None and self.ctx is not None and not self.ctx.ended

    def _refresh(self) -> None:
        self.parent.refresh_from_db(fields=["status", "quantity", "filled_quantity", "reserved_quantity", "control", "notional",
                                            "avg_price", "fees", "completed_at"])

    def _end(self) -> int:
        return min(self.parent.end_us, SESSION_US)

    def _pending_cancel_orders(self) -> list[int]:
        if self._pc is None:
            self._pc = list(
                Constituent.objects.filter(parent=self.parent, order__status=OrderStatus.PENDING_CANCEL)
                .order_by("order_id").values_list("order_id", flat=True)
            )
        return self._pc

    # --- restore / save -----------------------------------------------------------------------------
    def _market(self, sim_time: int, in_flight: list[SimFill]) -> Market:
        p = self.parent
        rows = (
            FillRow.objects.filter(instrument=p.instrument, market_day=p.market_day, venue__kind__in=(Venue.Kind.LIT, Venue.Kind.DARK),
                                   market_time_us__lte=sim_time)
            .order_by("market_time_us", "id").values_list("exec_id", "venue__code", "side", "quantity", "price", "liquidity", "fee", "market_time_us")
        )
        seen = {f.exec_id for f in in_flight}
        fills = [
            SimFill(exec_id, "", "", venue, Side(side), qty, float(price), Liquidity(liquidity), float(fee), t, p.market_day)
            for exec_id, venue, side, qty, price, liquidity, fee, t in rows if exec_id not in seen
        ]
        return Market(instrument_params(p.instrument), seed=settings.SIM_SEED, day=p.market_day, venues=venue_profiles(),
                      fills=fills + in_flight)

    def _restore(self, ds: dict) -> None:
        p = self.parent
        prefix = prefix_for(p)
        self.cancel_sent = set(ds.get("cancel_sent", []))
        if ds.get("sim"):
            market = self._market(int(ds["sim"]["time"]), pending_fills(ds))
            self.sim = VenueSimulator.from_state(market, ds["sim"], id_prefix=prefix)
            self.ctx = LiveContext.from_state(market, self.sim, ds["ctx"], prefix="")
        else:
            market = self._market(p.last_tick_us, [])
            self.sim = VenueSimulator(market, id_prefix=prefix)
            self.sim.advance(min(p.last_tick_us, SESSION_US))
            self.ctx = None
        if p.algo_state and self.ctx is not None:
            self.strategy = algo_from_state(p.algo_state)
            self.ctx.strategy = self.strategy

    def _save(self) -> TickResult:
        p = self.parent
        busy = self.sim.busy
        active = p.is_open or busy or self._open_children_exist()
        open_ids = {o.order_id for o in self.sim.open_orders()}
        p.driver_state = {"active": active, "epoch": p.epoch, "cancel_sent": sorted(self.cancel_sent & open_ids),
                          **live_state(self._ctx_for_save(), self.sim)}
        p.algo_state = self.strategy.state() if self.strategy is not None else {}
        p.last_tick_us = max(p.last_tick_us, min(self.sim.time, SESSION_US))
        p.save(update_fields=["driver_state", "algo_state", "last_tick_us", "replan", "epoch", "updated_at"])
        return self._result(active=active)

    def _ctx_for_save(self) -> LiveContext:
        if self.ctx is None:  # never worked (paused before its first tick): an empty context at the sim's time
            self.ctx = LiveContext(self.sim.market, self.sim, self.sim.time)
            self.ctx.ended = True
        return self.ctx

    def _result(self, *, active: bool) -> TickResult:
        p = self.parent
        return TickResult(p.pk, p.status, p.control, p.epoch, self.now, active=active,
                          next_tick_s=self._next_tick_s() if active else None, **self.counts)

    def _next_tick_s(self) -> float:
        tick = settings.EMS_TICK_S
        if self.sim is None:
            return tick
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
        start = self.sim.time if first else self.now
        # The first plan keeps the end the selection matrix gave it; a re-plan works to the parent's end.
        end = min(int(p.params.get("end", p.end_us)), self._end()) if first else self._end()
        if remaining <= 0 or start >= end:
            self.strategy = None
            return
        if not first:
            p.epoch += 1
        name = StrategyName(p.strategy)
        cls = ALGORITHMS[name]
        params = cls.Params.from_dict({**p.params, "qty": remaining, "start": start, "end": end})
        self.strategy = cls(params, instrument_params(p.instrument))
        self.ctx = LiveContext(self.sim.market, self.sim, start)
        self.ctx.strategy = self.strategy
        reason = p.replan or "first tick"
        p.replan = ""
        audit_append([PendingEvent(ACTOR, AuditEventType.PARENT_ORDER_PLAN_STARTED, "parent_order", p.pk,
                                   after={"epoch": p.epoch, "strategy": p.strategy, "qty": remaining, "start_us": start, "end_us": end},
                                   reason=reason)])
        self.strategy.on_start(self.ctx)

    def _drive(self) -> None:
        drive(self.strategy, self.ctx, self.sim, self.now, end=self.strategy.p.end)
        self._apply_journal()

    # --- cancelling everything --------------------------------------------------------------------------
    def _quiesce(self) -> None:
        """Cancel every open child and deliver the reports up to now; the algorithm is not called."""
        if self.ctx is None:
            self.ctx = LiveContext(self.sim.market, self.sim, self.sim.time)
            self.ctx.ended = True
        self._cancel_open_children()
        for report in self.sim.advance(max(self.now, self.sim.time)):
            self.ctx.record(report)
        self.ctx._clock.advance_to(max(self.ctx.now, self.sim.time))
        self._apply_journal()

    def _cancel_open_children(self) -> None:
        """Send a cancel for every order still working at the venues that has none on its way yet."""
        t = self.sim.time
        if t >= SESSION_US:
            return  # the close expires whatever still rests
        for o in self.sim.open_orders():
            if o.order_id not in self.cancel_sent:
                self.sim.cancel(o.order_id, t)
                self.ctx.journal.append(("cancel", o.order_id, t))

    def _open_children_exist(self) -> bool:
        return ChildOrder.objects.filter(parent=self.parent, status__in=S.open()).exists()

    # --- closing, re-planning ---------------------------------------------------------------------------
    def _settle(self) -> None:
        p = self.parent
        idle = not self.sim.busy and not self._open_children_exist()
        self._refresh()
        if not idle or not p.is_open:
            return
        if p.reserved_quantity and _stop_reason(p, self.now, self._end(), self._pending_cancel_orders()):
            return  # a destination (an RFQ) still holds part of it: it was asked to stop; its close ticks us
        if p.status == S.PENDING_CANCEL:
            parent_order_close(parent_id=p.pk, status=S.CANCELLED, actor=ACTOR, reason="cancel requested")
        elif self._pending_cancel_orders():
            for order_id in self._pending_cancel_orders():
                constituent_release(order_id=order_id, actor=ACTOR)
            self._pc = []
            p.refresh_from_db(fields=["status", "quantity", "filled_quantity", "completed_at"])
            if p.is_open and p.control == Control.RUNNING:
                self._replan("constituent cancelled")
        elif self.now >= self._end():
            parent_order_close(parent_id=p.pk, status=S.EXPIRED, actor=ACTOR, reason="end of the working window")
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
        if self._strategy_may_act():
            self._drive()
        elif self.strategy is None and p.is_open and self.now >= self._end():
            parent_order_close(parent_id=p.pk, status=S.EXPIRED, actor=ACTOR, reason="end of the working window")

    # --- writing what happened ----------------------------------------------------------------------
    def _apply_journal(self) -> None:
        """Write the chunk's sends, cancels and reports to the database in the order they happened."""
        journal, self.ctx.journal = self.ctx.journal, []
        if not journal:
            return
        p = self.parent
        sent_ids = [e[1].order_id for e in journal if e[0] == "send"]
        children = {c.venue_order_id: c for c in ChildOrder.objects.filter(parent=p).filter(
            venue_order_id__in=[e[1] for e in journal if e[0] == "cancel"]
            + [e[1].order_id for e in journal if e[0] == "report"]).exclude(venue_order_id__in=sent_ids)}
        fills: list[tuple[int, Execution]] = []
        reports: list[tuple[int, str, str]] = []  # non-fill reports and cancel requests
        new_children: list[ChildOrder] = []

        def flush() -> None:
            # Runs of the same kind go in one batch; a change of kind flushes, so the order stays the journal's.
            if new_children:
                created = ChildOrder.objects.bulk_create(new_children)
                audit_append([PendingEvent(ACTOR, AuditEventType.CHILD_ORDER_PLACED, "child_order", c.pk, after=child_audit_dict(c)) for c in created])
                for c in created:
                    children[c.venue_order_id] = c
                new_children.clear()
            if fills:
                self.counts["fills"] += len(fills_book(executions=list(fills), actor=ACTOR))
                fills.clear()
            if reports:
                child_reports_apply(reports=list(reports), actor=ACTOR)
                reports.clear()

        for entry in journal:
            kind = entry[0]
            if kind == "send":
                if fills or reports:
                    flush()
                new_children.append(self._child_row(entry[1]))
                self.counts["sent"] += 1
                continue
            if kind == "cancel":
                if new_children or fills:
                    flush()
                self.cancel_sent.add(entry[1])
                child = children.get(entry[1])
                if child is not None:
                    reports.append((child.pk, "pending_cancel", ""))
                    self.counts["cancels"] += 1
                continue
            report: ExecutionReport = entry[1]
            self.counts["reports"] += 1
            child = children.get(report.order_id) or (flush() or children.get(report.order_id))
            if child is None:
                log.warning("parent %s: report for unknown order %s", p.pk, report.order_id)
                continue
            if report.fill is not None:
                if new_children or reports:
                    flush()
                fills.append((child.pk, _execution(report.fill)))
            else:
                if new_children or fills:
                    flush()
                reports.append((child.pk, _REPORT_KINDS[report.kind], report.reason))
        flush()
        parents_changed_on_commit([p])

    def _child_row(self, sent) -> ChildOrder:
        p, req = self.parent, sent.req
        venue = self.venues[req.venue]
        kind = _child_kind(sent.reason, venue.kind)
        return ChildOrder(
            parent=p, epoch=p.epoch, venue=venue, client_order_id=client_order_id_for(p, p.epoch, req.client_order_id),
            venue_order_id=sent.order_id, side=req.side.value, order_type=req.order_type.value, time_in_force=req.tif.value,
            price=None if req.price is None else Decimal(repr(req.price)), quantity=req.qty, kind=kind,
            status=S.PENDING_NEW, reason=sent.reason[:64], sent_us=sent.t_us, created_at=timezone.now(), updated_at=timezone.now(),
        )


def _child_kind(reason: str, venue_kind: str) -> str:
    if venue_kind == Venue.Kind.DARK:
        return "dark"
    action = reason.split(":", 1)[0]
    return {"passive": "passive", "finish": "finish"}.get(action, "take")


def child_audit_dict(c: ChildOrder) -> dict:
    """A child order as its ``child_order.placed`` audit row records it (the RFQ platform's children too)."""
    return {"parent_id": c.parent_id, "epoch": c.epoch, "venue": c.venue.code, "client_order_id": c.client_order_id,
            "venue_order_id": c.venue_order_id, "side": c.side, "order_type": c.order_type, "time_in_force": c.time_in_force,
            "price": c.price, "quantity": c.quantity, "kind": c.kind, "reason": c.reason, "sent_us": c.sent_us}


def _execution(f: SimFill) -> Execution:
    return Execution(
        exec_id=f.exec_id, venue_code=f.venue, side=f.side.value, quantity=int(f.qty), price=Decimal(repr(f.price)),
        liquidity=f.liquidity.value, fee=Decimal(repr(f.fee)), market_day=f.day, market_time_us=f.time,
    )


def _stop_reason(parent: ParentOrder, now: int, end: int, pending_cancel_orders: list[int]) -> str:
    """Why what a destination holds for ``parent`` must be stopped ("" = it may go on). A pause stops it once
    (the pause control asks), so that a trader may then start an RFQ on the paused parent."""
    if parent.status == S.PENDING_CANCEL:
        return "parent cancelled"
    if parent.control == Control.HALTED:
        return "kill switch"
    if pending_cancel_orders:
        return "a constituent order is being cancelled"
    if now >= end:
        return "end of the working window"
    return ""


class _DestinationDriver:
    """One tick of a parent whose strategy a destination works (the RFQ platform; ``ems.destinations``).

    No algorithm and no simulated venue: while the parent is working and running, holds nothing at the
    destination and has something left, the destination is asked to work it (an RFQ round); when it declines
    (its rounds are spent, a round executed nothing, nobody quotes), the rest is worked by IS from now to the
    parent's end, recorded in the selection reason and audited, and the next tick runs the algorithm. A
    parent that must stop asks the destination to stop and settles (cancelled, expired, constituents
    released) once nothing is held. The destination's closes enqueue the next tick; the chain also ticks
    every ``EMS_TICK_S`` so the end of the window is seen.
    """

    def __init__(self, parent: ParentOrder, destination: Destination) -> None:
        self.parent = parent
        self.destination = destination
        self.now = max(market_now(parent), parent.last_tick_us)
        self._pc: list[int] | None = None

    def _pending_cancel_orders(self) -> list[int]:
        if self._pc is None:
            self._pc = list(Constituent.objects.filter(parent=self.parent, order__status=OrderStatus.PENDING_CANCEL)
                            .order_by("order_id").values_list("order_id", flat=True))
        return self._pc

    def _end(self) -> int:
        return min(self.parent.end_us, SESSION_US)

    def run(self) -> TickResult:
        p = self.parent
        if not p.is_open:
            return self._result(active=False)
        stop = _stop_reason(p, self.now, self._end(), self._pending_cancel_orders())
        if stop:
            parents_stop_on_commit([p], reason=stop)
            if not p.reserved_quantity:
                self._settle()  # closes it, or releases the cancelled constituents and goes on with the rest
                self._pc = None
                stop = _stop_reason(p, self.now, self._end(), self._pending_cancel_orders()) if p.is_open else "closed"
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

    def _settle(self) -> None:
        p = self.parent
        if p.status == S.PENDING_CANCEL:
            parent_order_close(parent_id=p.pk, status=S.CANCELLED, actor=ACTOR, reason="cancel requested")
        elif self._pending_cancel_orders():
            for order_id in self._pending_cancel_orders():
                constituent_release(order_id=order_id, actor=ACTOR)
        elif self.now >= self._end():
            parent_order_close(parent_id=p.pk, status=S.EXPIRED, actor=ACTOR, reason="end of the working window")
        p.refresh_from_db(fields=["status", "quantity", "filled_quantity", "reserved_quantity", "completed_at"])

    def _fall_back(self, why: str) -> None:
        """Work what is left with IS from now to the parent's end (the destination would not). Not through the
        selection matrix: it would send a block straight back to the destination."""
        p = self.parent
        cls = ALGORITHMS[StrategyName.IS]
        params = cls.Params.from_dict({**p.params, "qty": p.workable_quantity, "start": self.now, "end": self._end()}).to_dict()
        before = {"strategy": p.strategy, "params": p.params}
        p.strategy, p.params = StrategyName.IS.value, params
        p.replan = f"{before['strategy']} fallback: is"
        stamp = timezone.now().strftime("%H:%M:%S")
        p.selection_reason = f"{p.selection_reason}\n{stamp} {why}: the rest ({p.workable_quantity:,}) is worked by IS".strip()
        audit_append([PendingEvent(ACTOR, AuditEventType.PARENT_ORDER_STRATEGY_CHANGED, "parent_order", p.pk, before=before,
                                   after={"strategy": p.strategy, "params": p.params, "quantity": p.workable_quantity}, reason=why)])
        parents_changed_on_commit([p])

    def _result(self, *, active: bool) -> TickResult:
        p = self.parent
        return TickResult(p.pk, p.status, p.control, p.epoch, self.now, sent=0, cancels=0, reports=0, fills=0, active=active,
                          next_tick_s=settings.EMS_TICK_S if active else None)


def parents_sweep() -> int:
    """Re-enqueue the ticks of parents whose chain stopped: open RUNNING parents not ticked for
    ``EMS_STALE_TICK_S`` (a worker died mid-chain), and parents with work left at the venues while paused,
    halted or cancelling (or closed with reports still in flight). Return how many were enqueued."""
    stale = timezone.now() - timezone.timedelta(seconds=settings.EMS_STALE_TICK_S)
    running = ParentOrder.objects.filter(status__in=WORKING, control=Control.RUNNING, updated_at__lt=stale)
    # Not running the algorithm but still with something at the venues: cancels to see through.
    others = ParentOrder.objects.filter(updated_at__lt=stale, driver_state__active=True).exclude(pk__in=running.values("pk"))
    cancelling = ParentOrder.objects.filter(status=S.PENDING_CANCEL, updated_at__lt=stale)
    ids = sorted(set(running.values_list("pk", flat=True)) | set(others.values_list("pk", flat=True))
                 | set(cancelling.values_list("pk", flat=True)))
    for pid in ids:
        current_app.send_task(TICK_TASK, args=[pid], queue=tick_queue())
    return len(ids)


__all__ = ["TickResult", "parent_tick", "parent_tick_enqueue", "parents_sweep", "market_now", "US"]
