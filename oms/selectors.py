"""Every non-trivial read of the OMS: the API, the pages and (later) TCA share these querysets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, CharField, Count, F, FilteredRelation, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from oms.audit_events import AuditEventType, matching
from oms.audit_merkle import consistency_proof, consistency_proof_coords, inclusion_proof, inclusion_proof_coords
from oms.audit_proof import proof_bundle
from oms.audit_signing import public_keys_hex
from oms.audit_tree import EVENT_LEAF_COLUMNS, TreeNodeMissing, head_from_row, head_of_size, latest_head, node_reader
from oms.error_codes import AuditErrorCode, FieldErrorCode
from oms.errors import Conflict, NotFound, ValidationFailed
from oms.models import AuditEvent, AuditLeaf, AuditTreeHead, Instrument, InstrumentKind, MarketPrice, Order
from oms.money import PRICE_Q
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


# The log's order: by position (seq), the events the sealer has not reached yet (seq null) after every sealed
# one, by id (the order they were written in; the sealer may see them commit in another).
AUDIT_OLDEST_FIRST = (F("seq").asc(nulls_last=True), "id")
AUDIT_NEWEST_FIRST = (F("seq").desc(nulls_first=True), "-id")


def order_events(*, order: Order) -> QuerySet[AuditEvent]:
    """The audit trail of one order, oldest first: its own events and the "fill.booked" event of each fill that
    gave it shares (read through its allocations: a fill is audited once, with all its allocations)."""
    fills = order.allocations.annotate(fill_key=Cast("fill_id", CharField())).values("fill_key")
    return (AuditEvent.objects.filter(Q(object_type="order", object_id=str(order.pk)) | Q(object_type="fill", object_id__in=fills))
            .order_by(*AUDIT_OLDEST_FIRST))


@dataclass(frozen=True)
class TimelineFill:
    """A fill on an order's timeline: its "fill.booked" event, the shares it gave this order, and the order after it."""

    event: AuditEvent
    quantity: int
    filled: int
    avg_price: Decimal


@dataclass(frozen=True)
class TimelineRun:
    """Consecutive fills shown as one line that opens on a click, with the order's status moves they caused
    (kept inside, in their place). Trails written before fills were audited once hold one order progress event
    per fill instead: runs of those collapse the same way."""

    items: list[AuditEvent | TimelineFill]

    @property
    def first(self) -> AuditEvent:
        return _event_of(self.items[0])

    @property
    def last(self) -> AuditEvent:
        return _event_of(self.items[-1])

    @property
    def count(self) -> int:
        fills = sum(isinstance(i, TimelineFill) for i in self.items)
        return fills or len(self.items)

    @property
    def moves(self) -> list[AuditEvent]:
        return [i for i in self.items if not isinstance(i, TimelineFill)]

    @property
    def status_from(self) -> str:
        return (self.moves[0].before or {}).get("status", "") if self.moves else ""

    @property
    def status_to(self) -> str:
        return self.moves[-1].after.get("status", "") if self.moves else ""

    @property
    def filled_from(self) -> int:
        head = self.items[0]
        return head.filled - head.quantity if isinstance(head, TimelineFill) else (head.before or {}).get("filled_quantity") or 0

    @property
    def filled_to(self) -> int:
        fills = [i for i in self.items if isinstance(i, TimelineFill)]
        return fills[-1].filled if fills else self.items[-1].after["filled_quantity"]

    @property
    def avg_price(self):
        fills = [i for i in self.items if isinstance(i, TimelineFill)]
        return fills[-1].avg_price if fills else self.items[-1].after.get("avg_price")


def _event_of(item: AuditEvent | TimelineFill) -> AuditEvent:
    return item.event if isinstance(item, TimelineFill) else item


# Order progress events as trails before issue 18 wrote them, one per fill: runs of them collapse like fills.
TIMELINE_COLLAPSIBLE = frozenset({AuditEventType.ORDER_PARTIALLY_FILLED})
# The order's status moves a fill causes: inside a run of fills, they stay inside it.
TIMELINE_FILL_MOVES = frozenset({AuditEventType.ORDER_PARTIALLY_FILLED, AuditEventType.ORDER_FILLED})
TIMELINE_MIN_RUN = 3  # fewer in a row are shown as they are


def order_timeline(*, order: Order) -> list[AuditEvent | TimelineFill | TimelineRun]:
    """The order's audit trail as its page shows it: each fill with what it gave the order, and each run of
    ``TIMELINE_MIN_RUN`` or more fills in a row as one ``TimelineRun``; everything else (the status changes a
    person looks for) stays a line of its own."""
    filled, notional = 0, Decimal(0)
    items: list[AuditEvent | TimelineFill] = []
    for e in order_events(order=order):
        if e.event_type == AuditEventType.FILL_BOOKED:
            q = dict((order_id, q) for order_id, q in e.after["allocations"]).get(order.pk, 0)
            filled, notional = filled + q, notional + Decimal(e.after["price"]) * q
            items.append(TimelineFill(e, q, filled, (notional / filled).quantize(PRICE_Q) if filled else None))
        else:
            items.append(e)
    return timeline_collapse(items)


def timeline_collapse(items) -> list[AuditEvent | TimelineFill | TimelineRun]:
    """The timeline with each run of ``TIMELINE_MIN_RUN`` or more consecutive fills (the status moves among them
    included), or of order progress events in older trails, as one ``TimelineRun``."""
    out: list = []
    run: list = []

    def close():
        counted = sum(isinstance(i, TimelineFill) for i in run) or len(run)
        out.extend([TimelineRun(list(run))] if counted >= TIMELINE_MIN_RUN else run)
        run.clear()

    for item in items:
        if isinstance(item, TimelineFill):
            if run and not isinstance(run[0], TimelineFill):
                close()
            run.append(item)
        elif run and isinstance(run[0], TimelineFill) and item.event_type in TIMELINE_FILL_MOVES:
            run.append(item)
        elif item.event_type in TIMELINE_COLLAPSIBLE:
            if run and isinstance(run[0], TimelineFill):
                close()
            run.append(item)
        else:
            close()
            out.append(item)
    close()
    return out


def instrument_list() -> QuerySet[Instrument]:
    """Active equities with their latest market price (``instrument.market_price``, if any), by symbol: what the
    simulated equity market runs and the desk's pages list (options: ``option_list``)."""
    return Instrument.objects.filter(is_active=True, kind=InstrumentKind.EQUITY).select_related("market_price").order_by("symbol")


def instrument_catalogue() -> QuerySet[Instrument]:
    """Every active instrument a client may name, equities and options (the API's list, with its filters)."""
    return Instrument.objects.filter(is_active=True).select_related("market_price", "underlying").order_by("symbol")


def option_list(*, underlying: Instrument) -> QuerySet[Instrument]:
    """The active options on ``underlying``, by expiry, strike and type (its chain)."""
    return (Instrument.objects.filter(is_active=True, kind=InstrumentKind.OPTION, underlying=underlying)
            .select_related("market_price").order_by("expiry", "strike", "option_type"))


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
    qs = AuditEvent.objects.order_by(*AUDIT_NEWEST_FIRST)
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


# --- the audit log's Merkle tree: proofs for compliance (docs/audit.md) ------------------------------


@dataclass(frozen=True)
class AuditProof:
    """An event's proof bundle (``oms.audit_proof.proof_bundle``) against the head of ``tree_size`` events."""

    event_id: int
    tree_size: int
    bundle: dict


def audit_proof(*, event_id: int, from_size: int | None = None) -> AuditProof:
    """Build the inclusion proof of an event against the latest signed head, and with ``from_size`` the proof
    that this head extends the head of that size; the stored subtrees both need are read in one query.

    NotFound (``audit.event_not_found``), Conflict (``audit.not_sealed``: retry within the seal delay;
    ``audit.proof_unavailable``: a subtree is gone) or ValidationFailed (``from_size`` names no signed head).
    """
    # The event before the head: a seal committing in between only makes the head larger than its leaf.
    row = AuditEvent.objects.filter(pk=event_id).values_list(*EVENT_LEAF_COLUMNS, "leaf__leaf_index").first()
    if row is None:
        raise NotFound(AuditErrorCode.EVENT_NOT_FOUND, f"No audit event has id {event_id}")
    event, leaf_index = dict(zip(EVENT_LEAF_COLUMNS, row[:-1], strict=True)), row[-1]
    head = latest_head() if leaf_index is not None else None
    if head is None or leaf_index >= head.tree_size:
        raise Conflict(AuditErrorCode.NOT_SEALED, f"Audit event {event_id} is not sealed in the tree yet: the sealer seals every "
                       f"{settings.AUDIT_SEAL_EVERY_S:g} s; retry within {settings.AUDIT_SEAL_BOUND_S:g} s")
    old = None
    if from_size is not None:
        old = head_of_size(from_size) if 0 < from_size <= head.tree_size else None
        if old is None:
            raise ValidationFailed({"from_size": [{"code": FieldErrorCode.UNKNOWN, "detail": (
                f"No signed tree head of {from_size} events (GET /api/audit/tree-heads/ lists them; the latest is of {head.tree_size})")}]})
    coords = inclusion_proof_coords(leaf_index, head.tree_size) + (consistency_proof_coords(old.tree_size, head.tree_size) if old else [])
    node = node_reader(coords)
    try:
        inclusion = inclusion_proof(leaf_index, head.tree_size, node)
        consistency = consistency_proof(old.tree_size, head.tree_size, node) if old else None
    except TreeNodeMissing as exc:
        raise Conflict(AuditErrorCode.PROOF_UNAVAILABLE, f"The proof cannot be built: {exc}. Run the audit verification")
    bundle = proof_bundle(event=event, leaf_index=leaf_index, tree_head=head, inclusion=inclusion, public_keys=public_keys_hex(),
                          from_head=old, consistency=consistency)
    return AuditProof(event_id, head.tree_size, bundle)


def audit_sealed_ids(event_ids) -> set[int]:
    """The ids among ``event_ids`` of the events sealed in the tree (a proof can be downloaded for them)."""
    return set(AuditLeaf.objects.filter(event_id__in=list(event_ids)).values_list("event_id", flat=True))


def audit_tree_head_list() -> QuerySet[AuditTreeHead]:
    """The signed tree heads, newest (largest) first."""
    return AuditTreeHead.objects.order_by("-tree_size")


def audit_tree_head_rows(heads) -> list[dict]:
    """The JSON shape of stored heads: ``TreeHead.as_dict`` and the time as ISO 8601 UTC."""
    out = []
    for row in heads:
        head = head_from_row(row.tree_size, row.root_hash, row.timestamp, row.key_id, row.signature)
        out.append({**head.as_dict(), "time": head.time.isoformat(timespec="milliseconds")})
    return out
