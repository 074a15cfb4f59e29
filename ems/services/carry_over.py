"""Carrying a GTC parent over to the next market day (FIX 59 TimeInForce=1, good till cancel).

The simulated venues are one-day venues (what rests expires at the close), and a parent's fills, allocations
and TCA are one market day's (``ParentOrder.market_day``). So a GTC order is worked one market day at a time:

- at the end of its window (the close), once nothing of it is at a venue, the live driver
  (``ems.services.working.base.ParentDriver.expire``) calls :func:`parent_order_carry_over` instead of
  expiring a parent whose orders are GTC (and whose requested end time, if any, is on a later day). The
  parent is closed DONE_FOR_DAY (FIX 39 OrdStatus 3) with that day's fills and allocations; its orders stay
  open (ACCEPTED / PARTIALLY_FILLED), never expired;
- in the same transaction a new parent is created on the next market day for the orders' rests (a
  ``Constituent`` per order, the current one: an order keeps its place, not current, in the earlier
  parents), planned by the selection matrix from the next open to the close (or the requested end time),
  with the same control (a halted parent stays halted until a trader resumes it). Its arrival price is the
  mid at the next day's open: the market is a pure function of the seed and our fills, and none is booked
  on a day not begun, so the benchmark a trader would record at that open is known at creation;
- audited (``parent_order.done_for_day`` on the old parent, ``parent_order.carried_over`` creating the new
  one, ``order.aggregated`` on each order), pushed to the desk and the blotters, and the new parent's first
  tick asked for at its day's open (an instrument-day's tick does nothing before its day begins).

A DAY order is untouched: it expires at the close with its parent.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ems.broadcast import parents_changed_on_commit
from ems.error_codes import ParentOrderErrorCode
from ems.models import Constituent, ParentOrder
from ems.selectors import instrument_params, live_clock, market_for
from ems.services.aggregation import parent_ids_reserve, parent_order_plan, working_window_end
from ems.services.ticks import parent_tick_enqueue
from ems.sim import MarketTime
from ems.states import ExecStatus, check_parent_transition
from oms.audit_events import AuditEventType
from oms.broadcast import orders_changed_on_commit
from oms.errors import Conflict, NotFound
from oms.models import Order, TimeInForce
from oms.money import PRICE_Q
from oms.order_reports import OrderReport, ReportKind, order_reports_emit
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append
from oms.states import OrderStatus

S = ExecStatus
CARRIED = frozenset({OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED})  # open orders that go on the next day


def parent_carries_over(parent: ParentOrder) -> bool:
    """Whether the parent goes on the next market day at the end of its window: its orders are GTC, it has
    quantity left, and no requested end time falls on its own day or before."""
    if parent.remaining_quantity <= 0:
        return False
    if parent.end_time is not None and live_clock().market_time(parent.end_time.timestamp()).day <= parent.market_day:
        return False
    return Constituent.objects.filter(parent=parent, current=True, order__time_in_force=TimeInForce.GTC).exists()


def parent_order_carry_over(*, parent_id: int, actor: Actor) -> ParentOrder:
    """Close a GTC parent DONE_FOR_DAY and create its orders' parent for the next market day (module
    docstring); return the new parent. It must have no open child order."""
    with transaction.atomic():
        parent = ParentOrder.objects.select_for_update(of=("self",)).select_related("instrument").filter(pk=parent_id).first()
        if parent is None:
            raise NotFound(ParentOrderErrorCode.NOT_FOUND, f"No parent order {parent_id}")
        if parent.status not in S.working():
            raise Conflict(ParentOrderErrorCode.NOT_OPEN, f"Parent order {parent_id} is {parent.status}")
        if parent.children.filter(status__in=S.open()).exists():
            raise Conflict(ParentOrderErrorCode.CHILDREN_OPEN, f"Parent order {parent_id} still has child orders at venues")
        constituents = list(Constituent.objects.select_for_update().filter(parent=parent, current=True).order_by("pk"))
        orders = {o.pk: o for o in Order.objects.select_for_update(of=("self",)).filter(pk__in=[c.order_id for c in constituents]).order_by("pk")}
        rests = [(c, c.quantity - c.allocated_quantity) for c in constituents if orders[c.order_id].status in CARRIED]
        rests = [(c, q) for c, q in rests if q > 0]
        if not rests or any(orders[c.order_id].time_in_force != TimeInForce.GTC for c, _ in rests):
            raise Conflict(ParentOrderErrorCode.NOT_CARRIED, f"Parent order {parent_id} has no GTC order left to carry over")

        before = parent.status
        check_parent_transition(before, S.DONE_FOR_DAY)
        parent.status, parent.completed_at = S.DONE_FOR_DAY, timezone.now()
        parent.save(update_fields=["status", "completed_at", "updated_at"])
        Constituent.objects.filter(pk__in=[c.pk for c in constituents]).update(current=False)

        new = _next_day_parent(parent, quantity=sum(q for _, q in rests))
        Constituent.objects.bulk_create([Constituent(parent=new, order_id=c.order_id, quantity=q, current=True) for c, q in rests])
        members = [[c.order_id, q] for c, q in rests]
        audit_append([
            PendingEvent(actor, AuditEventType.PARENT_ORDER_DONE_FOR_DAY, "parent_order", parent.pk, before={"status": before},
                         after={"status": parent.status, "filled_quantity": parent.filled_quantity, "quantity": parent.quantity,
                                "next_parent": new.pk, "carried": members},
                         reason="good till cancel: the rest goes on the next market day"),
            PendingEvent(actor, AuditEventType.PARENT_ORDER_CARRIED_OVER, "parent_order", new.pk, after={
                "instrument": parent.instrument.symbol, "side": new.side, "quantity": new.quantity, "strategy": new.strategy,
                "params": new.params, "reason": new.selection_reason, "arrival_price": new.arrival_price,
                "market_day": new.market_day, "start_us": new.start_us, "end_us": new.end_us, "group_key": new.group_key,
                "status": new.status, "control": new.control, "constituents": members, "from_parent": parent.pk,
            }, reason=f"good till cancel: carried over from parent {parent.pk} (day {parent.market_day})"),
            *[PendingEvent(actor, AuditEventType.ORDER_AGGREGATED, "order", oid, after={"parent": new.pk, "quantity": q, "from_parent": parent.pk},
                           reason=f"good till cancel: carried over to parent {new.pk} for market day {new.market_day}")
              for oid, q in members],
        ])
        orders_changed_on_commit([orders[oid] for oid, _ in members])
        order_reports_emit([OrderReport(ReportKind.DONE_FOR_DAY, orders[oid]) for oid, _ in members])
        parents_changed_on_commit([parent, new])
        clock = live_clock()
        parent_tick_enqueue(new.pk, countdown=max(0.0, clock.wall_time(new.market_day, 0) - time.time()))
    return new


def _next_day_parent(parent: ParentOrder, *, quantity: int) -> ParentOrder:
    """The parent of the rests on the day after ``parent``'s: the same intent, a plan from that day's open."""
    (pid,) = parent_ids_reserve(1)
    day = parent.market_day + 1
    open_ = MarketTime(day, 0)
    end_us = working_window_end(parent.end_time, live_clock(), open_)
    arrival = _open_mid(parent, day)
    plan = parent_order_plan(
        instrument=instrument_params(parent.instrument), side=parent.side, quantity=quantity, limit_price=parent.limit_price,
        urgency=parent.urgency, requested=parent.requested_strategy, start_us=0, end_us=end_us,
        max_participation=parent.max_participation, arrival=arrival, seed=pid, time_in_force=TimeInForce.GTC,
    )
    return ParentOrder.objects.create(
        id=pid, instrument=parent.instrument, side=parent.side, quantity=quantity, order_type=parent.order_type,
        limit_price=parent.limit_price, urgency=parent.urgency, requested_strategy=parent.requested_strategy,
        max_participation=parent.max_participation, end_time=parent.end_time, group_key=parent.group_key,
        strategy=plan.strategy.value, params=plan.params, selection_reason=plan.reason, arrival_price=arrival,
        status=S.ACCEPTED, control=parent.control, market_day=day, start_us=0, end_us=end_us, last_tick_us=0,
        algo_state={}, driver_state={},
    )


def _open_mid(parent: ParentOrder, day: int) -> Decimal:
    bbo = market_for(parent.instrument, day).bbo(0)
    mid = (bbo.bid + bbo.ask) / 2
    return Decimal(str(mid)).quantize(PRICE_Q) if mid == mid else parent.arrival_price  # NaN: an empty book side
