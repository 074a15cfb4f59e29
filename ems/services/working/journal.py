"""Write what happened in a chunk of the loop (the context's journal) to the database, in that order.

Each order sent becomes a ChildOrder (PENDING_NEW, audited ``child_order.placed`` with the algorithm's
decision), each cancel a ``pending_cancel`` report, each execution report is booked (``fills_book`` for
fills, ``child_reports_apply`` for the rest). Runs of the same kind go in one batch; a change of kind
flushes the batch, so the database sees things in the journal's order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from ems.algos.context import SentOrder
from ems.broadcast import parents_changed_on_commit
from ems.models import ChildOrder, ParentOrder, Venue
from ems.services.booking import Execution, child_reports_apply, fills_book
from ems.services.children import children_place, client_order_id_for
from ems.sim.orders import ExecutionReport, ReportKind
from ems.sim.orders import Fill as SimFill
from ems.states import ExecStatus
from oms.roles import Actor

log = logging.getLogger(__name__)

_REPORT_KINDS = {
    ReportKind.ACK: "ack",
    ReportKind.CANCELLED: "cancelled",
    ReportKind.REJECTED: "rejected",
    ReportKind.EXPIRED: "expired",
    ReportKind.CANCEL_REJECTED: "cancel_rejected",
}


@dataclass
class TickCounts:
    """What a tick wrote: children sent, cancels asked, reports delivered, fills booked."""

    sent: int = 0
    cancels: int = 0
    reports: int = 0
    fills: int = 0


def journal_apply(parent: ParentOrder, journal: list[tuple], *, venues: dict[str, Venue], cancel_sent: set[str],
                  counts: TickCounts, actor: Actor) -> None:
    """Write ``journal`` (the entries of :attr:`AlgoContext.journal`) for ``parent``; add each cancel's venue
    order id to ``cancel_sent`` and what was written to ``counts``."""
    if not journal:
        return
    sent_ids = [e[1].order_id for e in journal if e[0] == "send"]
    children = {c.venue_order_id: c for c in ChildOrder.objects.filter(parent=parent).filter(
        venue_order_id__in=[e[1] for e in journal if e[0] == "cancel"]
        + [e[1].order_id for e in journal if e[0] == "report"]).exclude(venue_order_id__in=sent_ids)}
    fills: list[tuple[int, Execution]] = []
    reports: list[tuple[int, str, str]] = []  # non-fill reports and cancel requests
    new_children: list[ChildOrder] = []

    def flush() -> None:
        if new_children:
            for c in children_place(list(new_children), actor=actor):
                children[c.venue_order_id] = c
            new_children.clear()
        if fills:
            counts.fills += len(fills_book(executions=list(fills), actor=actor))
            fills.clear()
        if reports:
            child_reports_apply(reports=list(reports), actor=actor)
            reports.clear()

    for entry in journal:
        kind = entry[0]
        if kind == "send":
            if fills or reports:
                flush()
            new_children.append(_child_row(parent, entry[1], venues))
            counts.sent += 1
            continue
        if kind == "cancel":
            if new_children or fills:
                flush()
            cancel_sent.add(entry[1])
            child = children.get(entry[1])
            if child is not None:
                reports.append((child.pk, "pending_cancel", ""))
                counts.cancels += 1
            continue
        report: ExecutionReport = entry[1]
        counts.reports += 1
        child = children.get(report.order_id) or (flush() or children.get(report.order_id))
        if child is None:
            log.warning("parent %s: report for unknown order %s", parent.pk, report.order_id)
            continue
        if report.fill is not None:
            if new_children or reports:
                flush()
            fills.append((child.pk, execution_of(report.fill)))
        else:
            if new_children or fills:
                flush()
            reports.append((child.pk, _REPORT_KINDS[report.kind], report.reason))
    flush()
    parents_changed_on_commit([parent])


def _child_row(parent: ParentOrder, sent: SentOrder, venues: dict[str, Venue]) -> ChildOrder:
    req = sent.req
    venue = venues[req.venue]
    now = timezone.now()
    return ChildOrder(
        parent=parent, epoch=parent.epoch, venue=venue, client_order_id=client_order_id_for(parent, parent.epoch, req.client_order_id),
        venue_order_id=sent.order_id, side=req.side.value, order_type=req.order_type.value, time_in_force=req.tif.value,
        price=None if req.price is None else Decimal(repr(req.price)), quantity=req.qty, kind=_child_kind(sent.reason, venue.kind),
        status=ExecStatus.PENDING_NEW, reason=sent.reason[:64], sent_us=sent.t_us, created_at=now, updated_at=now,
    )


def _child_kind(reason: str, venue_kind: str) -> str:
    if venue_kind == Venue.Kind.DARK:
        return "dark"
    action = reason.split(":", 1)[0]
    return {"passive": "passive", "finish": "finish"}.get(action, "take")


def execution_of(f: SimFill) -> Execution:
    """A simulator's fill as the EMS's fill service takes it."""
    return Execution(
        exec_id=f.exec_id, venue_code=f.venue, side=f.side.value, quantity=int(f.qty), price=Decimal(repr(f.price)),
        liquidity=f.liquidity.value, fee=Decimal(repr(f.fee)), market_day=f.day, market_time_us=f.time,
    )
