"""The order lifecycle after intake: progress from fills, positions, close (cancel / expiry) of what is unfilled.

The EMS calls these when it books a fill or an allocation, so an order's status, its audit rows and its
push live in one place. This module never imports ``ems``: the average price is read from the order's
allocations through the reverse relation ``order.allocations``.

Lock order (shared with the EMS): ParentOrder -> ChildOrder -> Constituent -> Order (pk order) -> Position
((portfolio, instrument) order). Functions here take only the last two.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from django.db import connection, models, transaction
from django.db.models import F, Sum
from django.utils import timezone

from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.error_codes import FillErrorCode, OrderErrorCode
from oms.errors import Conflict, DomainError, NotFound
from oms.models import Order, Position, TimeInForce
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services import risk
from oms.services.audit import PendingEvent, audit_append
from oms.states import OrderStatus, check_transition

CREDIT_Q = Decimal("0.01")

# Statuses in which an order may still receive fills (a fill can cross a pending cancel on the wire).
FILLABLE: frozenset[str] = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING_CANCEL})
# What the end-of-day expiry closes (an order asked to cancel is closed by its cancel, not by expiry).
EXPIRABLE: frozenset[str] = frozenset({OrderStatus.PENDING_NEW, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})
CLOSE_STATUSES: frozenset[str] = frozenset({OrderStatus.CANCELLED, OrderStatus.EXPIRED})


@dataclass(frozen=True)
class OrderFill:
    """Shares given to one order by one execution (an allocation of a parent fill, or its side of a cross)."""

    order_id: int
    quantity: int
    price: Decimal
    exec_id: str


# --- progress from fills --------------------------------------------------------------------------


def orders_fill_apply(*, fills: list[OrderFill], actor: Actor) -> list[Order]:
    """Apply fills to their orders: filled quantity, average price, status, positions; audited and pushed.

    The caller writes the matching allocation rows first (in the same transaction): an order's average
    price is the quantity-weighted price of its allocations, quantized to 6 places. A fill that would take
    an order past its quantity, through its limit, or that reaches an order that is not working raises
    (and the caller's transaction rolls back).
    """
    with transaction.atomic():
        orders, events = orders_fill_prepare(fills=fills, actor=actor)
        audit_append(events)
    return orders


def orders_fill_prepare(*, fills: list[OrderFill], actor: Actor) -> tuple[list[Order], list[PendingEvent]]:
    """``orders_fill_apply`` without the audit write: return the orders and the audit events, for a caller
    that appends them with its own in one write of the chain (the chain's lock is taken once per booking).
    Must run inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("orders_fill_prepare runs inside the transaction that writes its audit events")
    if not fills:
        return [], []
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

    allocated = _allocated_totals(ids)
    now = timezone.now()
    events = []
    for order in orders:
        before = {"status": order.status, "filled_quantity": order.filled_quantity, "avg_price": order.avg_price}
        old_filled = order.filled_quantity
        new_filled = old_filled + added[order.pk]
        if new_filled > order.quantity:
            raise Conflict(OrderErrorCode.OVERFILL, f"Order {order.pk}: {new_filled} would exceed its quantity {order.quantity}")
        qty, notional = allocated.get(order.pk, (0, Decimal(0)))
        if qty != new_filled:  # no allocation rows behind these fills: carry the average forward
            notional = (order.avg_price or Decimal(0)) * old_filled + added_notional[order.pk]
        target = order_status_after_fill(order.status, new_filled, order.quantity)
        check_transition(order.status, target)
        order.filled_quantity, order.status, order.updated_at = new_filled, target, now
        order.avg_price = (notional / new_filled).quantize(PRICE_Q)
        events.append(PendingEvent(
            actor, AuditEventType.ORDER_FILLED if target == OrderStatus.FILLED else AuditEventType.ORDER_PARTIALLY_FILLED, "order", order.pk,
            before=before,
            after={"status": order.status, "filled_quantity": new_filled, "avg_price": order.avg_price,
                   "exec_ids": exec_ids[order.pk]},
        ))
    positions, position_events = _positions_apply([(by_id[f.order_id], f.quantity, f.price) for f in fills], actor)
    rows_update([(Order, orders, ["filled_quantity", "avg_price", "status", "updated_at"]),
                 (Position, positions, ["quantity", "avg_cost", "realized_pnl", "bought_quantity", "sold_quantity", "updated_at"])])
    orders_changed_on_commit(orders)
    return orders, events + position_events


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


def _allocated_totals(order_ids: list[int]) -> dict[int, tuple[int, Decimal]]:
    """(quantity, notional) of each order's allocations, read through the reverse relation."""
    notional = Sum(F("allocations__quantity") * F("allocations__price"), output_field=models.DecimalField(max_digits=30, decimal_places=6))
    rows = Order.objects.filter(pk__in=order_ids).values_list("pk").annotate(q=Sum("allocations__quantity"), n=notional)
    return {pk: (q or 0, n or Decimal(0)) for pk, q, n in rows}


# --- positions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PositionState:
    """A position as the average-cost method sees it: signed quantity, cost of the open quantity, realised P&L."""

    quantity: int
    avg_cost: Decimal | None
    realized_pnl: Decimal


def position_after_trade(state: PositionState, *, side: str, quantity: int, price: Decimal) -> PositionState:
    """The position after trading ``quantity`` at ``price`` (average-cost method).

    Adding to the position (or opening it) averages the cost: ``(|q| x cost + x x price) / (|q| + x)``.
    Reducing it realises ``(price - cost) x closed`` for a long (``(cost - price) x closed`` for a short) and
    keeps the cost. Going through zero closes the old side and opens the new one at the trade price. Flat
    has no cost.
    """
    signed = quantity if side == "buy" else -quantity
    q, cost, pnl = state.quantity, state.avg_cost, state.realized_pnl
    if q == 0 or (q > 0) == (signed > 0):
        new_q = q + signed
        new_cost = ((abs(q) * (cost or Decimal(0)) + quantity * price) / abs(new_q)).quantize(PRICE_Q)
        return PositionState(new_q, new_cost, pnl)
    closed = min(quantity, abs(q))
    pnl = (pnl + (price - cost) * closed * (1 if q > 0 else -1)).quantize(PRICE_Q)
    new_q = q + signed
    if new_q == 0:
        return PositionState(0, None, pnl)
    if (new_q > 0) == (q > 0):
        return PositionState(new_q, cost, pnl)
    return PositionState(new_q, price.quantize(PRICE_Q), pnl)


def _positions_apply(trades: list[tuple[Order, int, Decimal]], actor: Actor) -> tuple[list[Position], list[PendingEvent]]:
    """Apply the trades (in order) to the positions they touch, in memory; return the rows to write and
    their audit events. The rows are created if missing and locked by one upsert, in key order (two
    bookings touching the same positions queue, never deadlock)."""
    keys = sorted({(o.portfolio_id, o.instrument_id) for o, _, _ in trades})
    columns = [f.column for f in Position._meta.concrete_fields]
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO oms_position (portfolio_id, instrument_id, quantity, realized_pnl, bought_quantity, sold_quantity, updated_at) "
            f"SELECT p, i, 0, 0, 0, 0, now() FROM unnest(%s::bigint[], %s::bigint[]) AS k(p, i) ORDER BY p, i "
            f"ON CONFLICT (portfolio_id, instrument_id) DO UPDATE SET quantity = oms_position.quantity "
            f"RETURNING {', '.join('oms_position.' + c for c in columns)}",
            [[k[0] for k in keys], [k[1] for k in keys]],
        )
        rows = cur.fetchall()
    positions = {}
    for row in rows:
        p = Position.from_db(connection.alias, [f.attname for f in Position._meta.concrete_fields], row)
        positions[(p.portfolio_id, p.instrument_id)] = p
    before = {k: _position_dict(p) for k, p in positions.items()}
    for order, quantity, price in trades:
        p = positions[(order.portfolio_id, order.instrument_id)]
        after = position_after_trade(PositionState(p.quantity, p.avg_cost, p.realized_pnl), side=order.side, quantity=quantity, price=price)
        p.quantity, p.avg_cost, p.realized_pnl = after.quantity, after.avg_cost, after.realized_pnl
        if order.side == "buy":
            p.bought_quantity += quantity
        else:
            p.sold_quantity += quantity
    now = timezone.now()
    for p in positions.values():
        p.updated_at = now
    events = [PendingEvent(actor, AuditEventType.POSITION_UPDATED, "position", p.pk, before=before[k], after=_position_dict(p))
              for k, p in sorted(positions.items())]
    return list(positions.values()), events


def _position_dict(p: Position) -> dict:
    return {"portfolio_id": p.portfolio_id, "instrument_id": p.instrument_id, "quantity": p.quantity,
            "avg_cost": p.avg_cost, "realized_pnl": p.realized_pnl,
            "bought_quantity": p.bought_quantity, "sold_quantity": p.sold_quantity}


def rows_update(changes: list[tuple[type[models.Model], list[models.Model], list[str]]]) -> None:
    """Write back rows changed in memory: for each ``(model, objs, fields)``, ``fields`` of ``objs``. One
    statement for all of them (``UPDATE ... FROM unnest(<one array per column>)`` per table, chained as
    data-modifying CTEs).

    Django's ``bulk_update`` builds a CASE expression per field and row, one statement per model; a VALUES
    list makes a new statement text per row count (psycopg parses each afresh). Arrays keep one text per
    table set, prepared once by the server. (A general helper: it belongs next to ``oms.db.insert_rows``.)
    """
    parts, params = [], []
    for model, objs, fields in changes:
        if not objs:
            continue
        meta = model._meta
        cols = [meta.pk, *(meta.get_field(f) for f in fields)]
        parts.append(_update_sql(meta.db_table, tuple(cols)))
        # Plain values (ints, Decimals, strings, datetimes, None) go to psycopg as they are: the fields'
        # get_db_prep_save cost more than the rest of the statement.
        params += [[getattr(o, c.attname) for o in objs] for c in cols]
    if not parts:
        return
    # Data-modifying CTEs run whether or not the main query reads them.
    sql = parts[0] if len(parts) == 1 else "WITH " + ", ".join(f"u{i} AS ({p})" for i, p in enumerate(parts)) + " SELECT 1"
    with connection.cursor() as cur:
        cur.execute(sql, params)


@lru_cache(maxsize=64)
def _update_sql(table: str, cols) -> str:
    q = connection.ops.quote_name
    arrays = ", ".join(f"%s::{c.db_type(connection)}[]" for c in cols)
    names = ", ".join(q(c.column) for c in cols)
    sets = ", ".join(f"{q(c.column)} = v.{q(c.column)}" for c in cols[1:])
    pk = q(cols[0].column)
    return f"UPDATE {q(table)} AS t SET {sets} FROM unnest({arrays}) AS v ({names}) WHERE t.{pk} = v.{pk}"


@lru_cache(maxsize=64)
def rows_insert_sql(model: type[models.Model], fields: tuple[str, ...], suffix: str = "") -> str:
    """``INSERT INTO <table> (fields) SELECT * FROM unnest(<one array per field>)`` + ``suffix``: one statement
    text whatever the number of rows (see ``rows_update``); pass one list per field as parameters."""
    q = connection.ops.quote_name
    cols = [model._meta.get_field(f) for f in fields]
    arrays = ", ".join(f"%s::{c.db_type(connection)}[]" for c in cols)
    return f"INSERT INTO {q(model._meta.db_table)} ({', '.join(q(c.column) for c in cols)}) SELECT * FROM unnest({arrays}) {suffix}"


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
    return order


def orders_expire_day(*, before: datetime, actor: Actor) -> int:
    """Expire DAY orders created before ``before`` that are still open and not in a parent; return how many.

    Orders in a parent are closed with it (the EMS expires the parent). Rows another transaction holds
    (the aggregation cycle taking them into a parent) are skipped: the next run sees them.
    """
    with transaction.atomic():
        candidates = list(
            Order.objects.select_for_update(of=("self",), skip_locked=True)
            .filter(time_in_force=TimeInForce.DAY, status__in=EXPIRABLE, created_at__lt=before, constituent__isnull=True)
            .order_by("pk").values_list("pk", flat=True)
        )
        if not candidates:
            return 0
        # A parent that took one of these in a transaction that committed after this statement's snapshot
        # is seen by a fresh read, now that the rows are locked.
        taken = set(Order.objects.filter(pk__in=candidates, constituent__isnull=False).values_list("pk", flat=True))
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
    return len(orders)
