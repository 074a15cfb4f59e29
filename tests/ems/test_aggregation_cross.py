"""New orders crossing at the mid against working parents' unrested quantity (ems.services.aggregation, step 3)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.utils import timezone

from ems.models import Allocation, Constituent, Fill, InternalCross, ParentOrder
from ems.selectors import instrument_day_fills
from ems.services import ticks
from ems.services.aggregation import REPLAN_REASON, aggregation_cycle
from ems.services.working import parent_tick
from ems.states import Control, ExecStatus
from oms.models import AuditEvent, Order
from oms.services import audit_verify
from oms.states import OrderStatus
from tca.services.reconciliation import reconciliation_breaks
from tests.ems import factories as f
from tests.ems.live_helpers import AGGREGATION_DAY as DAY
from tests.ems.live_helpers import AGGREGATION_T_US, MarketClock, check_invariants, tick_until_done
from tests.ems.test_aggregation import SYSTEM, on_tick


def working_parent(submit, side: str, *quantities: int, **fields) -> ParentOrder:
    """A parent of ``quantities`` (one order each, alternately pm's and pm_b's), as a cycle leaves it working."""
    orders = [submit(side, q, who="ab"[i % 2], **fields) for i, q in enumerate(quantities)]
    result = aggregation_cycle(actor=SYSTEM)
    assert len(result.parents) == 1
    parent = ParentOrder.objects.get(pk=result.parents[0])
    assert constituents(parent) == {o.id: q for o, q in zip(orders, quantities, strict=True)}
    return parent


def constituents(parent: ParentOrder) -> dict[int, int]:
    return dict(parent.constituents.values_list("order_id", "quantity"))


def reload(*objs):
    for o in objs:
        o.refresh_from_db()


# --- what crosses --------------------------------------------------------------------------------------------


def test_a_sell_arriving_while_a_buy_parent_works_crosses_at_the_mid_against_its_unrested_part_only(market, submit, mid):
    parent = working_parent(submit, "buy", 1000)
    resting = f.child(parent=parent, quantity=200, filled=50, status=ExecStatus.PARTIALLY_FILLED)  # 150 leaves at a venue
    travelling = f.child(parent=parent, quantity=100, status=ExecStatus.PENDING_NEW)  # on the wire
    f.child(parent=parent, quantity=400, status=ExecStatus.CANCELLED)  # done: holds nothing
    ParentOrder.objects.filter(pk=parent.pk).update(filled_quantity=50, status=ExecStatus.PARTIALLY_FILLED)
    sell = submit("sell", 1000, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    # 1000 - 50 filled - 150 resting - 100 travelling = 700 crossable; the sell's 300 rest starts its own parent.
    cross = InternalCross.objects.get()
    assert result.crosses == (cross.id,) and result.crossed_quantity == 700 and result.parents_crossed == (parent.id,)
    assert (cross.quantity, cross.price) == (700, mid)
    fills = {x.exec_id: x for x in Fill.objects.filter(cross=cross)}
    assert set(fills) == {f"X{cross.id}-S", f"X{cross.id}-P{parent.id}"}
    leg = fills[f"X{cross.id}-P{parent.id}"]
    assert (leg.parent_id, leg.child_id, leg.side, leg.quantity, leg.price) == (parent.id, None, "buy", 700, mid)
    assert (leg.venue.code, leg.liquidity, leg.fee) == ("INTERNAL", "internal", 0)
    assert fills[f"X{cross.id}-S"].parent_id is None
    reload(parent, sell, resting, travelling)
    assert (parent.filled_quantity, parent.status, parent.replan) == (750, ExecStatus.PARTIALLY_FILLED, REPLAN_REASON)
    assert (resting.status, resting.filled_quantity, travelling.status) == (ExecStatus.PARTIALLY_FILLED, 50, ExecStatus.PENDING_NEW)
    assert (sell.status, sell.filled_quantity, sell.avg_price) == (OrderStatus.PARTIALLY_FILLED, 700, mid)
    rest = Constituent.objects.get(order=sell)
    assert rest.quantity == 300 and rest.parent_id == result.parents[0] != parent.id


def test_a_new_order_on_the_parents_side_does_not_cross(market, submit):
    parent = working_parent(submit, "buy", 1000)
    submit("buy", 500, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crosses == () and result.parents_crossed == () and not Fill.objects.exists()
    reload(parent)
    assert parent.filled_quantity == 0 and parent.replan == ""


def test_what_an_rfq_holds_is_not_crossed(market, submit):
    parent = working_parent(submit, "sell", 1000)
    ParentOrder.objects.filter(pk=parent.pk).update(reserved_quantity=600)
    buy = submit("buy", 1000, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crossed_quantity == 400
    reload(parent, buy)
    assert (parent.filled_quantity, parent.reserved_quantity) == (400, 600) and buy.filled_quantity == 400


@pytest.mark.parametrize("state", ["paused", "halted", "pending_cancel", "constituent_cancelling", "other_day", "window_over"])
def test_a_parent_that_may_not_execute_now_is_not_crossed(market, submit, state):
    parent = working_parent(submit, "buy", 1000)
    change = {
        "paused": {"control": Control.PAUSED},
        "halted": {"control": Control.HALTED},
        "pending_cancel": {"status": ExecStatus.PENDING_CANCEL},
        "other_day": {"market_day": DAY - 1},
        "window_over": {"end_us": parent.start_us},
    }.get(state)
    if change:
        ParentOrder.objects.filter(pk=parent.pk).update(**change)
    else:
        Order.objects.filter(constituents__parent=parent).update(status=OrderStatus.PENDING_CANCEL)
    sell = submit("sell", 500, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crosses == () and not Fill.objects.exists()
    assert Constituent.objects.get(order=sell).quantity == 500


# --- limits -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("parent_limit", "order_limit", "crossed"), [
    (None, None, 500),
    (Decimal("0.50"), None, 500),  # the buy parent's limit is above the mid
    (Decimal("-0.50"), None, 0),  # below it: crossing at the mid would fill the parent through its limit
    (None, Decimal("-0.50"), 500),  # the sell's limit is below the mid
    (None, Decimal("0.50"), 0),  # above it
])
def test_limits_allow_a_cross_against_a_parent_exactly_as_in_the_batch(market, submit, mid, parent_limit, order_limit, crossed):
    buy_fields = {} if parent_limit is None else {"limit_price": on_tick(mid + parent_limit)}
    sell_fields = {} if order_limit is None else {"limit_price": on_tick(mid + order_limit)}
    parent = working_parent(submit, "buy", 1000, **buy_fields)
    sell = submit("sell", 500, who="b", **sell_fields)

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crossed_quantity == crossed
    reload(parent, sell)
    assert parent.filled_quantity == sell.filled_quantity == crossed
    assert parent.replan == (REPLAN_REASON if crossed else "")


def test_only_whole_lots_cross_against_a_parent(market, submit, instrument):
    instrument.lot_size = 100
    instrument.save(update_fields=["lot_size"])
    parent = working_parent(submit, "buy", 1000)
    f.child(parent=parent, quantity=250)  # 750 crossable: 7 lots
    submit("sell", 1000, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    assert result.crossed_quantity == 700
    reload(parent)
    assert parent.filled_quantity == 700


# --- pro rata -----------------------------------------------------------------------------------------------


def test_a_sell_crosses_pro_rata_across_two_working_parents_and_each_allocates_to_its_orders(market, submit, mid):
    older = working_parent(submit, "buy", 400, 200)  # 600
    newer = working_parent(submit, "buy", 300)
    sell = submit("sell", 450, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    # 450 over 600 + 300 crossable: 300 and 150. Inside the older parent, 300 over its 400 + 200: 200 and 100.
    assert result.parents_crossed == (older.id, newer.id) and result.filled_by_cross == 1 and result.parents == ()
    cross = InternalCross.objects.get()
    booked = AuditEvent.objects.get(event_type="internal_cross.booked", object_id=str(cross.id)).after
    assert booked["sells"] == [[sell.id, 450]] and booked["buys"] == []
    assert booked["parents"] == [[older.id, "buy", 300], [newer.id, "buy", 150]]
    reload(older, newer, sell)
    assert (older.filled_quantity, newer.filled_quantity, sell.status) == (300, 150, OrderStatus.FILLED)
    a, b = older.constituents.order_by("order_id")
    assert (a.allocated_quantity, b.allocated_quantity) == (200, 100)
    assert dict(Order.objects.filter(constituents__parent=older).values_list("pk", "filled_quantity")) == {a.order_id: 200, b.order_id: 100}


def test_ties_between_parents_go_to_the_older_one(market, submit):
    older = working_parent(submit, "sell", 500)
    newer = working_parent(submit, "sell", 500)
    submit("buy", 1, who="b")

    aggregation_cycle(actor=SYSTEM)

    reload(older, newer)
    assert (older.filled_quantity, newer.filled_quantity) == (1, 0)


def test_several_new_orders_share_a_parent_pro_rata(market, submit):
    parent = working_parent(submit, "buy", 300)
    s1, s2 = submit("sell", 400), submit("sell", 200, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    reload(parent, s1, s2)
    assert (s1.filled_quantity, s2.filled_quantity, parent.status) == (200, 100, ExecStatus.FILLED)
    assert result.aggregated == 2 and constituents(ParentOrder.objects.get(pk=result.parents[0])) == {s1.id: 200, s2.id: 100}


def test_the_batch_nets_first_and_what_is_left_crosses_against_the_parent(market, submit):
    parent = working_parent(submit, "sell", 1000)
    buy = submit("buy", 500)
    sell = submit("sell", 200, who="b")

    result = aggregation_cycle(actor=SYSTEM)

    # New against new first (200), then the buy's 300 rest against the working sell parent.
    batch, against = InternalCross.objects.order_by("id")
    assert (batch.quantity, against.quantity, result.crossed_quantity) == (200, 300, 500)
    assert not Fill.objects.filter(cross=batch, parent__isnull=False).exists()
    reload(parent, buy, sell)
    assert (buy.status, sell.status, parent.filled_quantity) == (OrderStatus.FILLED, OrderStatus.FILLED, 300)
    assert result.parents == () and result.filled_by_cross == 2


# --- completion, audit, no impact, re-plan --------------------------------------------------------------------


def test_a_parent_crossed_in_full_is_filled_and_its_allocations_sum_to_its_fills(market, submit, mid):
    parent = working_parent(submit, "buy", 700, 200, 100)
    sells = [submit("sell", 333, who="b"), submit("sell", 333), submit("sell", 334, who="b")]

    result = aggregation_cycle(actor=SYSTEM)

    reload(parent, *sells)
    assert (parent.status, parent.filled_quantity, parent.avg_price) == (ExecStatus.FILLED, 1000, mid)
    assert parent.completed_at is not None and parent.replan == ""  # nothing left to plan
    assert result.filled_by_cross == 3 and all(s.status == OrderStatus.FILLED for s in sells)
    for c in parent.constituents.select_related("order"):
        assert c.allocated_quantity == c.quantity == c.order.filled_quantity and c.order.status == OrderStatus.FILLED
    assert Allocation.objects.filter(parent=parent).aggregate(q=Sum("quantity"))["q"] == 1000
    assert AuditEvent.objects.filter(event_type="parent_order.filled", object_id=str(parent.id)).count() == 1
    breaks, _ = reconciliation_breaks()
    assert breaks == []


def test_a_cross_against_a_parent_is_audited_like_a_batch_cross_and_the_chain_verifies(market, submit, mid):
    parent = working_parent(submit, "buy", 600, 400)
    sell = submit("sell", 500, who="b")

    aggregation_cycle(actor=SYSTEM)

    cross = InternalCross.objects.get()
    leg = Fill.objects.get(cross=cross, parent=parent)
    booked = AuditEvent.objects.get(event_type="fill.booked", object_id=str(leg.id)).after
    assert booked["parent_id"] == parent.id and booked["cross_id"] == cross.id and booked["venue"] == "INTERNAL"
    assert sorted(map(tuple, booked["allocations"])) == sorted(Allocation.objects.filter(fill=leg).values_list("order_id", "quantity"))
    assert AuditEvent.objects.filter(event_type="parent_order.partially_filled", object_id=str(parent.id)).exists()
    assert AuditEvent.objects.filter(event_type="order.filled", object_id=str(sell.id)).exists()
    for order_id in constituents(parent):
        assert AuditEvent.objects.filter(event_type="order.partially_filled", object_id=str(order_id)).exists()
    assert AuditEvent.objects.filter(event_type="internal_cross.booked", object_id=str(cross.id)).exists()
    assert reconciliation_breaks()[0] == []
    assert audit_verify().ok


def test_a_cross_against_a_parent_leaves_no_footprint_on_the_market(market, submit, instrument):
    working_parent(submit, "buy", 1000)
    submit("sell", 600, who="b")

    aggregation_cycle(actor=SYSTEM)

    assert Fill.objects.filter(cross__isnull=False).count() == 2
    assert instrument_day_fills(instrument.pk, DAY) == []


def test_the_crossed_parent_re_plans_and_its_tick_is_asked_for_after_commit(market, submit, monkeypatch, django_capture_on_commit_callbacks):
    parent = working_parent(submit, "buy", 1000)
    filled = working_parent(submit, "buy", 100)
    pending = working_parent(submit, "buy", 1000)
    ParentOrder.objects.filter(pk=pending.pk).update(replan="strategy twap/medium: changed by trader")
    sent = []
    monkeypatch.setattr(ticks, "current_app", type("App", (), {"send_task": lambda self, name, args, **kw: sent.append((name, args))})())
    submit("sell", 2200, who="b")  # more than the three parents hold: all of them cross, 100 goes to a new parent

    with django_capture_on_commit_callbacks(execute=True):
        result = aggregation_cycle(actor=SYSTEM)
        assert sent == []  # not before the commit

    assert result.parents_crossed == (parent.id, filled.id, pending.id)
    # One instrument-day holds the crossed parents and the new one: its tick works them all.
    ticked = {tuple(args) for name, args in sent if name == ticks.TICK_TASK}
    assert ticked == {(parent.instrument_id, parent.market_day, None)}
    reload(parent, filled, pending)
    assert (parent.status, parent.replan) == (ExecStatus.FILLED, "")
    assert (filled.status, filled.replan) == (ExecStatus.FILLED, "")
    assert pending.replan == "strategy twap/medium: changed by trader"  # the pending re-plan covers the rest


def test_a_partly_crossed_parent_asks_to_re_plan_for_its_rest(market, submit, monkeypatch, django_capture_on_commit_callbacks):
    parent = working_parent(submit, "buy", 1000)
    sent = []
    monkeypatch.setattr(ticks, "current_app", type("App", (), {"send_task": lambda self, name, args, **kw: sent.append((name, args))})())
    submit("sell", 400, who="b")

    with django_capture_on_commit_callbacks(execute=True):
        aggregation_cycle(actor=SYSTEM)

    assert sent == [(ticks.TICK_TASK, [parent.instrument_id, parent.market_day, None])]  # its instrument-day's tick
    reload(parent)
    assert (parent.replan, parent.workable_quantity, parent.status) == (REPLAN_REASON, 600, ExecStatus.PARTIALLY_FILLED)


def test_the_driver_works_the_rest_of_a_crossed_parent_to_completion(market, submit, settings):
    clock = MarketClock(settings, day=DAY, t_us=AGGREGATION_T_US, speed=1.0)
    end = (timezone.now() + timedelta(minutes=20)).isoformat()
    parent = working_parent(submit, "buy", 20_000, strategy="twap", end_time=end)
    for _ in range(4):  # the plan starts and children go out
        parent_tick(parent_id=parent.pk)
        clock.advance(30)
    parent.refresh_from_db()
    free = parent.workable_quantity - sum(c.quantity - c.filled_quantity for c in parent.children.filter(status__in=ExecStatus.open()))
    sell = submit("sell", free // 2, who="b")  # half of what is not at a venue: the parent plans the other half

    result = aggregation_cycle(actor=SYSTEM)

    assert result.parents_crossed == (parent.id,) and result.crossed_quantity == free // 2 > 0
    tick_until_done(parent, clock, each=lambda r: check_invariants(parent))
    parent.refresh_from_db()
    assert parent.status == ExecStatus.FILLED and parent.filled_quantity == 20_000
    plans = AuditEvent.objects.filter(event_type="parent_order.plan_started", object_id=str(parent.id)).order_by("id")
    assert REPLAN_REASON in [e.reason for e in plans]
    sell.refresh_from_db()
    assert sell.status == OrderStatus.FILLED and not Constituent.objects.filter(order=sell).exists()
    assert reconciliation_breaks()[0] == []
