"""What every RFQ write shares: the locks (in the one order), the thresholds and the parent's limit, the
close of a request (its quotes expired, its reservation released, its parent ticked) and the tasks sent
after commit.

Lock order in every RFQ write: RFQ (pk order) -> Quote (pk order) -> ParentOrder -> what
``ems.services.booking.fills_book`` locks. Nothing here locks an RFQ while holding a parent.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from celery import current_app
from django.db import transaction

from ems.broadcast import parents_changed_on_commit
from ems.destinations import destination_for, parent_tick_request, work_queue
from ems.error_codes import ParentOrderErrorCode
from ems.models import ParentOrder, Venue
from ems.services.control import parent_cancel
from ems.sim.measures import slippage_bps
from ems.states import Control, ExecStatus
from oms.audit_events import AuditEventType
from oms.errors import Conflict, NotFound
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from rfq.broadcast import rfq_changed_on_commit
from rfq.error_codes import RfqErrorCode
from rfq.models import RFQ, Quote, RfqLeg
from rfq.states import QuoteStatus, RfqStatus, check_quote_transition, check_rfq_transition

log = logging.getLogger(__name__)

BPS_Q = Decimal("0.001")
WORKING = ExecStatus.working()
# A trader may ask for quotes on a paused parent (pause the algorithm, then price the block with dealers).
CONTROLS_OPEN = (Control.RUNNING, Control.PAUSED)
CLOSE_EVENTS = {RfqStatus.EXECUTED: "executed", RfqStatus.EXPIRED: "expired", RfqStatus.CANCELLED: "cancelled",
                RfqStatus.REJECTED: "rejected"}


# --- locks ------------------------------------------------------------------------------------------


def rfq_lock(rfq_id: int) -> RFQ:
    rfq = RFQ.objects.select_for_update(of=("self",)).select_related("instrument").filter(pk=rfq_id).first()
    if rfq is None:
        raise NotFound(RfqErrorCode.NOT_FOUND, f"No RFQ {rfq_id}")
    return rfq


def quotes_lock(rfq_ids: Iterable[int]) -> list[Quote]:
    """Lock the quotes of ``rfq_ids`` (pk order), with their providers."""
    return list(Quote.objects.select_for_update(of=("self",)).select_related("provider")
                .filter(rfq_id__in=list(rfq_ids)).order_by("pk"))


def parent_lock(parent_id: int) -> ParentOrder:
    parent = ParentOrder.objects.select_for_update(of=("self",)).select_related("instrument").filter(pk=parent_id).first()
    if parent is None:
        raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {parent_id}")
    return parent


def rfq_venue() -> Venue:
    """The venue RFQ executions are booked at (created on first use)."""
    return Venue.objects.get_or_create(code="RFQ", defaults={"name": "RFQ platform", "kind": Venue.Kind.RFQ})[0]


# --- the parent -------------------------------------------------------------------------------------


def parent_working(parent: ParentOrder) -> bool:
    return parent.status in WORKING and parent.control in CONTROLS_OPEN


def parent_check_working(parent: ParentOrder) -> None:
    if not parent_working(parent):
        state = parent.status if parent.status not in WORKING else parent.control
        raise Conflict(RfqErrorCode.PARENT_NOT_WORKING, f"Parent order {parent.pk} is {state.lower()}: no RFQ can trade for it")


def whole_lots(quantity: int, lot: int) -> int:
    lot = max(int(lot), 1)
    return max(0, quantity) // lot * lot


def algorithm_works(parent: ParentOrder) -> bool:
    """An execution algorithm (not a destination) works the parent and may act: it must re-plan when what
    an RFQ holds changes."""
    return destination_for(parent.strategy) is None and parent.control == Control.RUNNING and parent.status in WORKING


def reservation_release(rfq: RFQ, parent: ParentOrder, *, actor: Actor, why: str, quantity: int | None = None) -> list[PendingEvent]:
    """Give back what ``rfq`` held of ``parent`` (the caller holds both locks); save the parent. ``quantity``: what it
    held there (a package's leg quantity; default the request's)."""
    held = rfq.quantity if quantity is None else quantity
    before = parent.reserved_quantity
    released = min(held, before)
    if released != held:  # the DB check keeps reserved within the remaining quantity: never below zero
        log.warning("RFQ %s held %s of parent %s, which had only %s reserved", rfq.pk, held, parent.pk, before)
    parent.reserved_quantity = before - released
    fields = ["reserved_quantity", "updated_at"]
    if algorithm_works(parent):
        parent.replan = f"RFQ {rfq.pk} {why}: {released} released"[:64]
        fields.append("replan")
    parent.save(update_fields=fields)
    parents_changed_on_commit([parent])
    return [PendingEvent(actor, AuditEventType.PARENT_ORDER_RELEASED, "parent_order", parent.pk,
                         before={"reserved_quantity": before},
                         after={"reserved_quantity": parent.reserved_quantity, "rfq_id": rfq.pk, "released": released},
                         reason=f"RFQ {rfq.pk} {why}")]


def package_holdings(rfq: RFQ, parent: ParentOrder) -> list[tuple[RfqLeg, ParentOrder]]:
    """A package's legs with their parents, locked in pk order (``parent``, the request's own, is the first leg's
    and locked by the caller already); empty for a one-instrument request."""
    if not rfq.package:
        return []
    legs = list(RfqLeg.objects.filter(rfq=rfq).select_related("instrument").order_by("leg_no"))
    others = sorted({leg.parent_id for leg in legs} - {parent.pk})
    locked = {p.pk: p for p in ParentOrder.objects.select_for_update(of=("self",)).select_related("instrument")
              .filter(pk__in=others).order_by("pk")}  # one statement, in pk order
    locked[parent.pk] = parent
    return [(leg, locked[leg.parent_id]) for leg in legs]


def package_legs_cancel(holdings: list[tuple[RfqLeg, ParentOrder]], *, actor: Actor, why: str) -> None:
    """Cancel the legs' parents (and so their orders) of a package that closed without trading: a package is
    all or nothing, and a leg left working on its own would leg the trader into half a spread."""
    for _, parent in holdings:
        parent.refresh_from_db(fields=["status", "control"])
        if parent.is_open and parent.status != ExecStatus.PENDING_CANCEL:
            parent_cancel(parent_id=parent.pk, actor=actor, reason=f"package {why}")


# --- quotes: our side, thresholds, limits -----------------------------------------------------------


def bps_from_mid(side: str, price: Decimal, mid: Decimal) -> Decimal:
    """Cost of trading at ``price`` against ``mid``, bps (positive = we pay away from the mid): minus the
    slippage against the mid (``ems.sim.measures.slippage_bps``)."""
    return (-slippage_bps(side, price, mid)).quantize(BPS_Q)


def best_first(side: str, quotes: Iterable[Quote]) -> list[Quote]:
    """Quotes best first for our side (a buy: lowest price), ties by arrival (the ladder's order)."""
    sign = 1 if side == "buy" else -1
    return sorted(quotes, key=lambda q: (sign * q.price, q.received_at, q.pk))


def within_threshold(rfq: RFQ, quote: Quote) -> bool:
    """Whether ``quote`` meets the request's thresholds (bps from the mid at request, and/or a price)."""
    if rfq.threshold_bps is not None and quote.bps_from_mid > rfq.threshold_bps:
        return False
    if rfq.threshold_price is not None:
        if rfq.side == "buy" and quote.price > rfq.threshold_price:
            return False
        if rfq.side == "sell" and quote.price < rfq.threshold_price:
            return False
    return True


def within_limit(parent: ParentOrder, price: Decimal) -> bool:
    """Whether trading at ``price`` respects the parent's limit (every constituent shares it)."""
    if parent.limit_price is None:
        return True
    return price <= parent.limit_price if parent.side == "buy" else price >= parent.limit_price


def quote_alive(quote: Quote, at: datetime) -> bool:
    return quote.status == QuoteStatus.LIVE and quote.valid_until > at


def quote_lapses_in_window(quote: Quote, rfq: RFQ) -> bool:
    """Whether ``quote``'s own life ends before its request's window does (then it lapses on its own, pushed;
    a quote firm to the window's end is expired by the window's close)."""
    return rfq.window_ends_at is not None and quote.valid_until < rfq.window_ends_at


# --- audit shapes -----------------------------------------------------------------------------------


def rfq_dict(rfq: RFQ) -> dict:
    return {
        "parent_id": rfq.parent_id, "instrument": rfq.instrument.symbol, "side": rfq.side, "direction": rfq.direction,
        "quantity": rfq.quantity, "status": rfq.status, "mode": rfq.mode, "execute_at": rfq.execute_at,
        "threshold_bps": rfq.threshold_bps, "threshold_price": rfq.threshold_price, "window_s": rfq.window_s,
        "mid_at_request": rfq.mid_at_request, "round": rfq.round, "source": rfq.source,
        "window_ends_at": rfq.window_ends_at,
    }


def quote_dict(quote: Quote) -> dict:
    return {
        "rfq_id": quote.rfq_id, "provider": quote.provider.code, "price": quote.price, "size": quote.size,
        "bps_from_mid": quote.bps_from_mid, "bid_price": quote.bid_price, "bid_size": quote.bid_size,
        "ask_price": quote.ask_price, "ask_size": quote.ask_size, "mid_at_quote": quote.mid_at_quote,
        "status": quote.status, "received_at": quote.received_at, "valid_until": quote.valid_until,
    }


def rfq_move(rfq: RFQ, target: str, *, actor: Actor, event: str, reason: str = "", after: dict | None = None) -> PendingEvent:
    """Move ``rfq`` along its table (not saved) and return the audit event."""
    before = rfq.status
    check_rfq_transition(before, target)
    rfq.status = target
    return PendingEvent(actor, event, "rfq", rfq.pk, before={"status": before}, after={"status": target, **(after or {})},
                        reason=reason)


def quote_move(quote: Quote, target: str, *, actor: Actor, reason: str, now: datetime) -> PendingEvent:
    """Move ``quote`` along its table (not saved) and return the audit event ("quote.<target>")."""
    before = quote.status
    check_quote_transition(before, target)
    quote.status, quote.status_reason, quote.updated_at = target, reason[:200], now
    return PendingEvent(actor, AuditEventType(f"quote.{target}"), "quote", quote.pk, before={"status": before},
                        after={"status": target, "rfq_id": quote.rfq_id, "provider": quote.provider.code, "price": quote.price,
                               "size": quote.size},
                        reason=reason)


def quotes_save(quotes: Iterable[Quote]) -> None:
    quotes = list(quotes)
    if quotes:
        Quote.objects.bulk_update(quotes, ["status", "status_reason", "updated_at"])


# --- closing a request -------------------------------------------------------------------------------


def rfq_close(rfq: RFQ, target: str, *, quotes: list[Quote], parent: ParentOrder, actor: Actor, reason: str, now: datetime,
              after: dict | None = None) -> list[PendingEvent]:
    """Close ``rfq`` (EXPIRED / CANCELLED / REJECTED / EXECUTED): its live quotes expire, what it reserved goes
    back to the parent, the parent's tick is enqueued and the page told, after commit. The caller holds the
    locks (RFQ, its quotes, the parent) and appends the returned audit events. An EXECUTED close has already
    released its reservation (before its fill, for the parent's database check)."""
    events = [rfq_move(rfq, target, actor=actor, event=AuditEventType(f"rfq.{CLOSE_EVENTS[target]}"), reason=reason,
                       after={"quantity": rfq.quantity, **(after or {})})]
    rfq.closed_at, rfq.close_reason = now, reason[:200]
    expired = []
    for q in quotes:
        if q.rfq_id == rfq.pk and q.status == QuoteStatus.LIVE:
            events.append(quote_move(q, QuoteStatus.EXPIRED, actor=actor, reason=f"RFQ {CLOSE_EVENTS[target]}: {reason}", now=now))
            expired.append(q)
    quotes_save(expired)
    # An executed package released and booked its legs already; any other close gives them back and cancels them.
    holdings = package_holdings(rfq, parent) if target != RfqStatus.EXECUTED else []
    if target != RfqStatus.EXECUTED:
        if holdings:
            for leg, p in holdings:
                events += reservation_release(rfq, p, actor=actor, why=CLOSE_EVENTS[target], quantity=leg.quantity)
        else:
            events += reservation_release(rfq, parent, actor=actor, why=CLOSE_EVENTS[target])
    rfq.save(update_fields=["status", "closed_at", "close_reason", "executed_quote", "child", "executed_quantity",
                            "executed_price", "updated_at"])
    parent_tick_request(parent.pk)
    if holdings:
        audit_append(events)  # the legs' cancels append their own rows after these
        events = []
        package_legs_cancel(holdings, actor=actor, why=f"RFQ {rfq.pk} {CLOSE_EVENTS[target]}")
    return events


def push(rfq: RFQ, event: str, quote: Quote | None = None) -> None:
    rfq_changed_on_commit(rfq, event=event, quote=quote)


# --- tasks after commit ------------------------------------------------------------------------------

PROVIDER_RESPOND = "rfq.tasks.provider_respond"
WINDOW_CLOSE = "rfq.tasks.rfq_window_close"
QUOTES_LAPSE = "rfq.tasks.quotes_lapse"


def tasks_send_on_commit(tasks: list[tuple[str, list, float | None]]) -> None:
    """Send ``(task name, args, countdown)`` after commit, on the EMS's queue. A lost window close is caught by
    ``rfqs_sweep``; a lost provider answer is a provider that did not answer (its scorecard shows it)."""
    def send() -> None:
        for name, args, countdown in tasks:
            try:
                current_app.send_task(name, args=args, countdown=countdown, queue=work_queue())
            except Exception:
                log.exception("could not send %s%s", name, args)

    transaction.on_commit(send)
