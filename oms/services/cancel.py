"""Cancel an order: what is not yet filled, with its credit given back, audited in the same transaction."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from oms.broadcast import orders_changed_on_commit
from oms.errors import Conflict, NotFound, NotPermitted
from oms.models import Order
from oms.roles import Actor, tradable_portfolios, visible_portfolios
from oms.services import risk
from oms.services.audit import PendingEvent, audit_append
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
            raise NotFound("not_found", f"No order {order_id}")
        if not tradable_portfolios(user).filter(pk=order.portfolio_id).exists():
            raise NotPermitted("permission.read_only", "You may not cancel orders")
        if order.status not in CANCELLABLE:
            raise Conflict("order.not_cancellable", f"Order is {order.get_status_display().lower()}; only open orders can be cancelled")
        before = order.status
        check_transition(before, OrderStatus.CANCELLED)
        order.status = OrderStatus.CANCELLED
        order.save(update_fields=["status", "updated_at"])
        if order.reserved_notional:
            # Give back only what this order booked against the credit limit, for its unfilled part.
            released = (order.reserved_notional * order.remaining_quantity / order.quantity).quantize(Decimal("0.01"))
            risk.credit_release(portfolio_id=order.portfolio_id, trade_date=order.created_at.date(), notional=released)
        audit_append([PendingEvent(actor, "order.cancelled", "order", order.id, before={"status": before},
                                   after={"status": order.status}, reason="cancelled by " + actor.name)])
        orders_changed_on_commit([order])
    return order


def _visible_ids(user):
    return visible_portfolios(user).values("id")
