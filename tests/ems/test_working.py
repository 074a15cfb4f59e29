"""The live driver (ems.services.working.parent_tick) on PostgreSQL: parents worked tick by tick as market
time moves, fills booked, children consistent, the audit trail complete."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from ems.algos import ALGORITHMS
from ems.models import ChildOrder, Fill, ParentOrder
from ems.services.working import parent_tick
from ems.states import ExecStatus
from oms.models import AuditEvent, Order
from oms.roles import Actor
from oms.services import order_cancel
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.ems.live_helpers import check_invariants, tick_until_done, working_parent
from tests.oms.audit_helpers import event_types

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("strategy", [name.value for name in ALGORITHMS])
def test_a_parent_ticked_as_time_moves_completes_filled_with_everything_booked(strategy, clock, instrument, portfolio, pm):
    qty = 20_000 if strategy != "direct" else 3_000
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=qty)
    parent = working_parent(instrument=instrument, orders=[order], strategy=strategy, window_s=15 * 60,
                            **({"max_participation": 0.5} if strategy == "pov" else {}))
    results = tick_until_done(parent, clock, each=lambda r: check_invariants(parent))
    parent.refresh_from_db()
    assert parent.status == ExecStatus.FILLED and parent.filled_quantity == qty
    assert parent.completed_at is not None and parent.avg_price is not None
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED and order.filled_quantity == qty
    check_invariants(parent)
    children = list(ChildOrder.objects.filter(parent=parent))
    assert children and all(c.status in ExecStatus.terminal() for c in children)
    assert all(c.client_order_id.startswith(f"P{parent.pk}E1-") for c in children)
    # The audit trail of the parent's execution: each child placed, acked or cancelled, each fill booked.
    child_events = event_types("child_order", [c.pk for c in children])
    assert child_events.count("child_order.placed") == len(children)
    fills = list(Fill.objects.filter(parent=parent))
    assert event_types("fill", [x.pk for x in fills]).count("fill.booked") == len(fills)
    placed = AuditEvent.objects.filter(event_type="child_order.placed", object_id=str(children[0].pk)).get()
    assert placed.after["venue"] and placed.after["reason"]  # why the algorithm sent it
    assert "parent_order.plan_started" in event_types("parent_order", [parent.pk])
    assert sum(r.fills for r in results if r) == len(fills)


def test_a_duplicate_tick_is_a_no_op_and_a_locked_parent_is_skipped(clock, instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)
    parent = working_parent(instrument=instrument, orders=[order])
    first = parent_tick(parent_id=parent.pk)
    assert first.sent > 0
    again = parent_tick(parent_id=parent.pk)  # no market time passed (nearly): nothing new to send twice
    assert ChildOrder.objects.filter(parent=parent).count() == first.sent + again.sent
    check_invariants(parent)


def test_a_limit_is_never_filled_through_and_the_window_end_expires_the_rest(clock, instrument, portfolio, pm):
    from ems.selectors import instrument_params
    from ems.sim.market import Market

    market = Market(instrument_params(instrument), seed=__import__("django.conf").conf.settings.SIM_SEED, day=2)
    bbo = market.bbo(60 * 60 * 1_000_000)
    limit = f"{bbo.bid - 0.02:.2f}"  # a buy limit below the bid: only passive fills, some may never come
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=200_000, limit_price=limit)
    parent = working_parent(instrument=instrument, orders=[order], window_s=10 * 60, limit_price=limit)
    tick_until_done(parent, clock)
    parent.refresh_from_db()
    order.refresh_from_db()
    assert parent.status == ExecStatus.EXPIRED and parent.filled_quantity < parent.quantity
    assert order.status == OrderStatus.EXPIRED
    over = list(Fill.objects.filter(parent=parent, price__gt=limit).values_list("venue__code", "price", "liquidity", "child__price", "child__order_type"))
    assert not over, (limit, over)
    check_invariants(parent)


def test_cancelling_a_constituent_mid_flight_reduces_the_parent_and_leaves_the_other_order(
    clock, instrument, portfolio, pm, other_portfolio, other_pm
):
    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=12_000)
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=8_000)
    parent = working_parent(instrument=instrument, orders=[mine, theirs], window_s=20 * 60)
    for _ in range(8):
        parent_tick(parent_id=parent.pk)
        clock.advance(30)
    parent.refresh_from_db()
    assert 0 < parent.filled_quantity < parent.quantity
    theirs_before = list(theirs.allocations.values_list("id", "quantity"))

    order_cancel(user=pm, actor=Actor.for_user(pm, "api"), order_id=mine.pk)
    mine.refresh_from_db()
    assert mine.status == OrderStatus.PENDING_CANCEL  # the parent's children are cancelled first
    theirs.refresh_from_db()
    assert theirs.status in (OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED)

    tick_until_done(parent, clock, each=lambda r: check_invariants(parent))
    parent.refresh_from_db()
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.status == OrderStatus.CANCELLED and mine.filled_quantity > 0  # its fills are kept
    assert parent.quantity == theirs.quantity + mine.filled_quantity
    assert parent.status == ExecStatus.FILLED
    assert theirs.status == OrderStatus.FILLED and theirs.filled_quantity == 8_000
    # What the other PM's order had received before the cancel is untouched.
    assert set(theirs_before) <= set(theirs.allocations.values_list("id", "quantity"))
    assert ParentOrder.objects.get(pk=parent.pk).epoch == 2  # a new plan for the reduced remaining quantity
    assert "parent_order.reduced" in event_types("parent_order", [parent.pk])
    check_invariants(parent)


def test_an_order_not_yet_in_a_parent_is_cancelled_at_once(instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=500)
    order_cancel(user=pm, actor=Actor.for_user(pm, "api"), order_id=order.pk)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert Order.objects.filter(pk=order.pk).aggregate(q=Sum("filled_quantity"))["q"] == 0


def test_a_cancel_requested_in_the_oms_ticks_the_parent_after_commit(
    clock, instrument, portfolio, pm, monkeypatch, django_capture_on_commit_callbacks
):
    # The OMS never imports the EMS: it sends oms.signals.order_cancel_requested, which the EMS connects.
    from ems.services import ticks

    sent = []
    monkeypatch.setattr(ticks, "current_app", type("App", (), {"send_task": lambda self, name, args, **kw: sent.append((name, args))})())
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=5_000)
    parent = working_parent(instrument=instrument, orders=[order])

    with django_capture_on_commit_callbacks(execute=True):
        order_cancel(user=pm, actor=Actor.for_user(pm, "api"), order_id=order.pk)
        assert sent == []  # not before the commit

    assert sent == [(ticks.TICK_TASK, [parent.instrument_id, parent.market_day, None])]  # its instrument-day's tick
