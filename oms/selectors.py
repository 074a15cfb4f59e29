"""Every non-trivial read of the OMS: the API, the pages and (later) TCA share these querysets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, F, FilteredRelation, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from oms.audit_events import AuditEventType, matching
from oms.models import AuditEvent, Instrument, MarketPrice, Order
from oms.risk_reference import RiskReference, risk_reference
from oms.roles import visible_portfolios
from oms.states import OrderStatus

# The blotter's sortable columns: the ``sort`` key a header sends -> the field ordered by ("-key": descending).
BLOTTER_SORTS = {
    "time": "created_at", "id": "id", "portfolio": "portfolio__code", "instrument": "instrument__symbol", "side": "side",
    "quantity": "quantity", "limit": "limit_price", "status": "status", "filled": "filled_quantity", "leaves": "leaves",
    "notional": "notional", "avg_price": "avg_price",
}
BLOTTER_DEFAULT_SORT = "-id"


def order_list(*, user) -> QuerySet[Order]:
    """Orders the user may see, newest first, with what a blotter row shows."""
    return (
        Order.objects.filter(portfolio__in=visible_portfolios(user).values("id"))
        .select_related("portfolio", "instrument")
        .annotate(**current_parent_annotation())
        .order_by("-id")
    )


def _leaves() -> Case:
    # FIX 151 LeavesQty: quantity - filled while the order is open; 0 once it is done, cancelled, expired, denied or rejected.
    return Case(When(status__in=OrderStatus.open_statuses(), then=F("quantity") - F("filled_quantity")), default=Value(0))


def with_leaves(orders: QuerySet[Order]) -> QuerySet[Order]:
    """Each order with its ``leaves``: the quantity still open for execution (FIX 151 LeavesQty)."""
    return orders.annotate(leaves=_leaves())


def blotter_sort(raw: str | None) -> str:
    """The blotter's sort key from a request (``notional``, ``-leaves``); anything else is the default, newest first."""
    return raw if raw and raw.lstrip("-") in BLOTTER_SORTS else BLOTTER_DEFAULT_SORT


def blotter_orders(orders: QuerySet[Order], *, sort: str) -> QuerySet[Order]:
    """The blotter's rows: ``orders`` with their leaves, ordered by ``sort`` (a key of BLOTTER_SORTS, ``-`` for
    descending; blanks last either way), the newest first among equals."""
    field = F(BLOTTER_SORTS[sort.lstrip("-")])
    key = field.desc(nulls_last=True) if sort.startswith("-") else field.asc(nulls_last=True)
    return with_leaves(orders).order_by(key, "-id")


def blotter_totals(orders: QuerySet[Order]) -> dict:
    """Totals of every order ``orders`` match (not only the rows shown): orders, quantity, filled, leaves, and the
    notional per currency (``[(currency, notional)]``, a sum never mixes currencies)."""
    rows = orders.order_by()
    sums = rows.aggregate(n=Count("id"), qty=Coalesce(Sum("quantity"), 0),  # aliases other than the fields' names
                          cum=Coalesce(Sum("filled_quantity"), 0), open=Coalesce(Sum(_leaves()), 0))
    totals = {"orders": sums["n"], "quantity": sums["qty"], "filled": sums["cum"], "leaves": sums["open"]}
    by_ccy = rows.values("instrument__currency").annotate(total=Sum("notional")).order_by("instrument__currency")
    totals["notional"] = [(r["instrument__currency"], r["total"]) for r in by_ccy]
    return totals


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


@dataclass(frozen=True)
class TimelineRun:
    """Consecutive events of one repetitive type (a fill after a fill) shown as one line that opens on a click."""

    events: list[AuditEvent]

    @property
    def first(self) -> AuditEvent:
        return self.events[0]

    @property
    def last(self) -> AuditEvent:
        return self.events[-1]

    @property
    def count(self) -> int:
        return len(self.events)


# Events a long-worked order writes by the hundred, one per fill: runs of them collapse on the order page.
TIMELINE_COLLAPSIBLE = frozenset({AuditEventType.ORDER_PARTIALLY_FILLED})
TIMELINE_MIN_RUN = 3  # fewer in a row are shown as they are


def timeline_collapse(events) -> list[AuditEvent | TimelineRun]:
    """The timeline with each run of ``TIMELINE_MIN_RUN`` or more consecutive events of one collapsible type as
    one ``TimelineRun``; everything else (the status changes a person looks for) stays a line of its own."""
    out: list[AuditEvent | TimelineRun] = []
    run: list[AuditEvent] = []

    def close():
        out.extend([TimelineRun(list(run))] if len(run) >= TIMELINE_MIN_RUN else run)
        run.clear()

    for e in events:
        if run and e.event_type != run[0].event_type:
            close()
        if e.event_type in TIMELINE_COLLAPSIBLE:
            run.append(e)
        else:
            out.append(e)
    close()
    return out


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
    """Audit events, newest first, filtered by object_type, object_id, actor, event_type, q (words matching an event
    type's readable label or its code, ``oms.audit_events.matching``), since, until."""
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
    if f.get("q"):
        qs = qs.filter(event_type__in=matching(f["q"]))
    if f.get("since"):
        qs = qs.filter(ts__gte=f["since"])
    if f.get("until"):
        qs = qs.filter(ts__lt=f["until"])
    return qs
