"""Reads of FIX sessions (the command line's list; the FIX page will share them)."""

from __future__ import annotations

from django.db.models import QuerySet

from fix.models import FixSession
from oms.models import Order


def fix_sessions() -> QuerySet[FixSession]:
    return FixSession.objects.select_related("user").order_by("sender_comp_id", "target_comp_id")


def fix_session_by_comp_ids(ours: str, theirs: str) -> FixSession | None:
    return FixSession.objects.select_related("user").filter(sender_comp_id=ours, target_comp_id=theirs).first()


def fix_session_order(source: str, client_order_id: str) -> Order | None:
    """The order a session sent with this ClOrdID (client order ids are unique per source)."""
    return Order.objects.select_related("portfolio", "instrument").filter(source=source, client_order_id=client_order_id).first()
