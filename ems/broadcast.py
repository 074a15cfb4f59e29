"""Websocket pushes about parent orders to the trader desk (hints sent after commit; pages re-fetch)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from oms.broadcast import publisher

DESK_GROUP = "desk.parents"


def parent_group(parent_id: int) -> str:
    return f"desk.parent{parent_id}"


def parents_changed_on_commit(parents: Iterable) -> None:
    """After the current transaction commits, tell the desk and each parent's page that these parents changed."""
    messages = []
    for p in parents:
        payload = {"type": "parent.changed", "id": p.id, "status": p.status, "control": p.control,
                   "filled_quantity": p.filled_quantity, "quantity": p.quantity}
        messages += [(DESK_GROUP, payload), (parent_group(p.id), payload)]
    if messages:
        transaction.on_commit(lambda: publisher.publish(messages))
