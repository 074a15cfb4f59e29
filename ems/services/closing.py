"""Closing a parent order (FILLED, CANCELLED, EXPIRED: its unfilled constituent orders close the same way)
and releasing a constituent whose cancel is pending from its parent.

The live driver calls these once a parent has no open child order left (``ems.services.working``); fills
are booked by ``ems.services.booking``. Lock order as there: ParentOrder -> Constituent -> Order (pk order).
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from ems.broadcast import parents_changed_on_commit
from ems.error_codes import ParentOrderErrorCode
from ems.models import Constituent, ParentOrder
from ems.states import ExecStatus, check_parent_transition
from oms.audit_events import AuditEventType
from oms.error_codes import OrderErrorCode
from oms.errors import Conflict, DomainError, NotFound
from oms.models import Order
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.services.lifecycle import order_close
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
        parent_id = Constituent.objects.filter(order_id=order_id, current=True).values_list("parent_id", flat=True).first()
        if parent_id is None:
            raise NotFound(ParentOrderErrorCode.CONSTITUENT_NOT_FOUND, f"Order {order_id} is not in a parent order")
        parent = ParentOrder.objects.select_for_update(of=("self",)).get(pk=parent_id)
        constituent = Constituent.objects.select_for_update().get(order_id=order_id, parent=parent)
        order = Order.objects.select_for_update(of=("self",)).get(pk=order_id)
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
