"""Providers' answers: a quote (``quote_submit``) or a decline (``quote_decline``), by the opaque reference the
provider was sent. This is the inbound path a provider's adapter calls (here, the simulated market makers'
``rfq.tasks.provider_respond``).

* **The window is the server's**: a quote that arrives at or after ``RFQ.window_ends_at`` (server time), or
  once the request is closed, is stored REFUSED from the start (its dissemination answered "late"), audited
  ``quote.refused`` and returned: it never reaches the ladder, and it still counts in the provider's
  scorecard. Nothing a browser does moves the window.
* **Our side of a quote**: a buy trades at the provider's offer, a sell at its bid; ``price`` / ``size`` are
  that side, ``bps_from_mid`` its cost against the mid at request. A quote is firm for its life, capped at
  the window's end.
* The first quote moves the RFQ SENT -> QUOTING. In auto mode executing "as soon as a quote meets the
  threshold", a quote within the thresholds and the parent's limit is executed at once
  (``rfq.services.execution.execute_best``, last look included).
* Every provider asked declined (and nobody quoted): the RFQ is REJECTED and its reservation released.
* **A quote lapses on its own** (``quotes_lapse``): when its life ends before the window does, a task sent
  for that instant (``rfq.tasks.quotes_lapse``; ``rfqs_sweep`` catches a lost one within a second) moves it
  LIVE -> EXPIRED, audited ``quote.expired``, and pushes ``lapsed``: the ladder greys it and drops its
  Execute button without a reload. A click on it before the task ran is refused all the same
  (``rfq.quote_expired``: the server checks ``valid_until``, not only the status).

A provider answering twice (a redelivered task) gets its first answer back: one quote per dissemination,
enforced by the database.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms.audit_events import AuditEventType
from oms.errors import Conflict, DomainError, NotFound
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from rfq.error_codes import QuoteErrorCode, RfqErrorCode
from rfq.models import Dissemination, Quote, RfqExecuteAt, RfqLeg, RfqMode
from rfq.package_pricing import package_cost_bps
from rfq.selectors import legs_gross
from rfq.services.common import (
    BPS_Q,
    QUOTES_LAPSE,
    bps_from_mid,
    parent_lock,
    parent_working,
    push,
    quote_dict,
    quote_lapses_in_window,
    quote_move,
    quotes_lock,
    quotes_save,
    rfq_close,
    rfq_lock,
    rfq_move,
    tasks_send_on_commit,
    within_limit,
    within_threshold,
)
from rfq.services.execution import execute_best
from rfq.states import QuoteStatus, RfqStatus


def quote_submit(*, reference: str, bid_price: Decimal | None, bid_size: int | None, ask_price: Decimal | None,
                 ask_size: int | None, life_ms: int, mid_at_quote: Decimal, actor: Actor, reason: str = "",
                 leg_values: list[Decimal] | None = None) -> Quote:
    """Record a provider's quote for the request it was sent as ``reference`` (module docstring); ``reason``
    is the provider's own note, kept in the audit trail. A package's quote is a net price (any sign) with
    ``mid_at_quote`` the package's model value and ``leg_values`` each leg's, in leg order, when it priced."""
    dissemination = _dissemination(reference)
    package = dissemination.rfq.package
    _check_side(bid_price, bid_size, "bid", net=package)
    _check_side(ask_price, ask_size, "ask", net=package)
    if not isinstance(life_ms, int) or isinstance(life_ms, bool) or life_ms <= 0:
        raise DomainError(QuoteErrorCode.BAD_LIFE, "life_ms must be a positive whole number of milliseconds", field="life_ms")
    if not isinstance(mid_at_quote, Decimal) or not mid_at_quote.is_finite() or (mid_at_quote <= 0 and not package):
        raise DomainError(QuoteErrorCode.BAD_MID, "mid_at_quote must be a positive Decimal", field="mid_at_quote")
    if package:
        values = _leg_values(leg_values, dissemination.rfq)
    with transaction.atomic():
        rfq = rfq_lock(dissemination.rfq_id)
        existing = Quote.objects.filter(dissemination=dissemination).select_related("provider").first()
        if existing is not None:
            return existing
        dissemination.refresh_from_db(fields=["response"])
        if dissemination.response == "declined":
            raise Conflict(QuoteErrorCode.ALREADY_DECLINED, "This request was declined already")
        price, size = (ask_price, ask_size) if rfq.side == "buy" else (bid_price, bid_size)
        if price is None:
            side = "an offer (ask)" if rfq.side == "buy" else "a bid"
            raise DomainError(QuoteErrorCode.MISSING_SIDE, f"The request needs {side}", field="ask_price" if rfq.side == "buy" else "bid_price")
        now = timezone.now()
        late = rfq.window_ends_at is None or now >= rfq.window_ends_at or not rfq.is_open
        provider = dissemination.provider
        quote = Quote.objects.create(
            rfq=rfq, provider=provider, dissemination=dissemination, bid_price=_px(bid_price), bid_size=bid_size,
            ask_price=_px(ask_price), ask_size=ask_size, price=_px(price), size=size,
            bps_from_mid=_cost_bps(rfq, _px(price)), mid_at_quote=mid_at_quote.quantize(PRICE_Q),
            leg_values=values if package else None,
            status=QuoteStatus.REFUSED if late else QuoteStatus.LIVE, received_at=now,
            valid_until=min(now + timedelta(milliseconds=life_ms), rfq.window_ends_at or now),
            status_reason=_late_reason(rfq, now) if late else "",
        )
        dissemination.response, dissemination.responded_at = ("late" if late else "quoted"), now
        dissemination.save(update_fields=["response", "responded_at"])
        if late:
            audit_append([PendingEvent(actor, AuditEventType.QUOTE_REFUSED, "quote", quote.pk, after=quote_dict(quote),
                                       reason=f"{provider.code}: {quote.status_reason}")])
            push(rfq, "refused", quote)
            return quote

        events = [PendingEvent(actor, AuditEventType.QUOTE_RECEIVED, "quote", quote.pk, after=quote_dict(quote),
                               reason=f"{provider.code}: {reason or 'quoted'}")]
        if rfq.status == RfqStatus.SENT:
            events.append(rfq_move(rfq, RfqStatus.QUOTING, actor=actor, event=AuditEventType.RFQ_QUOTING, reason=f"first quote, from {provider.code}"))
            rfq.save(update_fields=["status", "updated_at"])
        executed = False
        if rfq.mode == RfqMode.AUTO and rfq.execute_at == RfqExecuteAt.QUOTE and within_threshold(rfq, quote):
            quotes = quotes_lock([rfq.pk])
            parent = parent_lock(rfq.parent_id)
            locked = next(q for q in quotes if q.pk == quote.pk)
            if parent_working(parent) and within_limit(parent, locked.price):
                attempt = execute_best(rfq, parent, [locked], quotes=quotes, actor=actor, deadline=rfq.window_ends_at)
                events += attempt.events
                executed = attempt.quote is not None
                quote = locked
        audit_append(events)
        if not executed:
            push(rfq, "quote", quote)
            if quote_lapses_in_window(quote, rfq):
                tasks_send_on_commit([(QUOTES_LAPSE, [rfq.pk], (quote.valid_until - now).total_seconds())])
    return quote


def quotes_lapse(*, rfq_id: int, actor: Actor) -> list[Quote]:
    """Expire the live quotes of an open request whose own life has ended before its window (module
    docstring); return them. Idempotent: a quote expired already, or one firm to the window's end (the
    window's close expires it), is left alone."""
    with transaction.atomic():
        rfq = rfq_lock(rfq_id)
        if not rfq.is_open:
            return []
        now = timezone.now()
        lapsed = [q for q in quotes_lock([rfq.pk])
                  if q.status == QuoteStatus.LIVE and q.valid_until <= now and quote_lapses_in_window(q, rfq)]
        events = []
        for q in lapsed:
            firm_s = (q.valid_until - q.received_at).total_seconds()
            events.append(quote_move(q, QuoteStatus.EXPIRED, actor=actor, now=now,
                                     reason=f"lapsed: {q.provider.code} held it firm for {firm_s:.1f} s"))
        quotes_save(lapsed)
        audit_append(events)
        for q in lapsed:
            push(rfq, "lapsed", q)
    return lapsed


def quote_decline(*, reference: str, actor: Actor, reason: str = "") -> None:
    """Record that a provider declined; every provider asked declined (no quote): the RFQ is REJECTED."""
    dissemination = _dissemination(reference)
    with transaction.atomic():
        rfq = rfq_lock(dissemination.rfq_id)
        dissemination.refresh_from_db(fields=["response", "responded_at"])
        if dissemination.response:
            return  # answered already (a redelivered task): the first answer stands
        now = timezone.now()
        dissemination.response, dissemination.responded_at = "declined", now
        dissemination.save(update_fields=["response", "responded_at"])
        code = dissemination.provider.code
        events = [PendingEvent(actor, AuditEventType.RFQ_DECLINED, "rfq", rfq.pk, after={"provider": code, "rank": dissemination.rank},
                               reason=f"{code}: {reason or 'declined'}")]
        responses = list(Dissemination.objects.filter(rfq=rfq).values_list("response", flat=True))
        if rfq.status == RfqStatus.SENT and all(r == "declined" for r in responses):
            quotes = quotes_lock([rfq.pk])
            parent = parent_lock(rfq.parent_id)
            events += rfq_close(rfq, RfqStatus.REJECTED, quotes=quotes, parent=parent, actor=actor, now=now,
                                reason=f"all {len(responses)} providers asked declined")
            audit_append(events)
            push(rfq, "rejected")
            return
        audit_append(events)
        push(rfq, "declined")


def _dissemination(reference: str) -> Dissemination:
    d = Dissemination.objects.select_related("provider", "rfq").filter(reference=reference).first() if isinstance(reference, str) else None
    if d is None:
        raise NotFound(RfqErrorCode.REFERENCE_NOT_FOUND, "No request was sent with this reference")
    return d


def _check_side(price, size, side: str, *, net: bool) -> None:
    if price is None and size is None:
        return
    if not isinstance(price, Decimal) or not price.is_finite() or (price <= 0 and not net):
        raise DomainError(QuoteErrorCode.BAD_PRICE, f"The {side} price must be a positive Decimal", field=f"{side}_price")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise DomainError(QuoteErrorCode.BAD_SIZE, f"The {side} size must be a positive whole number of shares", field=f"{side}_size")


def _leg_values(values, rfq) -> list[str]:
    n = RfqLeg.objects.filter(rfq=rfq).count()
    if (not isinstance(values, list) or len(values) != n
            or not all(isinstance(v, Decimal) and v.is_finite() and v > 0 for v in values)):
        raise DomainError(QuoteErrorCode.BAD_LEG_VALUES, f"A package quote carries {n} positive leg values, in leg order",
                          field="leg_values")
    return [str(v.quantize(PRICE_Q)) for v in values]


def _cost_bps(rfq, price: Decimal) -> Decimal:
    """A quote's cost against the request's mid, bps; a package's against its value, bps of its gross premium."""
    if not rfq.package:
        return bps_from_mid(rfq.side, price, rfq.mid_at_request)
    gross = legs_gross(RfqLeg.objects.filter(rfq=rfq).select_related("instrument"))
    return package_cost_bps(price, rfq.mid_at_request, gross).quantize(BPS_Q)


def _px(price: Decimal | None) -> Decimal | None:
    return None if price is None else price.quantize(PRICE_Q)


def _late_reason(rfq, now) -> str:
    if not rfq.is_open:
        return f"arrived after the RFQ was {rfq.status}"
    late_ms = (now - rfq.window_ends_at).total_seconds() * 1000
    return f"arrived {late_ms:.0f} ms after the window closed"
