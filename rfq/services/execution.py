"""Executing against a quote: a trader's click (``quote_accept``), an auto-execution when a quote meets the
threshold (``rfq.services.quotes.quote_submit``) or at the window's end (``rfq.services.closing``), all through
:func:`execute_best`.

**Last look.** The provider may still say no when we hit its quote (``rfq.pricing.last_look``: the mid
moved against it by more than its tolerance since it priced, or its own random rejection). A rejected
quote is marked REJECTED (kept for its scorecard) and the next best quote still alive and within the
request's thresholds and the parent's limit is tried, while the window is open (at the window's end, the
quotes alive at that instant). A click on a request with no threshold falls through to nothing: the
trader did not bound what else may be taken, so the result names the next best and they decide.
Nothing left: no execution; a clicked RFQ stays QUOTING and the trader may click again.

**The execution** (one transaction, locks RFQ -> quotes -> parent -> what ``fills_book`` locks):

1. The RFQ's reservation is released on the parent first (its database check keeps ``reserved_quantity``
   within what is unfilled, and the fill is about to take part of that).
2. A ChildOrder at the RFQ venue (``rfq_venue()``, kind ``rfq``, an IOC limit at the quote's price, for
   ``min(quote size, RFQ quantity, parent remaining)`` in whole lots; ClOrdID ``RFQ<rfq>-Q<quote>``),
   audited ``child_order.placed`` like any child.
3. The fill through the one EMS fill service (``ems.services.booking.fill_book``, liquidity ``rfq``, no
   fee, exec id ``RFQ<rfq>-Q<quote>``): the child, the parent, the pro-rata allocation to the constituent
   orders and their positions move with it, audited ``fill.booked``.
4. The quote ACCEPTED, the other live quotes EXPIRED, the RFQ EXECUTED with what was executed; a partial
   quote leaves the rest of the request with the parent (already released in 1). The parent's tick is
   enqueued (an algorithm re-plans; an EMS RFQ round is followed by the next or by IS).

Two clicks on two quotes at once, a click racing an auto-execution or the window's close: each path takes
the RFQ's row lock first and re-reads its status under it, so exactly one executes; the exec id's unique
index is the database's last word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ems.models import ChildOrder, ParentOrder
from ems.selectors import live_clock
from ems.services.booking import Execution, fill_book, fills_book
from ems.services.children import child_placed_event
from ems.states import ExecStatus
from oms.audit_events import AuditEventType
from oms.errors import Conflict, NotFound
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from rfq.error_codes import RfqErrorCode
from rfq.models import RFQ, Quote, RfqLeg
from rfq.package_pricing import SplitLeg, Unsplittable, net_split, package_last_look, package_value, signed_sum
from rfq.pricing import last_look
from rfq.selectors import leg_markets, legs_gross, market_snapshot, provider_profile
from rfq.services.common import (
    best_first,
    package_holdings,
    parent_check_working,
    parent_lock,
    parent_working,
    push,
    quote_alive,
    quote_dict,
    quote_move,
    quotes_lock,
    reservation_release,
    rfq_close,
    rfq_lock,
    rfq_venue,
    whole_lots,
    within_limit,
    within_threshold,
)
from rfq.states import QuoteStatus, RfqStatus


@dataclass(frozen=True)
class AcceptResult:
    """What an acceptance did: executed (the quote and the fill), or why not (``code``: every quote tried
    was rejected on last look). ``rejected``: the quotes rejected on last look on the way."""

    rfq: RFQ
    executed: bool
    quote: Quote | None
    fill_id: int | None
    rejected: tuple[int, ...]
    code: str | None
    detail: str
    next_best: Quote | None = None  # not executed in click mode without a threshold: the best quote still live


@dataclass
class Attempt:
    """What :func:`execute_best` did (the caller appends ``events`` and commits)."""

    quote: Quote | None = None
    fill_id: int | None = None
    rejected: list[Quote] = field(default_factory=list)
    events: list[PendingEvent] = field(default_factory=list)


def quote_accept(*, rfq_id: int, quote_id: int, actor: Actor) -> AcceptResult:
    """Execute against a quote (one click): its provider's last look, then the fill (module docstring).

    Refusals are raised before anything changes; a last-look rejection is not (it commits) and the result
    says what happened. After a rejection the next best quote is tried only within the request's threshold
    (the trader's bound); a request without one executes nothing else: the result names the next best live
    quote (``next_best``) and the trader may click it."""
    with transaction.atomic():
        rfq = rfq_lock(rfq_id)
        if rfq.status == RfqStatus.EXECUTED:
            raise Conflict(RfqErrorCode.ALREADY_EXECUTED, f"RFQ {rfq_id} was already executed")
        if not rfq.is_open:
            raise Conflict(RfqErrorCode.NOT_OPEN, f"RFQ {rfq_id} is {rfq.status}")
        now = timezone.now()
        if rfq.window_ends_at is None or now >= rfq.window_ends_at:
            raise Conflict(RfqErrorCode.WINDOW_CLOSED, f"The response window of RFQ {rfq_id} has closed")
        quotes = quotes_lock([rfq.pk])
        quote = next((q for q in quotes if q.pk == quote_id), None)
        if quote is None:
            raise NotFound(RfqErrorCode.QUOTE_NOT_FOUND, f"RFQ {rfq_id} has no quote {quote_id}")
        if not quote_alive(quote, now):
            raise Conflict(RfqErrorCode.QUOTE_EXPIRED, f"Quote {quote_id} is no longer firm ({quote.status})")
        parent = parent_lock(rfq.parent_id)
        parent_check_working(parent)
        if not within_limit(parent, quote.price):
            raise Conflict(RfqErrorCode.QUOTE_THROUGH_LIMIT,
                           f"Quote {quote_id} at {quote.price} is through parent order {parent.pk}'s limit {parent.limit_price}")
        others = [q for q in best_first(rfq.side, quotes)
                  if q.pk != quote.pk and quote_alive(q, now) and within_limit(parent, q.price)]
        # A fall-through executes a quote the trader did not click: only within the bound they set (the
        # request's threshold). Without one, nothing else is taken; the trader sees the next best and decides.
        bounded = rfq.threshold_bps is not None or rfq.threshold_price is not None
        candidates = [quote, *(q for q in others if within_threshold(rfq, q))] if bounded else [quote]
        attempt = execute_best(rfq, parent, candidates, quotes=quotes, actor=actor, deadline=rfq.window_ends_at)
        audit_append(attempt.events)
    rejected = tuple(q.pk for q in attempt.rejected)
    if attempt.quote is not None:
        return AcceptResult(rfq, True, attempt.quote, attempt.fill_id, rejected, None,
                            f"Executed {rfq.executed_quantity:,} at {rfq.executed_price} with {attempt.quote.provider.code}")
    by = ", ".join(f"{q.provider.code} (quote {q.pk})" for q in attempt.rejected)
    if bounded:
        return AcceptResult(rfq, False, None, None, rejected, RfqErrorCode.LAST_LOOK_REJECTED,
                            f"Rejected on last look by {by}; no other quote within the threshold could be taken")
    next_best = next((q for q in others if q.pk not in rejected and quote_alive(q, timezone.now())), None)
    tail = (f"the next best, {next_best.provider.code}'s quote {next_best.pk} at {next_best.price:.4f} ({next_best.bps_from_mid} bps from mid), "
            "is live: click it to take it" if next_best is not None else "no other quote is live")
    return AcceptResult(rfq, False, None, None, rejected, RfqErrorCode.LAST_LOOK_REJECTED,
                        f"Rejected on last look by {by}; nothing was executed and the request stays open: {tail}", next_best)


def execute_best(rfq: RFQ, parent: ParentOrder, candidates: list[Quote], *, quotes: list[Quote], actor: Actor,
                 deadline: datetime | None) -> Attempt:
    """Try ``candidates`` in order (each one's last look) and execute the first that holds; the caller holds
    the locks of ``rfq``, all its ``quotes`` and ``parent``. The first candidate was chosen in the window (the
    click or the quote's arrival, checked under the RFQ's lock); after a rejection, no further candidate is
    tried at or after ``deadline`` (the window's end; None at the window's close, which tries the quotes
    alive at that end)."""
    attempt = Attempt()
    if not candidates:
        return attempt
    holdings = package_holdings(rfq, parent)
    judge = _package_last_look(rfq, holdings) if holdings else _last_look(rfq)
    for q in candidates:
        now = timezone.now()
        if attempt.rejected and deadline is not None and now >= deadline:
            break  # the first was taken in the window (checked under the lock); falling through stops at its end
        ok, why = judge(q)
        if not ok:
            attempt.events.append(quote_move(q, QuoteStatus.REJECTED, actor=actor, reason=f"{q.provider.code} {why}", now=now))
            q.save(update_fields=["status", "status_reason", "updated_at"])
            attempt.rejected.append(q)
            push(rfq, "last_look_rejected", q)
            continue
        attempt.quote = q
        if holdings:
            attempt.fill_id = _execute_package(rfq, holdings, q, quotes=quotes, actor=actor, now=now, why=why, events=attempt.events)
        else:
            attempt.fill_id = _execute(rfq, parent, q, quotes=quotes, actor=actor, now=now, why=why, events=attempt.events)
        return attempt
    return attempt


def _last_look(rfq: RFQ):
    mid_now = market_snapshot(rfq.instrument).mid
    provider_side = "sell" if rfq.side == "buy" else "buy"

    def judge(q: Quote) -> tuple[bool, str]:
        return last_look(provider_profile(q.provider), provider_side=provider_side, price=float(q.price),
                         mid_at_quote=float(q.mid_at_quote), mid_now=mid_now, key=f"RFQ{rfq.pk}-Q{q.pk}")
    return judge


def _package_last_look(rfq: RFQ, holdings: list[tuple[RfqLeg, ParentOrder]]):
    legs = [leg for leg, _ in holdings]
    value_now = package_value(leg_markets([(leg.instrument, leg.side, leg.ratio) for leg in legs]))
    gross = float(legs_gross(legs))

    def judge(q: Quote) -> tuple[bool, str]:
        return package_last_look(provider_profile(q.provider), price=float(q.price), value_at_quote=float(q.mid_at_quote),
                                 value_now=value_now, gross=gross, key=f"RFQ{rfq.pk}-Q{q.pk}")
    return judge


def _execute(rfq: RFQ, parent: ParentOrder, quote: Quote, *, quotes: list[Quote], actor: Actor, now: datetime, why: str,
             events: list[PendingEvent]) -> int:
    quantity = whole_lots(min(quote.size, rfq.quantity, parent.remaining_quantity), parent.instrument.lot_size)
    if quantity <= 0:
        raise Conflict(RfqErrorCode.QUANTITY_UNAVAILABLE, f"Parent order {parent.pk} has nothing left for quote {quote.pk}")
    events += reservation_release(rfq, parent, actor=actor, why=f"executed on quote {quote.pk}")
    mt = live_clock().market_time(now.timestamp())
    tag = f"RFQ{rfq.pk}-Q{quote.pk}"
    child = ChildOrder.objects.create(
        parent=parent, epoch=parent.epoch, venue=rfq_venue(), client_order_id=tag, venue_order_id=f"{tag}-{quote.provider.code}",
        side=rfq.side, order_type="limit", time_in_force="ioc", price=quote.price, quantity=quantity, kind="rfq",
        status=ExecStatus.PENDING_NEW, reason=f"RFQ {rfq.pk}: {quote.provider.code} quote {quote.pk}"[:64], sent_us=mt.t_us,
    )
    # The child's audit row goes in before the fill's, so the trail reads in the order things happened.
    events.append(child_placed_event(child, actor=actor, reason=f"RFQ {rfq.pk} executed on {quote.provider.code}'s quote {quote.pk}"))
    audit_append(events)
    events.clear()
    fill = fill_book(child_id=child.pk, execution=Execution(
        exec_id=tag, venue_code=child.venue.code, side=rfq.side, quantity=quantity, price=quote.price, liquidity="rfq",
        fee=Decimal(0), market_day=mt.day, market_time_us=mt.t_us,
    ), actor=actor)
    if fill is None:  # the exec id is there already: another path executed this quote (the RFQ lock makes it impossible)
        raise Conflict(RfqErrorCode.ALREADY_EXECUTED, f"RFQ {rfq.pk} was already executed")
    events.append(quote_move(quote, QuoteStatus.ACCEPTED, actor=actor, reason=f"{quote.provider.code} {why}", now=now))
    quote.save(update_fields=["status", "status_reason", "updated_at"])
    rfq.executed_quote, rfq.child, rfq.executed_quantity, rfq.executed_price = quote, child, quantity, fill.price
    left = rfq.quantity - quantity
    reason = (f"{quantity:,} at {fill.price} with {quote.provider.code} ({quote.bps_from_mid} bps from mid)"
              f"{f'; {left:,} left with the parent' if left else ''}")
    events += rfq_close(rfq, RfqStatus.EXECUTED, quotes=quotes, parent=parent, actor=actor, reason=reason, now=now,
                        after={"quote_id": quote.pk, "provider": quote.provider.code, "executed_quantity": quantity,
                               "executed_price": fill.price, "child_id": child.pk, "exec_id": tag, "quote": quote_dict(quote)})
    push(rfq, "executed", quote)
    return fill.pk


def _execute_package(rfq: RFQ, holdings: list[tuple[RfqLeg, ParentOrder]], quote: Quote, *, quotes: list[Quote], actor: Actor,
                     now: datetime, why: str, events: list[PendingEvent]) -> int:
    """Book every leg of a package at leg prices that add up to the quote's net price (``net_split``), each on a
    child of its own parent, through the EMS fill service in one call (``fills_book``, the batch form of
    ``fill_book``: each leg's fill, allocation and position), in the caller's transaction: any failure rolls back
    every leg. Audited ``rfq.package_executed`` naming each leg's fill; return the first leg's fill id."""
    legs = [leg for leg, _ in holdings]
    try:
        prices = net_split(quote.price, [SplitLeg(leg.side, leg.ratio, Decimal(str(v)), leg.instrument.tick_size,
                                                  leg.instrument.multiplier)
                                         for leg, v in zip(legs, quote.leg_values or [], strict=True)])
    except (Unsplittable, ValueError) as exc:
        raise Conflict(RfqErrorCode.PACKAGE_UNSPLITTABLE, f"Quote {quote.pk}: {exc}") from exc
    mt = live_clock().market_time(now.timestamp())
    venue = rfq_venue()
    executions = []
    for (leg, parent), price in zip(holdings, prices, strict=True):
        if parent.remaining_quantity < leg.quantity or not parent_working(parent):
            raise Conflict(RfqErrorCode.QUANTITY_UNAVAILABLE, f"Leg {leg.leg_no}'s parent order {parent.pk} cannot take {leg.quantity:,}")
        events += reservation_release(rfq, parent, actor=actor, why=f"executed on quote {quote.pk}", quantity=leg.quantity)
        tag = f"RFQ{rfq.pk}-Q{quote.pk}-L{leg.leg_no}"
        leg.child = ChildOrder.objects.create(
            parent=parent, epoch=parent.epoch, venue=venue, client_order_id=tag, venue_order_id=f"{tag}-{quote.provider.code}",
            side=leg.side, order_type="limit", time_in_force="ioc", price=price, quantity=leg.quantity, kind="rfq",
            status=ExecStatus.PENDING_NEW, reason=f"RFQ {rfq.pk} leg {leg.leg_no}: {quote.provider.code} quote {quote.pk}"[:64],
            sent_us=mt.t_us,
        )
        events.append(child_placed_event(leg.child, actor=actor,
                                         reason=f"RFQ {rfq.pk} package leg {leg.leg_no} on {quote.provider.code}'s quote {quote.pk}"))
        executions.append((leg.child.pk, Execution(
            exec_id=tag, venue_code=venue.code, side=leg.side, quantity=leg.quantity, price=price, liquidity="rfq",
            fee=Decimal(0), market_day=mt.day, market_time_us=mt.t_us,
        )))
    audit_append(events)  # the children's rows before the fills'
    events.clear()
    by_exec = {f.exec_id: f for f in fills_book(executions=executions, actor=actor)}
    if len(by_exec) != len(executions):  # an exec id was there already: another path executed this quote (the RFQ lock forbids it)
        raise Conflict(RfqErrorCode.ALREADY_EXECUTED, f"RFQ {rfq.pk} was already executed")
    booked = [(leg, by_exec[ex.exec_id]) for leg, (_, ex) in zip(legs, executions, strict=True)]
    for leg, fill in booked:
        leg.executed_price = fill.price
    RfqLeg.objects.bulk_update(legs, ["child", "executed_price"])
    events.append(quote_move(quote, QuoteStatus.ACCEPTED, actor=actor, reason=f"{quote.provider.code} {why}", now=now))
    quote.save(update_fields=["status", "status_reason", "updated_at"])
    rfq.executed_quote, rfq.child, rfq.executed_quantity, rfq.executed_price = quote, legs[0].child, rfq.quantity, quote.price
    legs_after = [{"leg_no": leg.leg_no, "instrument": leg.instrument.symbol, "side": leg.side, "ratio": leg.ratio,
                   "quantity": leg.quantity, "price": fill.price, "child_id": leg.child_id, "fill_id": fill.pk, "exec_id": fill.exec_id}
                  for leg, fill in booked]
    events.append(PendingEvent(actor, AuditEventType.RFQ_PACKAGE_EXECUTED, "rfq", rfq.pk, after={
        "quote_id": quote.pk, "provider": quote.provider.code, "packages": rfq.quantity, "net_price": quote.price,
        "legs_net": signed_sum(legs, [fill.price for _, fill in booked]), "legs": legs_after,
    }, reason=f"{len(booked)} legs booked at a net {quote.price} per package with {quote.provider.code}: "
              + ", ".join(f"L{leg.leg_no} {leg.side} {leg.quantity:,} {leg.instrument.symbol} @ {fill.price}" for leg, fill in booked)))
    reason = f"package x{rfq.quantity:,} at a net {quote.price} with {quote.provider.code} ({quote.bps_from_mid} bps from its value)"
    events += rfq_close(rfq, RfqStatus.EXECUTED, quotes=quotes, parent=holdings[0][1], actor=actor, reason=reason, now=now,
                        after={"quote_id": quote.pk, "provider": quote.provider.code, "executed_quantity": rfq.quantity,
                               "executed_price": quote.price, "fills": [fill.pk for _, fill in booked], "quote": quote_dict(quote)})
    push(rfq, "executed", quote)
    return booked[0][1].pk
