"""Closing a parent order (FILLED, CANCELLED, EXPIRED: its unfilled constituent orders close the same way),
releasing a constituent whose cancel is pending from its parent, and reducing one (an order's cancel/replace
to a smaller quantity, asked by the OMS through ``oms.signals.order_reduce_requested``).

The live driver calls these once a parent has no open child order left (``ems.services.working``); fills
are booked by ``ems.services.booking``. Lock order as there: ParentOrder -> Constituent -> Order (pk order).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ems.broadcast import parents_changed_on_commit
from ems.error_codes import ParentOrderErrorCode
from ems.models import Constituent, ParentOrder
from ems.selectors import parents_at_venues
from ems.services.ticks import parent_tick_enqueue
from ems.states import Control, ExecStatus, check_parent_transition
from oms.audit_events import AuditEventType
from oms.error_codes import OrderErrorCode
from oms.errors import Conflict, DomainError, NotFound
from oms.models import Order
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.services.lifecycle import order_close
from oms.services.replace import check_replaceable, order_reduce_apply
from oms.states import OrderStatus

S = ExecStatus
CLOSE_EVENTS = {S.FILLED: AuditEventType.PARENT_ORDER_FILLED, S.CANCELLED: AuditEventType.PARENT_ORDER_CANCELLED, S.EXPIRED: AuditEventType.PARENT_ORDER_EXPIRED}


def parent_order_close(*, parent_id: int, status: str, actor: Actor, reason: str = "") -> ParentOrder:
    """Close a parent: FILLED (all done), CANCELLED or EXPIRED (the unfilled constituent orders close the
    same way, their fills kept). It must have no open child order. Closing it again the same way is a no-op;
    a parent whose cancel is pending is closed CANCELLED even when asked to expire."""
    if status not in CLOSE_EVENTS:
        raise DomainError(ParentOrderErrorCode.BAD_CLOSE_STATUS, f"A parent is closed FILLED, CANCELLED or EXPIRED, not {status}")
    with transaction.atomic():
        parent = ParentOrder.objects.select_for_update(of=("self",)).filter(pk=parent_id).first()
        if parent is None:
            raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {parent_id}")
        if parent.status == status:
            return parent
        if parent.status in S.terminal():
            raise Conflict(ParentOrderErrorCode.NOT_OPEN, f"Parent order {parent_id} is {parent.status}")
        if status == S.EXPIRED and parent.status == S.PENDING_CANCEL:
            status = S.CANCELLED
        if status == S.FILLED and parent.filled_quantity < parent.quantity:
            raise Conflict(ParentOrderErrorCode.NOT_FILLED, f"Parent order {parent_id} has {parent.remaining_quantity} left to fill")
        if parent.children.filter(status__in=S.open()).exists():
            raise Conflict(ParentOrderErrorCode.CHILDREN_OPEN, f"Parent order {parent_id} still has child orders at venues")
        before = parent.status
        check_parent_transition(before, status)
        parent.status, parent.completed_at = status, timezone.now()
        parent.save(update_fields=["status", "completed_at", "updated_at"])
        audit_append([PendingEvent(actor, CLOSE_EVENTS[status], "parent_order", parent.pk, before={"status": before},
                                   after={"status": status, "filled_quantity": parent.filled_quantity, "quantity": parent.quantity},
                                   reason=reason)])
        if status != S.FILLED:
            order_status = OrderStatus.CANCELLED if status == S.CANCELLED else OrderStatus.EXPIRED
            order_ids = list(Constituent.objects.select_for_update().filter(parent=parent).order_by("pk").values_list("order_id", flat=True))
            open_orders = Order.objects.filter(pk__in=order_ids).exclude(status__in=OrderStatus.terminal_statuses())
            for order_id in sorted(open_orders.values_list("pk", flat=True)):
                order_close(order_id=order_id, status=order_status, actor=actor,
                            reason=reason or f"parent order {parent.pk} {status.lower()}")
        parents_changed_on_commit([parent])
    return parent


def constituent_release(*, order_id: int, actor: Actor) -> None:
    """Take a constituent whose cancel is pending out of its parent once no child is open: the parent keeps
    only what was allocated to it, the order is CANCELLED with its fills. A parent left with nothing to do
    is closed (FILLED if it filled anything, else CANCELLED). A release already done is a no-op."""
    with transaction.atomic():
        parent, constituent, order = _lock_constituent(order_id)
        parent_id = parent.pk
        if order.status in (OrderStatus.CANCELLED, OrderStatus.FILLED) and constituent.quantity == constituent.allocated_quantity:
            return
        if order.status != OrderStatus.PENDING_CANCEL:
            raise Conflict(OrderErrorCode.NOT_PENDING_CANCEL, f"Order {order_id} is {order.status}, not pending cancel")
        if parent.children.filter(status__in=S.open()).exists():
            raise Conflict(ParentOrderErrorCode.CHILDREN_OPEN, f"Parent order {parent_id} still has child orders at venues")
        released = constituent.quantity - constituent.allocated_quantity
        before = {"quantity": parent.quantity, "status": parent.status}
        parent.quantity -= released
        constituent.quantity = constituent.allocated_quantity
        constituent.save(update_fields=["quantity"])
        parent.save(update_fields=["quantity", "updated_at"])
        audit_append([PendingEvent(actor, AuditEventType.PARENT_ORDER_REDUCED, "parent_order", parent.pk, before=before,
                                   after={"quantity": parent.quantity, "status": parent.status, "order_id": order_id,
                                          "released": released},
                                   reason=f"order {order_id} cancelled")])
        order_close(order_id=order_id, status=OrderStatus.CANCELLED, actor=actor, reason=f"cancelled; {released} released from parent {parent.pk}")
        if parent.quantity == parent.filled_quantity and parent.is_open:
            parent_order_close(parent_id=parent.pk, status=S.FILLED if parent.filled_quantity else S.CANCELLED, actor=actor,
                               reason=f"nothing left after order {order_id} was cancelled")
        else:
            parents_changed_on_commit([parent])


def _lock_constituent(order_id: int) -> tuple[ParentOrder, Constituent, Order]:
    """Lock the parent working an order now (its current constituent), that constituent and the order, in the lock
    order; NotFound if it is in no parent."""
    parent_id = Constituent.objects.filter(order_id=order_id, current=True).values_list("parent_id", flat=True).first()
    if parent_id is None:
        raise NotFound(ParentOrderErrorCode.CONSTITUENT_NOT_FOUND, f"Order {order_id} is not in a parent order")
    parent = ParentOrder.objects.select_for_update(of=("self",)).get(pk=parent_id)
    constituent = Constituent.objects.select_for_update().get(order_id=order_id, parent=parent)
    order = Order.objects.select_for_update(of=("self",)).select_related("portfolio", "instrument").get(pk=order_id)
    return parent, constituent, order


def constituent_reduce(*, order_id: int, quantity: int, actor: Actor) -> Order:
    """Reduce an order a parent works to ``quantity``: the parent and the order's constituent shrink by the
    same amount, in one transaction under the parent's lock (only a holder of it sends a child or books a
    fill, so nothing moves meanwhile). Refused with ``order.replace_below_working`` (409), nothing changed,
    past what the parent has free (its quantity less what is filled, what its open children still have at
    the venues and what an RFQ holds) or below what the order has filled. The parent re-plans for what is
    left (its children are cancelled and a new plan posts afresh); one left with nothing to do is closed."""
    with transaction.atomic():
        parent, constituent, order = _lock_constituent(order_id)
        check_replaceable(order)  # it may have filled or been cancelled since the OMS looked
        taken = order.quantity - quantity
        at_venues = parents_at_venues([parent.pk]).get(parent.pk, 0)
        free = min(parent.quantity - parent.filled_quantity - parent.reserved_quantity - at_venues,
                   constituent.quantity - constituent.allocated_quantity)
        if parent.status not in S.working():
            raise Conflict(OrderErrorCode.NOT_REPLACEABLE, f"Parent order {parent.pk} is {parent.status.lower()}: its orders cannot be amended")
        if quantity >= order.filled_quantity and taken > free:
            raise Conflict(OrderErrorCode.REPLACE_BELOW_WORKING,
                           f"Only {max(free, 0):,} of order {order_id} can be taken off now: its parent has {parent.filled_quantity:,} filled, "
                           f"{at_venues:,} at the venues and {parent.reserved_quantity:,} held by an RFQ", field="quantity")
        order_reduce_apply(order=order, quantity=quantity, actor=actor, reason=f"amended by {actor.name}; {taken:,} taken off parent {parent.pk}")
        before = {"quantity": parent.quantity, "status": parent.status}
        parent.quantity -= taken
        constituent.quantity -= taken
        constituent.save(update_fields=["quantity"])
        if parent.control == Control.RUNNING and not parent.replan:
            parent.replan = f"order {order_id} reduced by {taken:,}"[:64]
        parent.save(update_fields=["quantity", "replan", "updated_at"])
        audit_append([PendingEvent(actor, AuditEventType.PARENT_ORDER_REDUCED, "parent_order", parent.pk, before=before,
                                   after={"quantity": parent.quantity, "status": parent.status, "order_id": order_id, "released": taken},
                                   reason=f"order {order_id} amended to {quantity:,}")])
        if parent.quantity == parent.filled_quantity and not parent.children.filter(status__in=S.open()).exists():
            parent_order_close(parent_id=parent.pk, status=S.FILLED if parent.filled_quantity else S.CANCELLED, actor=actor,
                               reason=f"nothing left after order {order_id} was amended")
        else:
            parents_changed_on_commit([parent])
            parent_tick_enqueue(parent.pk)
    return order


def on_order_reduce_requested(sender, *, order_id: int, quantity: int, actor: Actor, **kwargs) -> Order:
    """Receiver of ``oms.signals.order_reduce_requested``: :func:`constituent_reduce`."""
    return constituent_reduce(order_id=order_id, quantity=quantity, actor=actor)
