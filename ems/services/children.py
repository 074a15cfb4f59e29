"""Child orders: how they are named and how their placing is recorded, for every destination.

A child's ids are namespaced so that they are unique across parents and plans: the venue order ids and
exec ids of a parent's simulator start with :func:`venue_prefix` (``P<parent>-``), our ClOrdID (FIX 11)
with ``P<parent>E<epoch>-`` (:func:`client_order_id_for`). The RFQ platform names its children after the
request and quote (``RFQ<id>-Q<id>``). Every child is written with its ``child_order.placed`` audit row in
the same transaction (:func:`children_place`, or :func:`child_placed_event` for a caller that appends its
events itself).
"""

from __future__ import annotations

from ems.models import ChildOrder, ParentOrder
from oms.audit_events import AuditEventType
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append


def venue_prefix(parent: ParentOrder) -> str:
    """Venue order ids and exec ids of a parent's simulator: unique across parents."""
    return f"P{parent.pk}-"


def client_order_id_for(parent: ParentOrder, epoch: int, sim_client_order_id: str) -> str:
    """Our ClOrdID (FIX 11) for a child: the algorithm's id namespaced per parent and epoch."""
    return f"P{parent.pk}E{epoch}-{sim_client_order_id}"


def child_audit_dict(c: ChildOrder) -> dict:
    """A child order as its ``child_order.placed`` audit row records it."""
    return {"parent_id": c.parent_id, "epoch": c.epoch, "venue": c.venue.code, "client_order_id": c.client_order_id,
            "venue_order_id": c.venue_order_id, "side": c.side, "order_type": c.order_type, "time_in_force": c.time_in_force,
            "price": c.price, "quantity": c.quantity, "kind": c.kind, "reason": c.reason, "sent_us": c.sent_us}


def child_placed_event(child: ChildOrder, *, actor: Actor, reason: str = "") -> PendingEvent:
    """The ``child_order.placed`` audit event of ``child``."""
    return PendingEvent(actor, AuditEventType.CHILD_ORDER_PLACED, "child_order", child.pk, after=child_audit_dict(child), reason=reason)


def children_place(children: list[ChildOrder], *, actor: Actor) -> list[ChildOrder]:
    """Insert ``children`` (unsaved rows) with their audit rows; return them saved (with their pks)."""
    created = ChildOrder.objects.bulk_create(children)
    audit_append([child_placed_event(c, actor=actor) for c in created])
    return created


__all__ = ["child_audit_dict", "child_placed_event", "children_place", "client_order_id_for", "venue_prefix"]
