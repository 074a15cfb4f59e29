"""Cancel/replace (amend) an order's quantity and/or limit price: through pre-trade risk again, audited in the
same transaction, pushed after commit. The REST API, the blotter and FIX (OrderCancelReplaceRequest, a later
issue) all come through :func:`order_replace`.

The rule, by where the order is:

- **Not yet in a parent** (PENDING_NEW, or ACCEPTED before an aggregation cycle took it): changed in place.
  The order row is locked; the cycle takes its candidates with SKIP LOCKED, so either it took the order
  first (we then see its parent, below) or a later cycle aggregates it with its new terms.
- **In a parent** (the EMS works it): only a **reduction**. The parent and the order's constituent shrink by
  the same amount, never below what the order has filled and never into what the parent has at the venues
  (its open children's leaves) or an RFQ holds, else ``order.replace_below_working`` (409), nothing changed;
  the parent re-plans for what is left. A larger quantity or a new limit is ``order.replace_in_parent``
  (409): the parent's limit, schedule and arrival benchmark are shared with the other orders it pooled, and
  an order belongs to one parent for life; cancel it and send a new order. The OMS does not import the EMS:
  ``oms.signals.order_reduce_requested`` asks it, synchronously, and the EMS calls back
  :func:`order_reduce_apply` under its locks (ParentOrder -> Constituent -> Order).
- **Not open** (FILLED, CANCELLED, DENIED, REJECTED, EXPIRED) or its cancel pending: ``order.not_replaceable`` (409).

Risk: the replaced order is checked as a new order would be (restricted instrument, maximum quantity and
notional, price collar, the daily credit for what its notional grows by), except that a pure reduction at
the same limit is always admitted: it only lowers exposure (a PM can shrink an order even in an instrument
restricted since). A denial is 422 with the risk code, the order unchanged and ``order.replace_denied``
audited. The reservation against the daily credit follows the new terms: a reduction gives back its share,
a new limit or a larger quantity is re-valued (a market order at the live mid, as at intake).
A replace that changes nothing answers the order as it is, with no audit row (a resend is harmless).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.error_codes import ApiErrorCode, OrderErrorCode, PermissionErrorCode
from oms.errors import Conflict, NotFound, NotPermitted, RiskDenied
from oms.models import MarketPrice, Order
from oms.order_reports import OrderReport, ReportKind, order_reports_emit
from oms.refdata import refdata
from oms.risk_reference import RiskReference, risk_reference
from oms.roles import Actor, tradable_portfolios, visible_portfolios
from oms.services import risk
from oms.services.audit import PendingEvent, audit_append
from oms.services.cancel import order_parent_id
from oms.services.intake import aggregation_soon
from oms.services.lifecycle import CREDIT_Q
from oms.services.order_parse import ParsedOrder, ReplaceRequest, parse_replace
from oms.services.risk_greeks import greek_limbs_apply, orders_greeks_decide
from oms.signals import order_reduce_requested
from oms.states import OrderStatus, check_transition

REPLACEABLE: frozenset[str] = frozenset({OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})


def order_replace(*, user, actor: Actor, order_id: int, quantity=None, limit_price=None) -> Order:
    """Give an order a new quantity and/or limit price (values as received: checked here). Raise NotFound,
    NotPermitted, ValidationFailed, Conflict (not replaceable; in a parent: larger or new limit, or below
    what is working) or RiskDenied (the order unchanged, the denial audited)."""
    order = Order.objects.select_related("portfolio", "instrument").filter(pk=order_id, portfolio__in=visible_portfolios(user).values("id")).first()
    if order is None:
        raise NotFound(ApiErrorCode.NOT_FOUND, f"No order {order_id}")
    if not tradable_portfolios(user).filter(pk=order.portfolio_id).exists():
        raise NotPermitted(PermissionErrorCode.READ_ONLY, "You may not amend orders")
    req = parse_replace(quantity=quantity, limit_price=limit_price, order=order)
    denial = None
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).select_related("portfolio", "instrument").get(pk=order_id)
        check_replaceable(order)
        parent_id = order_parent_id(order)
        if parent_id is None:
            denial = _replace_in_place(order, req, actor)
    if denial is not None:
        raise denial
    if parent_id is not None:
        # The order row is let go first: the EMS locks the parent before it (its lock order).
        return _reduce_in_parent(order, req, actor)
    return order


def check_replaceable(order: Order) -> None:
    """Raise Conflict ``order.not_replaceable`` unless the order is open and not being cancelled."""
    if order.status not in REPLACEABLE:
        raise Conflict(OrderErrorCode.NOT_REPLACEABLE,
                       f"Order is {order.get_status_display().lower()}; only open orders can be amended")


def order_reduce_apply(*, order: Order, quantity: int, actor: Actor, reason: str) -> Order:
    """Take an order (locked by the caller, in its transaction) down to ``quantity`` at its limit: its notional
    and credit reservation shrink in proportion (the difference is given back), FILLED when that is what it
    has filled; audited ``order.replaced`` and pushed. Raise Conflict when it is not open or below its fills."""
    check_replaceable(order)
    if quantity < order.filled_quantity:
        raise Conflict(OrderErrorCode.REPLACE_BELOW_WORKING,
                       f"Order {order.pk} has filled {order.filled_quantity:,}; it cannot go down to {quantity:,}", field="quantity")
    _apply(order, quantity, order.limit_price, _scaled(order.notional, order, quantity), _scaled(order.reserved_notional, order, quantity),
           actor, reason)
    return order


# --- in place -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CreditAsk:
    """What ``risk.credit_reserve`` needs of a request: the growth of the order's reservation."""

    portfolio: object
    notional: Decimal
    limit_price: Decimal | None
    risk_reference: RiskReference


def _replace_in_place(order: Order, req: ReplaceRequest, actor: Actor) -> RiskDenied | None:
    quantity = req.quantity if req.quantity is not None else order.quantity
    limit = req.limit_price if req.limit_price is not None else order.limit_price
    if quantity == order.quantity and limit == order.limit_price:
        return None
    if quantity < order.filled_quantity:
        raise Conflict(OrderErrorCode.REPLACE_BELOW_WORKING,
                       f"Order {order.pk} has filled {order.filled_quantity:,}; it cannot go down to {quantity:,}", field="quantity")
    if quantity <= order.quantity and limit == order.limit_price:  # a pure reduction: always admitted
        _apply(order, quantity, limit, _scaled(order.notional, order, quantity), _scaled(order.reserved_notional, order, quantity),
               actor, f"amended by {actor.name}")
        return None
    ref = refdata()
    limits = risk.effective_limits({order.portfolio_id}, ref.limits)[order.portfolio_id]
    asked = _as_new_order(order, quantity, limit)
    decision = risk.check_static(asked, limits, ref.restricted)
    if decision is None and quantity > order.quantity and greek_limbs_apply(order.instrument, limits):
        # The Greek limbs see the growth only (the order's first quantity passed them when it came in).
        grown = replace(asked, quantity=quantity - order.quantity)
        decision = orders_greeks_decide([(0, grown)], {order.portfolio_id: limits}).get(0)
    reserved = asked.notional if limits.daily_notional_limit is not None else Decimal(0)
    grows = reserved - order.reserved_notional
    if decision is None and grows > 0:
        ask = _CreditAsk(order.portfolio, grows, limit, asked.risk_reference)
        decision = risk.credit_reserve({order.portfolio_id: [(0, ask)]}, {order.portfolio_id: limits}, order.created_at.date()).get(0)
    if decision is not None:
        code, reason = decision
        audit_append([PendingEvent(actor, AuditEventType.ORDER_REPLACE_DENIED, "order", order.pk, before=_terms(order),
                                   after={"quantity": quantity, "limit_price": limit, "code": code}, reason=reason[:255])])
        return RiskDenied(code, reason, field=risk.RISK_CODES.get(code))
    _apply(order, quantity, limit, asked.notional, reserved, actor, f"amended by {actor.name}; passed pre-trade risk")
    transaction.on_commit(aggregation_soon)  # the next cycle takes it with its new terms
    return None


def _as_new_order(order: Order, quantity: int, limit: Decimal | None) -> ParsedOrder:
    """The replaced order as risk sees a new one: its new terms, valued at the live mid when it has no limit."""
    mark = MarketPrice.objects.filter(instrument_id=order.instrument_id).values_list("mid", "as_of").first()
    return ParsedOrder(
        client_order_id=order.client_order_id, portfolio=order.portfolio, instrument=order.instrument, side=order.side,
        quantity=quantity, order_type=order.order_type, limit_price=limit, time_in_force=order.time_in_force,
        urgency=order.urgency, strategy=order.strategy, start_time=order.start_time, end_time=order.end_time,
        max_participation=order.max_participation, reference=risk_reference(order.instrument, mark, timezone.now()),
    )


# --- in a parent ----------------------------------------------------------------------------------


def _reduce_in_parent(order: Order, req: ReplaceRequest, actor: Actor) -> Order:
    quantity = req.quantity if req.quantity is not None else order.quantity
    if (req.limit_price is not None and req.limit_price != order.limit_price) or quantity > order.quantity:
        raise Conflict(OrderErrorCode.REPLACE_IN_PARENT,
                       f"Order {order.pk} is worked in a parent order: only its quantity can be reduced there; "
                       "cancel it and send a new order for a larger quantity or another limit")
    if quantity == order.quantity:
        return order
    answers = order_reduce_requested.send(sender=Order, order_id=order.pk, quantity=quantity, actor=actor)
    if not answers:
        raise Conflict(OrderErrorCode.REPLACE_IN_PARENT, f"Order {order.pk} is worked in a parent order and no execution system takes the change")
    return answers[0][1]


# --- writing --------------------------------------------------------------------------------------


def _terms(order: Order) -> dict:
    return {"quantity": order.quantity, "limit_price": order.limit_price, "status": order.status,
            "notional": order.notional, "reserved_notional": order.reserved_notional}


def _scaled(amount: Decimal, order: Order, quantity: int) -> Decimal:
    return (amount * quantity / order.quantity).quantize(CREDIT_Q)


def _apply(order: Order, quantity: int, limit: Decimal | None, notional: Decimal, reserved: Decimal, actor: Actor, reason: str) -> None:
    before = _terms(order)
    released = order.reserved_notional - reserved
    if released > 0:
        risk.credit_release(portfolio_id=order.portfolio_id, trade_date=order.created_at.date(), notional=released)
    if quantity == order.filled_quantity:  # reduced to what it has: done
        check_transition(order.status, OrderStatus.FILLED)
        order.status = OrderStatus.FILLED
    order.quantity, order.limit_price, order.notional, order.reserved_notional = quantity, limit, notional, reserved
    order.save(update_fields=["quantity", "limit_price", "notional", "reserved_notional", "status", "updated_at"])
    audit_append([PendingEvent(actor, AuditEventType.ORDER_REPLACED, "order", order.pk, before=before, after=_terms(order), reason=reason)])
    orders_changed_on_commit([order])
    order_reports_emit([OrderReport(ReportKind.REPLACED, order)])
