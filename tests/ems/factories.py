"""Factories for execution rows (parents, constituents, children, fills, allocations, positions).

They write rows directly, as the EMS services would leave them, so the read side (API, pages) can be
tested on its own; the services' own tests drive the real paths.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from ems.models import Allocation, ChildOrder, Constituent, Fill, ParentOrder, Venue
from ems.services import venues_sync_from_sim
from ems.states import ExecStatus
from oms.models import Order, Position
from oms.states import OrderStatus

_seq = itertools.count(1)


def venue(code: str = "XSMA") -> Venue:
    """A simulated venue (the simulator's set is synced on first use: XSMA, XSMB, XSMI lit; DRKA, DRKB dark)."""
    if not Venue.objects.filter(code=code).exists():
        venues_sync_from_sim()
    return Venue.objects.get(code=code)


def order(*, portfolio, instrument, user, side: str = "buy", quantity: int = 1000, status: str = OrderStatus.ACCEPTED,
          limit_price: str | None = None, **extra) -> Order:
    # As intake records it: quantity x the limit (a market order: x the reference price).
    extra.setdefault("notional", quantity * Decimal(str(limit_price or instrument.reference_price)))
    return Order.objects.create(
        client_order_id=f"F-{uuid.uuid4().hex[:12]}", source=f"api:{user.get_username()}", portfolio=portfolio,
        instrument=instrument, side=side, quantity=quantity, order_type="limit" if limit_price else "market",
        limit_price=Decimal(limit_price) if limit_price else None, status=status, created_by=user, **extra,
    )


def parent(*, instrument, orders=(), side: str = "buy", quantity: int | None = None, strategy: str = "vwap",
           arrival_price: str = "100.00", start_us: int = 0, end_us: int = 3_600_000_000, **extra) -> ParentOrder:
    """A working parent over ``orders`` (each becomes a constituent with its whole quantity)."""
    quantity = quantity if quantity is not None else sum(o.quantity for o in orders) or 1000
    p = ParentOrder.objects.create(
        instrument=instrument, side=side, quantity=quantity, group_key=f"{instrument.symbol}|{side}|{next(_seq)}",
        strategy=strategy, params={"side": side, "qty": quantity, "start": start_us, "end": end_us}, selection_reason=f"0.01% of ADV -> {strategy.upper()} (rule default)",
        arrival_price=Decimal(arrival_price), market_day=extra.pop("market_day", 0), start_us=start_us, end_us=end_us,
        last_tick_us=start_us, **extra,
    )
    for o in orders:
        Constituent.objects.create(parent=p, order=o, quantity=o.quantity)
    return p


def child(*, parent: ParentOrder, venue_code: str = "XSMA", quantity: int = 100, status: str = ExecStatus.ACCEPTED,
          price: str | None = "100.00", kind: str = "passive", filled: int = 0, avg: str | None = None) -> ChildOrder:
    n = next(_seq)
    return ChildOrder.objects.create(
        parent=parent, epoch=parent.epoch, venue=venue(venue_code), client_order_id=f"C{parent.id}-{n}",
        venue_order_id=f"{venue_code}-{n}-{uuid.uuid4().hex[:6]}", side=parent.side, order_type="limit" if price else "market",
        price=Decimal(price) if price else None, quantity=quantity, kind=kind, status=status, filled_quantity=filled,
        notional=Decimal(avg or "0") * filled, avg_price=Decimal(avg) if avg else None, sent_us=parent.start_us,
    )


def fill(*, parent: ParentOrder, child: ChildOrder | None = None, quantity: int = 100, price: str = "100.00",
         t_us: int = 60_000_000, allocate: bool = True, venue_code: str | None = None) -> Fill:
    """A fill of the parent (and child), with the parent's, child's and orders' progress updated and the
    quantity allocated pro rata (whole shares, remainder to the first constituents) when ``allocate``."""
    price_d = Decimal(price)
    code = venue_code or (child.venue.code if child else "XSMA")
    f = Fill.objects.create(
        exec_id=f"E{parent.id}-{next(_seq)}", instrument=parent.instrument, parent=parent, child=child, venue=venue(code),
        side=parent.side, quantity=quantity, price=price_d, liquidity=Fill.Liquidity.MAKER, fee=Decimal("0.30"),
        allocated_quantity=quantity if allocate else 0, market_day=parent.market_day, market_time_us=t_us,
        executed_at=datetime.now(UTC),
    )
    parent.notional += price_d * quantity
    parent.filled_quantity += quantity
    parent.avg_price = (parent.notional / parent.filled_quantity).quantize(Decimal("0.000001"))
    parent.status = ExecStatus.FILLED if parent.filled_quantity == parent.quantity else ExecStatus.PARTIALLY_FILLED
    parent.save()
    if child is not None:
        child.filled_quantity += quantity
        child.notional += price_d * quantity
        child.avg_price = (child.notional / child.filled_quantity).quantize(Decimal("0.000001"))
        child.status = ExecStatus.FILLED if child.filled_quantity == child.quantity else ExecStatus.PARTIALLY_FILLED
        child.save()
    if allocate:
        constituents = list(parent.constituents.select_related("order").order_by("order_id"))
        total = sum(c.quantity for c in constituents)
        shares = [quantity * c.quantity // total for c in constituents] if total else []
        for i in range(quantity - sum(shares)):
            shares[i % len(shares)] += 1
        for c, q in zip(constituents, shares, strict=True):
            if q <= 0:
                continue
            Allocation.objects.create(fill=f, order=c.order, parent=parent, quantity=q, price=price_d)
            c.allocated_quantity += q
            c.save(update_fields=["allocated_quantity"])
            o = c.order
            notional = (o.avg_price or Decimal("0")) * o.filled_quantity + price_d * q
            o.filled_quantity += q
            o.avg_price = (notional / o.filled_quantity).quantize(Decimal("0.000001"))
            o.status = OrderStatus.FILLED if o.filled_quantity == o.quantity else OrderStatus.PARTIALLY_FILLED
            o.save(update_fields=["filled_quantity", "avg_price", "status"])
    return f


def position(*, portfolio, instrument, quantity: int = 100, avg_cost: str = "100.00", realized: str = "0") -> Position:
    return Position.objects.create(
        portfolio=portfolio, instrument=instrument, quantity=quantity, avg_cost=Decimal(avg_cost),
        realized_pnl=Decimal(realized), bought_quantity=max(quantity, 0), sold_quantity=max(-quantity, 0),
    )


def order_worked(*, portfolio, instrument, user, fills: int, each: int = 10, price: str = "100.00") -> Order:
    """An order worked in ``fills`` fills of ``each`` shares (bulk rows: a thousand take a moment), with the audit
    trail the EMS leaves: received, accepted, then one ``fill.booked`` per fill, the first followed by the order's
    ``order.partially_filled``. The order stays open (one lot is left)."""
    from django.db import transaction

    from oms.audit_events import AuditEventType as E
    from oms.roles import Actor
    from oms.services.audit import PendingEvent, audit_append

    quantity = fills * each + each  # one lot left open: the order is still working
    o = order(portfolio=portfolio, instrument=instrument, user=user, quantity=quantity, limit_price=price)
    p = parent(instrument=instrument, orders=[o], quantity=quantity)
    v, px = venue("XSMA"), Decimal(price)
    rows = Fill.objects.bulk_create(
        Fill(exec_id=f"E{p.id}-{k}-{uuid.uuid4().hex[:6]}", instrument=instrument, parent=p, venue=v, side=p.side, quantity=each,
             price=px, liquidity=Fill.Liquidity.MAKER, fee=Decimal("0.01"), allocated_quantity=each, market_day=0,
             market_time_us=(k + 1) * 1_000_000, executed_at=datetime.now(UTC))
        for k in range(fills))
    Allocation.objects.bulk_create(Allocation(fill=f, order=o, parent=p, quantity=each, price=px) for f in rows)
    system, me = Actor.system("ems.fills"), Actor.for_user(user, "api")
    events = [PendingEvent(me, E.ORDER_RECEIVED, "order", o.pk, after={"status": "NEW"}),
              PendingEvent(system, E.ORDER_ACCEPTED, "order", o.pk, before={"status": "NEW"}, after={"status": "ACCEPTED"})]
    status = "ACCEPTED"
    for k, fill in enumerate(rows):
        events.append(PendingEvent(system, E.FILL_BOOKED, "fill", fill.pk, after={
            "exec_id": fill.exec_id, "parent_id": p.pk, "child_id": None, "cross_id": None, "venue": v.code, "side": p.side,
            "quantity": each, "price": px, "liquidity": fill.liquidity, "fee": fill.fee, "market_day": 0,
            "market_time_us": fill.market_time_us, "allocations": [[o.pk, each]], "positions": []}))
        if k == 0:  # the first fill moves the order's status; the others only add to it
            events.append(PendingEvent(system, E.ORDER_PARTIALLY_FILLED, "order", o.pk, before={"status": status, "filled_quantity": 0, "avg_price": None},
                                       after={"status": OrderStatus.PARTIALLY_FILLED, "filled_quantity": each, "avg_price": px, "exec_ids": [fill.exec_id]}))
            status = OrderStatus.PARTIALLY_FILLED
    with transaction.atomic():
        audit_append(events)
    Order.objects.filter(pk=o.pk).update(status=status, filled_quantity=fills * each, fill_notional=px * fills * each,
                                         avg_price=px if fills else None)
    o.refresh_from_db()
    return o
