"""Closing requests: the window's end (``rfq_window_close``, and ``rfqs_sweep`` for the ones whose task was
lost), a trader's cancel (``rfq_cancel``) and the EMS stopping a parent (``rfqs_cancel_for_parents``: pause,
cancel, kill switch, a switch away from RFQ, the end of the parent's window).

Every close expires the live quotes, gives the parent back what the request held and enqueues the
parent's tick (``rfq.services.common.rfq_close``). All are idempotent: a close finds the RFQ already
closed under its row lock and does nothing (a cancel of a closed RFQ is refused, ``rfq.not_open``).

At the window's end an auto RFQ executing "at the window's end" takes the best quote alive at that
instant within its thresholds and the parent's limit (last-look rejections fall through to the next);
otherwise, or if none holds, it EXPIRES (SENT with no quote: EXPIRED too).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from oms.errors import Conflict
from oms.roles import Actor
from oms.services.audit import audit_append
from rfq.error_codes import RfqErrorCode
from rfq.models import RFQ, Quote, RfqExecuteAt, RfqLeg, RfqMode
from rfq.services.common import (
    best_first,
    parent_lock,
    parent_working,
    push,
    quotes_lock,
    rfq_close,
    rfq_lock,
    within_limit,
    within_threshold,
)
from rfq.services.execution import execute_best
from rfq.services.quotes import quotes_lapse
from rfq.states import QuoteStatus, RfqStatus

log = logging.getLogger(__name__)
SWEEP_ACTOR = Actor.system("rfq.rfqs_sweep")


def rfq_window_close(*, rfq_id: int, actor: Actor) -> RFQ:
    """Close a request whose window has ended (nothing before ``window_ends_at``; nothing if closed already)."""
    with transaction.atomic():
        rfq = rfq_lock(rfq_id)
        now = timezone.now()
        if not rfq.is_open or rfq.window_ends_at is None or now < rfq.window_ends_at:
            return rfq
        quotes = quotes_lock([rfq.pk])
        parent = parent_lock(rfq.parent_id)
        ends = rfq.window_ends_at
        if rfq.mode == RfqMode.AUTO and rfq.execute_at == RfqExecuteAt.WINDOW_END and parent_working(parent):
            # Quotes firm at the window's end (their life is capped at it), not at the moment this task runs.
            alive = [q for q in quotes if q.status == QuoteStatus.LIVE and q.valid_until >= ends]
            candidates = [q for q in best_first(rfq.side, alive) if within_threshold(rfq, q) and within_limit(parent, q.price)]
            attempt = execute_best(rfq, parent, candidates, quotes=quotes, actor=actor, deadline=None)
            if attempt.quote is not None:
                audit_append(attempt.events)
                return rfq
            events = attempt.events
            reason = _expiry_reason(rfq, alive, candidates, attempt.rejected)
        else:
            events = []
            reason = "window ended with no quote" if rfq.status == RfqStatus.SENT else "window ended without an execution"
        events += rfq_close(rfq, RfqStatus.EXPIRED, quotes=quotes, parent=parent, actor=actor, reason=reason, now=now)
        audit_append(events)
        push(rfq, "expired")
    return rfq


def _expiry_reason(rfq: RFQ, alive, candidates, rejected) -> str:
    if not alive:
        return "window ended with no firm quote"
    if not candidates:
        return f"window ended: none of {len(alive)} quotes within the threshold"
    return f"window ended: every quote within the threshold was rejected on last look ({len(rejected)})"


def rfq_cancel(*, rfq_id: int, actor: Actor, reason: str = "") -> RFQ:
    """Cancel an open request: its quotes expire and the parent gets back what it held."""
    with transaction.atomic():
        rfq = rfq_lock(rfq_id)
        if not rfq.is_open:
            raise Conflict(RfqErrorCode.NOT_OPEN, f"RFQ {rfq_id} is {rfq.status}")
        quotes = quotes_lock([rfq.pk])
        parent = parent_lock(rfq.parent_id)
        events = rfq_close(rfq, RfqStatus.CANCELLED, quotes=quotes, parent=parent, actor=actor, now=timezone.now(),
                           reason=reason or f"cancelled by {actor.name}")
        audit_append(events)
        push(rfq, "cancelled")
    return rfq


def rfqs_cancel_for_parents(*, parent_ids: list[int], reason: str, actor: Actor) -> int:
    """Cancel every open request of ``parent_ids`` (one transaction); return how many were cancelled."""
    ids = sorted(set(parent_ids))
    if not ids:
        return 0
    with transaction.atomic():
        # A package is stopped when any of its legs' parents is (its RFQ row names the first leg's).
        as_leg = RfqLeg.objects.filter(parent_id__in=ids).values("rfq_id")
        rfqs = list(RFQ.objects.select_for_update(of=("self",)).select_related("instrument")
                    .filter(Q(parent_id__in=ids) | Q(pk__in=as_leg), status__in=RfqStatus.open()).order_by("pk"))
        if not rfqs:
            return 0
        quotes = quotes_lock([r.pk for r in rfqs])
        leg_parents = set(RfqLeg.objects.filter(rfq__in=rfqs).values_list("parent_id", flat=True))
        parents = {pid: parent_lock(pid) for pid in sorted({r.parent_id for r in rfqs} | leg_parents)}
        now = timezone.now()
        events = []
        for rfq in rfqs:
            events += rfq_close(rfq, RfqStatus.CANCELLED, quotes=quotes, parent=parents[rfq.parent_id], actor=actor, now=now,
                                reason=reason or "parent stopped")
            push(rfq, "cancelled")
        audit_append(events)
    return len(rfqs)


def rfqs_sweep() -> int:
    """Close every open request whose window has ended (its close task was lost or is late), and lapse the
    quotes whose life ended before their window (their lapse task was lost or is late); return how many
    requests it closed. Each request in its own transaction: one failure does not hold up the others."""
    lapsing = list(Quote.objects.filter(status=QuoteStatus.LIVE, valid_until__lte=timezone.now(),
                                        valid_until__lt=F("rfq__window_ends_at"), rfq__status__in=RfqStatus.open())
                   .order_by("rfq_id").values_list("rfq_id", flat=True).distinct())
    for rfq_id in lapsing:
        try:
            quotes_lapse(rfq_id=rfq_id, actor=SWEEP_ACTOR)
        except Exception:
            log.exception("could not lapse the quotes of RFQ %s", rfq_id)
    due = list(RFQ.objects.filter(status__in=(RfqStatus.SENT, RfqStatus.QUOTING), window_ends_at__lte=timezone.now())
               .order_by("pk").values_list("pk", flat=True))
    closed = 0
    for rfq_id in due:
        try:
            if not rfq_window_close(rfq_id=rfq_id, actor=SWEEP_ACTOR).is_open:
                closed += 1
        except Exception:
            log.exception("could not close RFQ %s", rfq_id)
    return closed
