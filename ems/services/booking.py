"""Fill booking: the one EMS service every execution goes through (lit, dark, internal, RFQ). Closing a
parent and releasing a constituent are ``ems.services.closing``.

A fill moves its child, its parent and (through the progressive pro-rata allocation of ``ems.allocation``)
the original orders and their positions, in one transaction with its audit rows. ``exec_id`` is unique in
the database: a report delivered twice, even by two workers at once, is booked once (``INSERT ... ON
CONFLICT DO NOTHING`` under the parent's row lock decides).

Lock order (shared by every EMS/OMS writer): ParentOrder -> ChildOrder -> Constituent -> Order (pk order)
-> Position.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from ems.allocation import AllocationError, allocate
from ems.broadcast import parents_changed_on_commit
from ems.error_codes import ChildOrderErrorCode, InternalCrossErrorCode, ParentOrderErrorCode
from ems.models import Allocation, ChildOrder, Constituent, Fill, InternalCross, ParentOrder, Venue
from ems.selectors import live_clock
from ems.states import ExecStatus, check_child_transition, check_parent_transition
from oms.audit_events import AuditEventType
from oms.db import bulk_insert, rows_insert_sql, rows_update, write_rows
from oms.error_codes import FillErrorCode
from oms.errors import Conflict, DomainError, NotFound
from oms.models import Instrument, Order
from oms.money import PRICE_Q
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.services.lifecycle import OrderFill, orders_fill_prepare

S = ExecStatus
LIQUIDITY = frozenset(Fill.Liquidity.values)
PARENT_FILL_FIELDS = ["filled_quantity", "notional", "avg_price", "fees", "status", "completed_at", "updated_at"]


@dataclass(frozen=True)
class Execution:
    """One execution report's fill, from any destination (FIX 35=8, 150=F)."""

    exec_id: str  # FIX 17
    venue_code: str
    side: str  # buy | sell
    quantity: int  # FIX 32 LastQty
    price: Decimal  # FIX 31 LastPx
    liquidity: str  # Fill.Liquidity (FIX 851)
    fee: Decimal  # currency, for this fill; negative = rebate
    market_day: int
    market_time_us: int  # FIX 60 TransactTime, µs since the open


def internal_venue() -> Venue:
    """The venue internal crosses are booked at (created on first use)."""
    return Venue.objects.get_or_create(code="INTERNAL", defaults={"name": "Internal cross", "kind": Venue.Kind.INTERNAL})[0]


# --- fills of child orders --------------------------------------------------------------------------


def fill_book(*, child_id: int, execution: Execution, actor: Actor) -> Fill | None:
    """Book one execution of a child order; None when its exec_id was booked already (see ``fills_book``)."""
    booked = fills_book(executions=[(child_id, execution)], actor=actor)
    return booked[0] if booked else None


def fills_book(*, executions: list[tuple[int, Execution]], actor: Actor) -> list[Fill]:
    """Book executions of child orders in one transaction; return the fills booked (duplicates left out).

    Each new fill: the child's and the parent's filled quantity, notional, average price and status (fees
    on the parent), allocated at once to the parent's constituents, applied to the orders and their
    positions (``oms.services.lifecycle.orders_fill_prepare``), audited: one "fill.booked" per fill with its
    allocations and the positions it left, and each child / parent / order status change, pushed after commit. A fill that would over-fill a child or a
    parent, or reach a closed one, raises and books nothing of the batch.
    """
    if not executions:
        return []
    for _, ex in executions:
        _check_execution(ex)
    with transaction.atomic():
        child_ids = sorted({cid for cid, _ in executions})
        parents = {p.pk: p for p in ParentOrder.objects.select_for_update(of=("self",)).select_related("instrument")
                   .filter(pk__in=ChildOrder.objects.filter(pk__in=child_ids).values("parent_id")).order_by("pk")}
        parent_ids = sorted(parents)
        children = {c.pk: c for c in ChildOrder.objects.select_for_update(of=("self",)).select_related("venue")
                    .filter(pk__in=child_ids).order_by("pk")}
        missing = set(child_ids) - children.keys()
        if missing:
            raise NotFound(ChildOrderErrorCode.NOT_FOUND, f"No child order {min(missing)}")
        by_parent = _constituents_locked(parent_ids)

        new = _insert_fills(executions, children, parents)
        if not new:
            return []
        ledger = _Ledger(actor)
        touched_children: dict[int, ChildOrder] = {}
        for fill in new:
            child = children[fill.child_id]
            if fill.side != child.side:
                raise DomainError(FillErrorCode.BAD_SIDE, f"Fill {fill.exec_id} is a {fill.side}; child {child.pk} is a {child.side}")
            ledger.events += _progress(child, "child_order", fill, check_child_transition, ledger.now, actor)
            touched_children[child.pk] = child
            ledger.parent_fill(fill, parents[fill.parent_id], by_parent[fill.parent_id])
        audit_append(ledger.write(
            [(ChildOrder, list(touched_children.values()), ["filled_quantity", "notional", "avg_price", "status", "updated_at"])]))
    return new


class _Ledger:
    """What one booking writes once its fills are applied in memory: the parents' progress, the allocations
    to the orders (and the orders' progress and positions), and the audit events, in that order."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.now = timezone.now()
        self.events: list[PendingEvent] = []
        self.allocations: list[tuple] = []
        self.order_fills: list[OrderFill] = []
        self.parents: dict[int, ParentOrder] = {}
        self.constituents: dict[int, Constituent] = {}
        self.fills: list[tuple[Fill, dict[int, int]]] = []  # each booked fill and its shares by order id

    def parent_fill(self, fill: Fill, parent: ParentOrder, constituents: list[Constituent]) -> None:
        """Add a fill of ``parent`` (locked, with its locked ``constituents``): its progress, and its pro-rata
        allocation to the constituents (``ems.allocation``)."""
        self.events += _progress(parent, "parent_order", fill, check_parent_transition, self.now, self.actor)
        parent.fees += fill.fee
        self.parents[parent.pk] = parent
        shares = _allocate(fill, parent, constituents)
        for c in constituents:
            q = shares.get(c.order_id)
            if q:
                c.allocated_quantity += q
                self.constituents[c.pk] = c
                self.allocations.append((fill.pk, c.order_id, parent.pk, q, fill.price, self.now))
                self.order_fills.append(OrderFill(c.order_id, q, fill.price, fill.exec_id, fill.venue.code))
        self.fills.append((fill, shares))

    def order_fill(self, fill: Fill, legs: list[tuple[Order, int]]) -> None:
        """Add a fill given straight to orders (no parent): an internal cross's orders."""
        for order, q in legs:
            self.allocations.append((fill.pk, order.pk, None, q, fill.price, self.now))
            self.order_fills.append(OrderFill(order.pk, q, fill.price, fill.exec_id, fill.venue.code))
        self.fills.append((fill, {order.pk: q for order, q in legs}))

    def write(self, more_rows: list[tuple] = ()) -> list[PendingEvent]:
        """Write the rows (``more_rows``: further ``rows_update`` changes) and apply the order fills; return
        the audit events for the caller to append (after its last lock: see ``internal_cross_prepare``)."""
        rows_update([*more_rows, (ParentOrder, list(self.parents.values()), PARENT_FILL_FIELDS),
                     (Constituent, list(self.constituents.values()), ["allocated_quantity"])])
        _insert_allocations(self.allocations)
        applied = orders_fill_prepare(fills=self.order_fills, actor=self.actor)
        parents_changed_on_commit(list(self.parents.values()))
        # One event per fill, carrying its allocations and the positions it left: the orders get one of their
        # own only when their status moves (``orders_fill_prepare``), the positions none.
        booked = [PendingEvent(self.actor, AuditEventType.FILL_BOOKED, "fill", fill.pk,
                               after=_fill_dict(fill, shares, applied.positions.get(fill.exec_id, [])))
                  for fill, shares in self.fills]
        return self.events + booked + applied.events


def _check_execution(ex: Execution) -> None:
    if not ex.exec_id or len(ex.exec_id) > 128:
        raise DomainError(FillErrorCode.BAD_EXEC_ID, "An execution needs an exec_id of 1 to 128 characters")
    if not isinstance(ex.quantity, int) or isinstance(ex.quantity, bool) or ex.quantity <= 0:
        raise DomainError(FillErrorCode.BAD_QUANTITY, f"Fill {ex.exec_id}: quantity must be a positive integer")
    if not isinstance(ex.price, Decimal) or not ex.price.is_finite() or ex.price <= 0:
        raise DomainError(FillErrorCode.BAD_PRICE, f"Fill {ex.exec_id}: price must be a positive Decimal")
    if ex.side not in ("buy", "sell"):
        raise DomainError(FillErrorCode.BAD_SIDE, f"Fill {ex.exec_id}: side must be buy or sell")
    if ex.liquidity not in LIQUIDITY:
        raise DomainError(FillErrorCode.BAD_LIQUIDITY, f"Fill {ex.exec_id}: liquidity must be one of {sorted(LIQUIDITY)}")
    if not isinstance(ex.fee, Decimal) or not ex.fee.is_finite():
        raise DomainError(FillErrorCode.BAD_FEE, f"Fill {ex.exec_id}: fee must be a Decimal")


def _executed_at(day: int, t_us: int) -> datetime:
    return datetime.fromtimestamp(live_clock().wall_time(day, t_us), UTC)


def _insert_fills(executions, children: dict[int, ChildOrder], parents: dict[int, ParentOrder]) -> list[Fill]:
    """Insert the executions' fills, skipping exec_ids already booked (here or in the batch); return the new ones."""
    venues = {c.venue.code: c.venue for c in children.values()}
    codes = {ex.venue_code for _, ex in executions} - venues.keys()
    if codes:
        venues.update({v.code: v for v in Venue.objects.filter(code__in=codes)})
        if codes - venues.keys():
            raise NotFound(ChildOrderErrorCode.VENUE_NOT_FOUND, f"No venue {sorted(codes - venues.keys())[0]}")
    fills, seen = [], set()
    now = timezone.now()
    for child_id, ex in executions:
        if ex.exec_id in seen:
            continue
        seen.add(ex.exec_id)
        child = children[child_id]
        parent = parents[child.parent_id]
        fills.append(Fill(
            exec_id=ex.exec_id, instrument_id=parent.instrument_id, parent_id=parent.pk, child_id=child.pk,
            venue=venues[ex.venue_code], side=ex.side, quantity=ex.quantity, price=ex.price.quantize(PRICE_Q),
            liquidity=ex.liquidity, fee=ex.fee.quantize(PRICE_Q), allocated_quantity=ex.quantity,
            market_day=ex.market_day, market_time_us=ex.market_time_us,
            executed_at=_executed_at(ex.market_day, ex.market_time_us), booked_at=now,
        ))
    return _insert_ignoring_duplicates(fills)


FILL_COLUMNS = ("exec_id", "instrument", "parent", "child", "cross", "venue", "side", "quantity", "price", "liquidity", "fee",
                "allocated_quantity", "market_day", "market_time_us", "executed_at", "booked_at")
ALLOCATION_COLUMNS = ["fill_id", "order_id", "parent_id", "quantity", "price", "created_at"]


def _insert_ignoring_duplicates(fills: list[Fill]) -> list[Fill]:
    fields = [Fill._meta.get_field(name) for name in FILL_COLUMNS]
    with connection.cursor() as cur:
        cur.execute(
            rows_insert_sql(Fill, FILL_COLUMNS, 'ON CONFLICT ("exec_id") DO NOTHING RETURNING "id", "exec_id"'),
            [[getattr(obj, f.attname) for obj in fills] for f in fields],  # plain values: see rows_update
        )
        ids = dict((exec_id, pk) for pk, exec_id in cur.fetchall())
    new = []
    for fill in fills:
        if fill.exec_id in ids:
            fill.pk = ids[fill.exec_id]
            fill._state.adding, fill._state.db = False, connection.alias
            new.append(fill)
    return new


def _insert_allocations(rows: list[tuple]) -> None:
    """Insert allocation rows ``(fill_id, order_id, parent_id, quantity, price, created_at)``: a multi-row INSERT
    for a few, COPY for many (a fill over 20 constituents makes 20; a batch of fills, hundreds)."""
    write_rows(Allocation._meta.db_table, ALLOCATION_COLUMNS, rows)


_OVERFILL = {"child_order": ChildOrderErrorCode.OVERFILL, "parent_order": ParentOrderErrorCode.OVERFILL}


def _progress(obj, object_type: str, fill: Fill, check, now, actor: Actor) -> list[PendingEvent]:
    """Add ``fill`` to a child or parent: quantity, notional, average price, status (audited if it moves)."""
    filled = obj.filled_quantity + fill.quantity
    if filled > obj.quantity:
        raise Conflict(_OVERFILL[object_type],
                       f"Fill {fill.exec_id} of {fill.quantity} would take {object_type.replace('_', ' ')} {obj.pk} "
                       f"past its quantity ({obj.filled_quantity} of {obj.quantity} filled)")
    before = obj.status
    target = S.FILLED if filled == obj.quantity else S.PENDING_CANCEL if before == S.PENDING_CANCEL else S.PARTIALLY_FILLED
    if target != before:  # staying put is only ever PARTIALLY_FILLED or PENDING_CANCEL taking one more fill
        check(before, target)
    obj.filled_quantity = filled
    obj.notional += fill.price * fill.quantity
    obj.avg_price = (obj.notional / filled).quantize(PRICE_Q)
    obj.status = target
    obj.updated_at = now
    if target == S.FILLED and object_type == "parent_order":
        obj.completed_at = now
    if target == before:
        return []
    return [PendingEvent(actor, AuditEventType(f"{object_type}.{target.lower()}"), object_type, obj.pk, before={"status": before},
                         after={"status": target, "filled_quantity": filled, "avg_price": obj.avg_price, "exec_id": fill.exec_id})]


def _allocate(fill: Fill, parent: ParentOrder, constituents: list[Constituent]) -> dict[int, int]:
    wants = [(c.order_id, c.quantity, c.allocated_quantity) for c in constituents]
    try:
        return allocate(fill.quantity, wants, parent.instrument.lot_size)
    except AllocationError as exc:
        raise Conflict(FillErrorCode.UNALLOCATABLE, f"Fill {fill.exec_id} of parent {parent.pk}: {exc}") from exc


def _fill_dict(fill: Fill, shares: dict[int, int], positions: list[list]) -> dict:
    return {
        "exec_id": fill.exec_id, "parent_id": fill.parent_id, "child_id": fill.child_id, "cross_id": fill.cross_id,
        "venue": fill.venue.code, "side": fill.side, "quantity": fill.quantity, "price": fill.price,
        "liquidity": fill.liquidity, "fee": fill.fee, "market_day": fill.market_day, "market_time_us": fill.market_time_us,
        "allocations": [[order_id, q] for order_id, q in sorted(shares.items())],
        "positions": positions,  # [[portfolio_id, quantity, avg_cost, realized_pnl], ...] after this fill
    }


# --- non-fill reports of child orders ---------------------------------------------------------------

# kind -> (target status, audit event). "cancel_rejected" goes back to working (ACCEPTED or PARTIALLY_FILLED).
CHILD_REPORTS: dict[str, tuple[str | None, str]] = {
    "ack": (S.ACCEPTED, AuditEventType.CHILD_ORDER_ACKED),
    "pending_cancel": (S.PENDING_CANCEL, AuditEventType.CHILD_ORDER_CANCEL_REQUESTED),
    "cancelled": (S.CANCELLED, AuditEventType.CHILD_ORDER_CANCELLED),
    "rejected": (S.REJECTED, AuditEventType.CHILD_ORDER_REJECTED),
    "expired": (S.EXPIRED, AuditEventType.CHILD_ORDER_EXPIRED),
    "cancel_rejected": (None, AuditEventType.CHILD_ORDER_CANCEL_REJECTED),
}


def child_report_apply(*, child_id: int, kind: str, reason: str = "", actor: Actor) -> ChildOrder:
    """Apply a non-fill status report of a child order (ack, cancel asked / done / refused, reject, expiry).

    Idempotent: a report whose effect is already there is a no-op. A late ack (the child already filled or
    is being cancelled) and a cancel request for a child that is already done are no-ops too; any other move
    the child table does not have raises ``IllegalTransition``. The one-report form of
    ``child_reports_apply``.
    """
    child = ChildOrder.objects.filter(pk=child_id).first()
    if child is None:
        raise NotFound(ChildOrderErrorCode.NOT_FOUND, f"No child order {child_id}")
    child_reports_apply(reports=[(child_id, kind, reason)], actor=actor)
    child.refresh_from_db()
    return child


def child_reports_apply(*, reports: list[tuple[int, str, str]], actor: Actor) -> int:
    """Apply non-fill reports ``(child_id, kind, reason)`` in the order given, in one transaction: the
    children locked in pk order by one query, their rows written by one statement, one audit append and
    one push per parent. Return how many reports changed a child (see ``child_report_apply``)."""
    for _, kind, _ in reports:
        if kind not in CHILD_REPORTS:
            raise DomainError(ChildOrderErrorCode.BAD_REPORT_KIND, f"Unknown child report {kind!r}; expected one of {sorted(CHILD_REPORTS)}")
    if not reports:
        return 0
    with transaction.atomic():
        ids = sorted({r[0] for r in reports})
        children = {c.pk: c for c in ChildOrder.objects.select_for_update(of=("self",)).select_related("parent")
                    .filter(pk__in=ids).order_by("pk")}
        missing = [i for i in ids if i not in children]
        if missing:
            raise NotFound(ChildOrderErrorCode.NOT_FOUND, f"No child order {missing[0]}")
        events, changed, now = [], {}, timezone.now()
        for child_id, kind, reason in reports:
            child = children[child_id]
            target, event_type = CHILD_REPORTS[kind]
            before = child.status
            if kind == "ack" and before != S.PENDING_NEW:
                continue
            if kind == "pending_cancel" and (before == S.PENDING_CANCEL or before in S.terminal()):
                continue
            if kind == "cancel_rejected":
                if before != S.PENDING_CANCEL:
                    continue
                target = S.PARTIALLY_FILLED if child.filled_quantity else S.ACCEPTED
            if before == target:
                continue
            check_child_transition(before, target)
            child.status, child.updated_at = target, now
            if reason:
                child.reason = reason[:64]
            changed[child.pk] = child
            events.append(PendingEvent(actor, event_type, "child_order", child.pk, before={"status": before},
                                       after={"status": target, "filled_quantity": child.filled_quantity, "parent_id": child.parent_id},
                                       reason=reason))
        if changed:
            rows_update([(ChildOrder, list(changed.values()), ["status", "reason", "updated_at"])])
            audit_append(events)
            parents_changed_on_commit({c.parent_id: c.parent for c in changed.values()}.values())
    return len(events)


# --- internal crosses -------------------------------------------------------------------------------


def internal_cross_book(*, instrument: Instrument, price: Decimal, market_day: int, market_time_us: int,
                        buys: list[tuple[Order, int]], sells: list[tuple[Order, int]], actor: Actor,
                        parents: list[tuple[ParentOrder, int]] = ()) -> InternalCross:
    """Fill opposing interest against each other at ``price`` (the mid) and audit it: ``internal_cross_prepare``
    and the append of its events. The caller runs inside its transaction and holds the locks
    ``internal_cross_prepare`` asks for."""
    with transaction.atomic():
        cross, events = internal_cross_prepare(instrument=instrument, price=price, market_day=market_day,
                                               market_time_us=market_time_us, buys=buys, sells=sells, parents=parents,
                                               actor=actor)
        audit_append(events)
    return cross


def internal_cross_prepare(*, instrument: Instrument, price: Decimal, market_day: int, market_time_us: int,
                           buys: list[tuple[Order, int]], sells: list[tuple[Order, int]], actor: Actor,
                           parents: list[tuple[ParentOrder, int]] = ()) -> tuple[InternalCross, list[PendingEvent]]:
    """Fill opposing interest against each other at ``price`` (the mid): no fee, no venue, no market impact.
    Return the cross and its audit events, for the caller to append once it has taken its last lock (the
    audit chain's lock is held to the commit: a caller that took it and then waited for a row would deadlock
    with a tick holding that row and waiting for the chain).

    The legs are client orders not in a parent (``buys`` / ``sells``: one fill per side that has any, exec
    ids ``X<cross>-B`` / ``-S``, allocated to the orders) and working parents (``parents``, each on its own
    side: one fill per parent, exec id ``X<cross>-P<parent>``, booked as any fill of the parent: its progress,
    and the pro-rata allocation to its constituents; how much of a parent may cross is the caller's rule,
    the parent's own quantity the last word). The bought and sold quantities must be equal. The
    orders progress through the order lifecycle (positions included). Runs inside the caller's
    transaction; the caller holds the orders' and the parents' row locks (the constituents are locked
    here, after the parents, in the booking lock order).
    """
    qty = _cross_side_quantity(buys, "buy", instrument) + _parent_side_quantity(parents, "buy", instrument)
    sold = _cross_side_quantity(sells, "sell", instrument) + _parent_side_quantity(parents, "sell", instrument)
    if not qty or not sold:
        raise DomainError(InternalCrossErrorCode.EMPTY, "A cross needs a buy and a sell")
    if qty != sold:
        raise DomainError(InternalCrossErrorCode.UNBALANCED, "A cross needs as many shares bought as sold")
    price = Decimal(price).quantize(PRICE_Q)
    if price <= 0:
        raise DomainError(InternalCrossErrorCode.BAD_PRICE, "A cross needs a positive price")
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("internal_cross_prepare runs inside the transaction that writes its audit events")
    venue = internal_venue()
    cross = InternalCross.objects.create(instrument=instrument, quantity=qty, price=price, market_day=market_day,
                                         market_time_us=market_time_us)
    executed_at = _executed_at(market_day, market_time_us)

    def fill(exec_id: str, side: str, q: int, parent: ParentOrder | None = None) -> Fill:
        return Fill(exec_id=exec_id, instrument=instrument, parent=parent, cross=cross, venue=venue, side=side, quantity=q,
                    price=price, liquidity=Fill.Liquidity.INTERNAL, fee=Decimal(0), allocated_quantity=q,
                    market_day=market_day, market_time_us=market_time_us, executed_at=executed_at)

    order_legs = [(side, legs) for side, legs in (("buy", buys), ("sell", sells)) if legs]
    fills = bulk_insert(Fill, [fill(f"X{cross.pk}-{side[0].upper()}", side, sum(q for _, q in legs)) for side, legs in order_legs]
                        + [fill(f"X{cross.pk}-P{p.pk}", p.side, q, p) for p, q in parents])
    ledger = _Ledger(actor)
    for f, (_, legs) in zip(fills[:len(order_legs)], order_legs, strict=True):
        ledger.order_fill(f, legs)
    by_parent = _constituents_locked([p.pk for p, _ in parents])
    for f, (p, _) in zip(fills[len(order_legs):], parents, strict=True):
        ledger.parent_fill(f, p, by_parent[p.pk])
    header = PendingEvent(actor, AuditEventType.INTERNAL_CROSS_BOOKED, "internal_cross", cross.pk, after={
        "instrument": instrument.symbol, "quantity": qty, "price": price, "market_day": market_day,
        "market_time_us": market_time_us, "buys": [[o.pk, q] for o, q in buys], "sells": [[o.pk, q] for o, q in sells],
        "parents": [[p.pk, p.side, q] for p, q in parents],
    })
    return cross, [header, *ledger.write()]


def _constituents_locked(parent_ids: list[int]) -> dict[int, list[Constituent]]:
    by_parent: dict[int, list[Constituent]] = {pid: [] for pid in parent_ids}
    if parent_ids:
        for c in Constituent.objects.select_for_update().filter(parent_id__in=parent_ids).order_by("pk"):
            by_parent[c.parent_id].append(c)
    return by_parent


def _parent_side_quantity(legs: list[tuple[ParentOrder, int]], side: str, instrument: Instrument) -> int:
    ids = [p.pk for p, _ in legs]
    if len(ids) != len(set(ids)):
        raise DomainError(InternalCrossErrorCode.DUPLICATE_ORDER, "A parent order appears twice in a cross")
    total = 0
    for parent, q in legs:
        if parent.instrument_id != instrument.pk:
            raise DomainError(InternalCrossErrorCode.BAD_LEG, f"Parent order {parent.pk} is not of {instrument.symbol}")
        if not isinstance(q, int) or q <= 0:
            raise DomainError(InternalCrossErrorCode.BAD_QUANTITY, f"Parent order {parent.pk}: cross quantity must be a positive integer")
        if parent.status not in S.working():
            raise Conflict(ParentOrderErrorCode.NOT_OPEN, f"Parent order {parent.pk} is {parent.status}: only a working parent crosses")
        if parent.side == side:
            total += q
    return total


def _cross_side_quantity(legs: list[tuple[Order, int]], side: str, instrument: Instrument) -> int:
    ids = [o.pk for o, _ in legs]
    if len(ids) != len(set(ids)):
        raise DomainError(InternalCrossErrorCode.DUPLICATE_ORDER, "An order appears twice on one side of a cross")
    for order, q in legs:
        if order.side != side or order.instrument_id != instrument.pk:
            raise DomainError(InternalCrossErrorCode.BAD_LEG, f"Order {order.pk} is not a {side} of {instrument.symbol}")
        if not isinstance(q, int) or q <= 0:
            raise DomainError(InternalCrossErrorCode.BAD_QUANTITY, f"Order {order.pk}: cross quantity must be a positive integer")
    return sum(q for _, q in legs)
