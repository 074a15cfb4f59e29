"""Cancel an order: what is not yet filled, with its credit given back, audited in the same transaction.

An order already worked inside a parent order (it has a current ``constituents`` row, the EMS's reverse relation: the
OMS never imports the EMS) cannot be cancelled at once: children of its parent may be at the venues. It
goes to PENDING_CANCEL and, after commit, ``oms.signals.order_cancel_requested`` tells the EMS; its driver
cancels the parent's children, takes the order's unfilled part out of the parent and closes the order
CANCELLED with its fills kept. The parent row is not locked here (the lock order puts the parent first),
and the other orders of the parent are not touched.
"""

from __future__ import annotations

from django.db import transaction

from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.error_codes import ApiErrorCode, OrderErrorCode, PermissionErrorCode
from oms.errors import Conflict, NotFound, NotPermitted
from oms.models import Order
from oms.order_reports import OrderReport, ReportKind, order_reports_emit
from oms.roles import Actor, tradable_portfolios, visible_portfolios
from oms.services.audit import PendingEvent, audit_append
from oms.services.lifecycle import order_credit_release
from oms.signals import order_cancel_requested
from oms.states import CANCELLABLE, OrderStatus, check_transition


def order_cancel(*, user, actor: Actor, order_id: int) -> Order:
    """Cancel what is not yet filled. Raise NotFound (not visible), NotPermitted, or Conflict (not open)."""
    with transaction.atomic():
        order = (
            Order.objects.select_for_update(of=("self",))
            .select_related("portfolio", "instrument")
            .filter(pk=order_id, portfolio__in=_visible_ids(user))
            .first()
        )
        if order is None:
            raise NotFound(ApiErrorCode.NOT_FOUND, f"No order {order_id}")
        if not tradable_portfolios(user).filter(pk=order.portfolio_id).exists():
            raise NotPermitted(PermissionErrorCode.READ_ONLY, "You may not cancel orders")
        if order.status not in CANCELLABLE:
            raise Conflict(OrderErrorCode.NOT_CANCELLABLE, f"Order is {order.get_status_display().lower()}; only open orders can be cancelled")
        before = order.status
        parent_id = order_parent_id(order)
        if parent_id is not None:
            return _cancel_in_parent(order, parent_id, actor)
        check_transition(before, OrderStatus.CANCELLED)
        order.status = OrderStatus.CANCELLED
        order.save(update_fields=["status", "updated_at"])
        order_credit_release(order)  # only what its unfilled part reserved against the daily credit limit
        audit_append([PendingEvent(actor, AuditEventType.ORDER_CANCELLED, "order", order.id, before={"status": before},
                                   after={"status": order.status}, reason="cancelled by " + actor.name)])
        orders_changed_on_commit([order])
        order_reports_emit([OrderReport(ReportKind.CANCELLED, order)])
    return order


def order_parent_id(order: Order) -> int | None:
    """The id of the parent the EMS works this order in now (through the reverse relation ``constituents``, its
    current row: a GTC order has one parent per market day it was worked)."""
    return order.constituents.filter(current=True).values_list("parent_id", flat=True).first()


def _cancel_in_parent(order: Order, parent_id: int, actor: Actor) -> Order:
    before = order.status
    check_transition(before, OrderStatus.PENDING_CANCEL)
    order.status = OrderStatus.PENDING_CANCEL
    order.save(update_fields=["status", "updated_at"])
    audit_append([PendingEvent(actor, AuditEventType.ORDER_CANCEL_REQUESTED, "order", order.id, before={"status": before},
                               after={"status": order.status, "parent_id": parent_id},
                               reason="cancel requested by " + actor.name + "; the parent order's children are cancelled first")])
    orders_changed_on_commit([order])
    order_reports_emit([OrderReport(ReportKind.PENDING_CANCEL, order)])
    transaction.on_commit(lambda: order_cancel_requested.send(sender=Order, order_id=order.id, parent_id=parent_id))
    return order


def _visible_ids(user):
    return visible_portfolios(user).values("id")
