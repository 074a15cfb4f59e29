"""The order lifecycle after intake: progress from fills (and the positions they move, ``oms.services.positions``),
close (cancel / expiry) of what is unfilled.

The EMS calls these when it books a fill or an allocation, so an order's status, its audit rows and its
push live in one place. This module never imports ``ems``: an order keeps the notional of its fills
(``Order.fill_notional``) and its average price follows from it.

Lock order (shared with the EMS): ParentOrder -> ChildOrder -> Constituent -> Order (pk order) -> Position
((portfolio, instrument) order). Functions here take only the last two.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.db import rows_update
from oms.error_codes import FillErrorCode, OrderErrorCode
from oms.errors import Conflict, DomainError, NotFound
from oms.models import Order, Position, TimeInForce
from oms.money import PRICE_Q
from oms.order_reports import OrderReport, ReportKind, TradeDetail, order_reports_emit
from oms.roles import Actor
from oms.services import risk
from oms.services.audit import PendingEvent, audit_append
from oms.services.positions import positions_apply
from oms.states import OrderStatus, check_transition

CREDIT_Q = Decimal("0.01")

# Statuses in which an order may still receive fills (a fill can cross a pending cancel on the wire).
FILLABLE: frozenset[str] = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL})
# What the end-of-day expiry closes (an order asked to cancel is closed by its cancel, not by expiry).
EXPIRABLE: frozenset[str] = frozenset({OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
CLOSE_STATUSES: frozenset[str] = frozenset({OrderStatus.CANCELLED, OrderStatus.EXPIRED})
CLOSE_REPORT = {OrderStatus.CANCELLED: ReportKind.CANCELLED, OrderStatus.EXPIRED: ReportKind.EXPIRED}


@dataclass(frozen=True)
class OrderFill:
    """Shares given to one order by one execution (an allocation of a parent fill, or its side of a cross)."""

    order_id: int
    quantity: int
    price: Decimal
    exec_id: str
    venue: str = ""  # the venue's code (FIX 30 LastMkt), "INTERNAL" for a cross


# --- progress from fills --------------------------------------------------------------------------


@dataclass(frozen=True)
class FillsApplied:
    """What applying fills to orders wrote: the orders, the audit events, and each execution's positions after it."""

    orders: list[Order]
    events: list[PendingEvent]
    # exec_id -> [[portfolio_id, quantity, avg_cost, realized_pnl], ...]: the positions it moved, as it left them
    positions: dict[str, list[list]]


def orders_fill_apply(*, fills: list[OrderFill], actor: Actor) -> list[Order]:
    """Apply fills to their orders: filled quantity, average price, status, positions; audited and pushed.

    Standalone (no booked fill records them): every order and position a fill moves gets its own audit event.
    A fill that would take an order past its quantity, through its limit, or that reaches an order that is not
    working raises (and the caller's transaction rolls back).
    """
    with transaction.atomic():
        applied = orders_fill_prepare(fills=fills, actor=actor, fills_audited=False)
        audit_append(applied.events)
    return applied.orders


def orders_fill_prepare(*, fills: list[OrderFill], actor: Actor, fills_audited: bool = True) -> FillsApplied:
    """``orders_fill_apply`` without the audit write, for a caller that appends the events with its own. Must run
    inside the caller's transaction.

    ``fills_audited``: the caller writes one event per execution carrying its allocations and the positions it
    left (``FillsApplied.positions``), as fill booking does ("fill.booked"): an order then gets an event of its
    own only when its status moves (first fill, last fill), not one per fill, and positions none. Otherwise
    every order and position moved gets one.

    An order's average price is its fill notional (``Order.fill_notional``, the sum of quantity x price of its
    fills) over its filled quantity, quantized to 6 places.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("orders_fill_prepare runs inside the transaction that writes its audit events")
    if not fills:
        return FillsApplied([], [], {})
    ids = sorted({f.order_id for f in fills})
    orders = list(Order.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk"))
    by_id = {o.pk: o for o in orders}
    missing = set(ids) - by_id.keys()
    if missing:
        raise NotFound(OrderErrorCode.NOT_FOUND, f"No order {min(missing)}")
    added: dict[int, int] = defaultdict(int)
    added_notional: dict[int, Decimal] = defaultdict(Decimal)
    exec_ids: dict[int, list[str]] = defaultdict(list)
    for f in fills:
        _check_fill(by_id[f.order_id], f)
        added[f.order_id] += f.quantity
        added_notional[f.order_id] += f.price * f.quantity
        exec_ids[f.order_id].append(f.exec_id)

    now = timezone.now()
    events = []
    reports = _trade_reports(fills, by_id)
    for order in orders:
        before = {"status": order.status, "filled_quantity": order.filled_quantity, "avg_price": order.avg_price}
        new_filled = order.filled_quantity + added[order.pk]
        if new_filled > order.quantity:
            raise Conflict(OrderErrorCode.OVERFILL, f"Order {order.pk}: {new_filled} would exceed its quantity {order.quantity}")
        target = order_status_after_fill(order.status, new_filled, order.quantity)
        check_transition(order.status, target)
        order.filled_quantity, order.status, order.updated_at = new_filled, target, now
        order.fill_notional += added_notional[order.pk]
        order.avg_price = (order.fill_notional / new_filled).quantize(PRICE_Q)
        if fills_audited and target == before["status"]:
            continue
        events.append(PendingEvent(
            actor, AuditEventType.ORDER_FILLED if target == OrderStatus.FILLED else AuditEventType.ORDER_PARTIALLY_FILLED, "order", order.pk,
            before=before,
            after={"status": order.status, "filled_quantity": new_filled, "avg_price": order.avg_price,
                   "exec_ids": exec_ids[order.pk]},
        ))
    moved = positions_apply([(by_id[f.order_id], f.quantity, f.price, f.exec_id) for f in fills], actor)
    rows_update([(Order, orders, ["filled_quantity", "fill_notional", "avg_price", "status", "updated_at"]),
                 (Position, moved.positions, ["quantity", "avg_cost", "realized_pnl", "bought_quantity", "sold_quantity", "updated_at"])])
    orders_changed_on_commit(orders)
    order_reports_emit(reports)
    return FillsApplied(orders, events if fills_audited else events + moved.events, moved.after_each)


def _trade_reports(fills: list[OrderFill], by_id: dict[int, Order]) -> list[OrderReport]:
    """A report per fill with the order's running figures after it (orders not yet updated: called first)."""
    filled = {pk: o.filled_quantity for pk, o in by_id.items()}
    notional = {pk: o.fill_notional for pk, o in by_id.items()}
    out = []
    for f in fills:
        order = by_id[f.order_id]
        filled[f.order_id] += f.quantity
        notional[f.order_id] += f.price * f.quantity
        status = order_status_after_fill(order.status, filled[f.order_id], order.quantity)
        out.append(OrderReport(ReportKind.TRADE, order, TradeDetail(
            exec_id=f.exec_id, quantity=f.quantity, price=f.price, venue=f.venue, cum_quantity=filled[f.order_id],
            avg_price=(notional[f.order_id] / filled[f.order_id]).quantize(PRICE_Q), status=status)))
    return out


def order_status_after_fill(status: str, filled: int, quantity: int) -> str:
    """FIX 39 after a fill: FILLED when nothing is left, else a pending cancel stays pending, else PARTIALLY_FILLED."""
    if filled == quantity:
        return OrderStatus.FILLED
    if status == OrderStatus.PENDING_CANCEL:
        return OrderStatus.PENDING_CANCEL
    return OrderStatus.PARTIALLY_FILLED


def _check_fill(order: Order, f: OrderFill) -> None:
    if f.quantity <= 0:
        raise DomainError(FillErrorCode.BAD_QUANTITY, f"Fill {f.exec_id}: quantity must be positive")
    if order.status not in FILLABLE:
        raise Conflict(OrderErrorCode.NOT_WORKING, f"Order {order.pk} is {order.status}; fill {f.exec_id} cannot be applied")
    if order.limit_price is not None:
        through = f.price > order.limit_price if order.side == "buy" else f.price < order.limit_price
        if through:
            raise Conflict(OrderErrorCode.THROUGH_LIMIT,
                           f"Fill {f.exec_id} at {f.price} is through order {order.pk}'s limit {order.limit_price}")


# --- close: cancel / expiry of the unfilled part ----------------------------------------------------


def unfilled_credit(order: Order) -> Decimal:
    """The part of the credit an order reserved at intake that its unfilled quantity still holds."""
    if not order.reserved_notional:
        return Decimal(0)
    return (order.reserved_notional * order.remaining_quantity / order.quantity).quantize(CREDIT_Q)


def order_credit_release(order: Order) -> Decimal:
    """Give back to the portfolio's daily credit what the order's unfilled part reserved; return the amount."""
    released = unfilled_credit(order)
    if released:
        risk.credit_release(portfolio_id=order.portfolio_id, trade_date=order.created_at.date(), notional=released)
    return released


def order_close(*, order_id: int, status: str, actor: Actor, reason: str = "") -> Order:
    """Close an order's unfilled part: CANCELLED or EXPIRED, with its fills kept and its unused credit released.

    An order already closed that way is returned unchanged. An order whose cancel is pending is closed as
    CANCELLED even when asked to expire (the PM's cancel came first).
    """
    if status not in CLOSE_STATUSES:
        raise DomainError(OrderErrorCode.BAD_CLOSE_STATUS, f"An order is closed as CANCELLED or EXPIRED, not {status}")
    with transaction.atomic():
        order = Order.objects.select_for_update(of=("self",)).filter(pk=order_id).first()
        if order is None:
            raise NotFound(OrderErrorCode.NOT_FOUND, f"No order {order_id}")
        if order.status == status:
            return order
        if order.status in OrderStatus.terminal_statuses():
            raise Conflict(OrderErrorCode.NOT_OPEN, f"Order {order_id} is {order.status}")
        target = OrderStatus.CANCELLED if order.status == OrderStatus.PENDING_CANCEL else status
        before = order.status
        check_transition(before, target)
        order.status = target
        order.save(update_fields=["status", "updated_at"])
        released = order_credit_release(order)
        audit_append([PendingEvent(
            actor, AuditEventType(f"order.{target.lower()}"), "order", order.pk, before={"status": before},
            after={"status": target, "filled_quantity": order.filled_quantity, "credit_released": released},
            reason=reason or f"{target.lower()} by {actor.name}",
        )])
        orders_changed_on_commit([order])
        order_reports_emit([OrderReport(CLOSE_REPORT[target], order)])
    return order


def orders_expire_day(*, before: datetime, actor: Actor) -> int:
    """Expire DAY orders created before ``before`` that are still open and not in a parent; return how many.

    Orders in a parent are closed with it (the EMS expires the parent). Rows another transaction holds
    (the aggregation cycle taking them into a parent) are skipped: the next run sees them.
    """
    with transaction.atomic():
        candidates = list(
            Order.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(time_in_force=TimeInForce.DAY, status__in=EXPIRABLE, created_at__lt=before, constituents__isnull=True)
            .order_by("pk").values_list("pk", flat=True)
        )
        if not candidates:
            return 0
        # A parent that took one of these in a transaction that committed after this statement's snapshot
        # is seen by a fresh read, now that the rows are locked.
        taken = set(Order.objects.filter(pk__in=candidates, constituents__isnull=False).values_list("pk", flat=True))
        orders = list(Order.objects.filter(pk__in=[pk for pk in candidates if pk not in taken]).order_by("pk"))
        if not orders:
            return 0
        events = []
        credit: dict[tuple, Decimal] = defaultdict(Decimal)
        for order in orders:
            check_transition(order.status, OrderStatus.EXPIRED)
            released = unfilled_credit(order)
            if released:
                credit[(order.portfolio_id, order.created_at.date())] += released
            events.append(PendingEvent(
                actor, AuditEventType.ORDER_EXPIRED, "order", order.pk, before={"status": order.status},
                after={"status": OrderStatus.EXPIRED, "filled_quantity": order.filled_quantity, "credit_released": released},
                reason="day order: session ended",
            ))
            order.status = OrderStatus.EXPIRED
        Order.objects.filter(pk__in=[o.pk for o in orders]).update(status=OrderStatus.EXPIRED, updated_at=timezone.now())
        for (portfolio_id, trade_date), notional in sorted(credit.items()):
            risk.credit_release(portfolio_id=portfolio_id, trade_date=trade_date, notional=notional)
        audit_append(events)
        orders_changed_on_commit(orders)
        order_reports_emit([OrderReport(ReportKind.EXPIRED, order) for order in orders])
    return len(orders)
