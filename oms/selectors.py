"""Every non-trivial read of the OMS: the API, the pages and (later) TCA share these querysets."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, FilteredRelation, Q, QuerySet
from django.utils import timezone

from oms.models import AuditEvent, Instrument, MarketPrice, Order
from oms.risk_reference import RiskReference, risk_reference
from oms.roles import visible_portfolios


def order_list(*, user) -> QuerySet[Order]:
    """Orders the user may see, newest first, with what a blotter row shows."""
    return (
        Order.objects.filter(portfolio__in=visible_portfolios(user).values("id"))
        .select_related("portfolio", "instrument")
        .annotate(**current_parent_annotation())
        .order_by("-id")
    )


def current_parent_annotation() -> dict:
    """``current_parent_id``: the parent working the order now (None: not in one), read through the EMS's
    reverse relation ``order.constituents`` (its ``current`` row, at most one per order) in the same query."""
    return {"current_constituent": FilteredRelation("constituents", condition=Q(constituents__current=True)),
            "current_parent_id": F("current_constituent__parent_id")}


def order_parent_ids(*, order: Order) -> list[int]:
    """Every parent that worked the order, oldest first (a GTC order has one per market day it was worked)."""
    return list(order.constituents.order_by("parent_id").values_list("parent_id", flat=True))


def order_get(*, user, order_id: int) -> Order | None:
    return order_list(user=user).filter(pk=order_id).first()


def order_events(*, order: Order) -> QuerySet[AuditEvent]:
    """The audit trail of one order, oldest first (its timeline)."""
    return AuditEvent.objects.filter(object_type="order", object_id=str(order.pk)).order_by("seq")


def instrument_list() -> QuerySet[Instrument]:
    """Active instruments with their latest market price (``instrument.market_price``, if any), by symbol."""
    return Instrument.objects.filter(is_active=True).select_related("market_price").order_by("symbol")


def risk_references(instruments, *, now: datetime | None = None) -> dict[int, RiskReference]:
    """The price pre-trade risk would measure an order in each instrument against now (one query).

    The same rule as the intake applies (``oms.risk_reference.risk_reference``), so the ticket shows the price the
    order will be checked against.
    """
    now = now or timezone.now()
    instruments = list(instruments)
    marks = {
        iid: (mid, as_of)
        for iid, mid, as_of in MarketPrice.objects.filter(instrument_id__in=[i.id for i in instruments]).values_list(
            "instrument_id", "mid", "as_of"
        )
    }
    return {i.id: risk_reference(i, marks.get(i.id), now) for i in instruments}


def audit_event_list(*, filters: dict | None = None) -> QuerySet[AuditEvent]:
    """Audit events, newest first, filtered by object_type, object_id, actor, event_type, since, until."""
    qs = AuditEvent.objects.order_by("-seq")
    f = filters or {}
    if f.get("object_type"):
        qs = qs.filter(object_type=f["object_type"])
    if f.get("object_id"):
        qs = qs.filter(object_id=str(f["object_id"]))
    if f.get("actor"):
        qs = qs.filter(actor=f["actor"])
    if f.get("event_type"):
        qs = qs.filter(event_type=f["event_type"])
    if f.get("since"):
        qs = qs.filter(ts__gte=f["since"])
    if f.get("until"):
        qs = qs.filter(ts__lt=f["until"])
    return qs
