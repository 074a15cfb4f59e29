"""The order lifecycle after intake (oms.services.lifecycle): progress from fills, close, end-of-day expiry."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from oms.errors import DomainError
from oms.models import AuditEvent, Order, PortfolioDailyUsage
from oms.roles import Actor
from oms.services.lifecycle import OrderFill, order_close, orders_expire_day, orders_fill_apply
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.oms.audit_helpers import event_types

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
D = Decimal


@pytest.fixture
def make_order(pm, portfolio, instrument):
    def make(**kw):
        return f.order(portfolio=portfolio, instrument=instrument, user=pm, **kw)

    return make


# --- orders_fill_apply ------------------------------------------------------------------------------


def test_fills_move_an_order_to_partially_filled_then_filled(make_order):
    order = make_order(quantity=300)

    orders_fill_apply(fills=[OrderFill(order.id, 100, D("10.00"), "E1")], actor=ACTOR)
    order.refresh_from_db()
    assert (order.status, order.filled_quantity, order.avg_price) == (OrderStatus.PARTIALLY_FILLED, 100, D("10.000000"))

    orders_fill_apply(fills=[OrderFill(order.id, 150, D("10.30"), "E2"), OrderFill(order.id, 50, D("10.60"), "E3")], actor=ACTOR)
    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == (OrderStatus.FILLED, 300)
    assert order.avg_price == D("10.250000")  # (1000 + 1545 + 530) / 300
    assert event_types("order", order.id) == ["order.partially_filled", "order.filled"]
    last = AuditEvent.objects.filter(object_type="order", object_id=str(order.id), event_type="order.filled").get()
    assert last.before["filled_quantity"] == 100 and last.after["exec_ids"] == ["E2", "E3"]


def test_a_partial_fill_keeps_a_pending_cancel_and_a_full_one_fills_it(make_order):
    order = make_order(quantity=200, status=OrderStatus.PENDING_CANCEL)

    orders_fill_apply(fills=[OrderFill(order.id, 100, D("10"), "E1")], actor=ACTOR)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_CANCEL and order.filled_quantity == 100

    orders_fill_apply(fills=[OrderFill(order.id, 100, D("10"), "E2")], actor=ACTOR)
    order.refresh_from_db()
    assert order.status == OrderStatus.FILLED


def test_an_overfill_is_refused_and_nothing_changes(make_order):
    a, b = make_order(quantity=100), make_order(quantity=100)

    with pytest.raises(DomainError) as info:
        orders_fill_apply(fills=[OrderFill(a.id, 50, D("10"), "E1"), OrderFill(b.id, 101, D("10"), "E2")], actor=ACTOR)

    assert info.value.code == "order.overfill"
    assert list(Order.objects.filter(pk__in=[a.id, b.id]).values_list("filled_quantity", flat=True)) == [0, 0]


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.FILLED, OrderStatus.DENIED, OrderStatus.PENDING_NEW])
def test_an_order_that_is_not_working_takes_no_fill(make_order, status):
    order = make_order(quantity=100, status=status)

    with pytest.raises(DomainError) as info:
        orders_fill_apply(fills=[OrderFill(order.id, 10, D("10"), "E1")], actor=ACTOR)

    assert info.value.code == "order.not_working"


@pytest.mark.parametrize(("side", "price", "ok"), [("buy", "10.01", False), ("buy", "10.00", True), ("sell", "9.99", False),
                                                   ("sell", "10.00", True)])
def test_a_limit_order_is_never_filled_through_its_limit(make_order, side, price, ok):
    order = make_order(quantity=100, side=side, limit_price="10.00")

    if ok:
        orders_fill_apply(fills=[OrderFill(order.id, 10, D(price), "E1")], actor=ACTOR)
    else:
        with pytest.raises(DomainError) as info:
            orders_fill_apply(fills=[OrderFill(order.id, 10, D(price), "E1")], actor=ACTOR)
        assert info.value.code == "order.through_limit"


def test_an_unknown_order_is_not_found():
    with pytest.raises(DomainError) as info:
        orders_fill_apply(fills=[OrderFill(999_999, 10, D("10"), "E1")], actor=ACTOR)
    assert info.value.code == "order.not_found"


# --- order_close ------------------------------------------------------------------------------------


def reserve(order, portfolio, notional: str):
    Order.objects.filter(pk=order.pk).update(reserved_notional=D(notional))
    PortfolioDailyUsage.objects.update_or_create(portfolio=portfolio, trade_date=order.created_at.date(),
                                                 defaults={"gross_notional": D(notional)})


@pytest.mark.parametrize("status", [OrderStatus.CANCELLED, OrderStatus.EXPIRED])
def test_closing_keeps_the_fills_and_gives_back_the_unfilled_credit(make_order, portfolio, status):
    order = make_order(quantity=400)
    reserve(order, portfolio, "40000.00")
    orders_fill_apply(fills=[OrderFill(order.id, 100, D("100"), "E1")], actor=ACTOR)

    out = order_close(order_id=order.id, status=status, actor=ACTOR, reason="session ended")

    order.refresh_from_db()
    assert out.status == order.status == status and order.filled_quantity == 100
    assert PortfolioDailyUsage.objects.get(portfolio=portfolio).gross_notional == D("10000.00")
    event = AuditEvent.objects.get(object_id=str(order.id), event_type=f"order.{status.lower()}")
    assert event.before == {"status": "PARTIALLY_FILLED"} and event.after["credit_released"] == "30000.00"
    assert event.reason == "session ended"


def test_closing_twice_the_same_way_is_a_no_op_and_a_closed_order_stays_closed(make_order):
    order = make_order(quantity=100)
    order_close(order_id=order.id, status=OrderStatus.CANCELLED, actor=ACTOR)
    n = AuditEvent.objects.count()

    order_close(order_id=order.id, status=OrderStatus.CANCELLED, actor=ACTOR)

    assert AuditEvent.objects.count() == n
    with pytest.raises(DomainError) as info:
        order_close(order_id=order.id, status=OrderStatus.EXPIRED, actor=ACTOR)
    assert info.value.code == "order.not_open"
    with pytest.raises(DomainError) as info:
        order_close(order_id=order.id, status=OrderStatus.FILLED, actor=ACTOR)
    assert info.value.code == "order.bad_close_status"
    with pytest.raises(DomainError) as info:
        order_close(order_id=999_999, status=OrderStatus.CANCELLED, actor=ACTOR)
    assert info.value.code == "order.not_found"


def test_expiring_an_order_whose_cancel_is_pending_cancels_it(make_order):
    order = make_order(quantity=100, status=OrderStatus.PENDING_CANCEL)

    assert order_close(order_id=order.id, status=OrderStatus.EXPIRED, actor=ACTOR).status == OrderStatus.CANCELLED


# --- orders_expire_day ------------------------------------------------------------------------------


def test_day_orders_not_in_a_parent_expire_at_the_cutoff(make_order, portfolio, instrument):
    old = make_order(quantity=100)
    parked = make_order(quantity=100, status=OrderStatus.PENDING_NEW)
    part = make_order(quantity=100)
    orders_fill_apply(fills=[OrderFill(part.id, 40, D("10"), "E1")], actor=ACTOR)
    gtc = make_order(quantity=100, time_in_force="gtc")
    in_parent = make_order(quantity=100)
    f.parent(instrument=instrument, orders=[in_parent])
    done = make_order(quantity=100, status=OrderStatus.FILLED, filled_quantity=100)
    reserve(old, portfolio, "5000.00")
    cutoff = timezone.now() + timedelta(seconds=1)
    later = make_order(quantity=100)
    Order.objects.filter(pk=later.pk).update(created_at=cutoff + timedelta(seconds=1))

    n = orders_expire_day(before=cutoff, actor=ACTOR)

    status = dict(Order.objects.values_list("pk", "status"))
    assert n == 3
    assert {status[o.id] for o in (old, parked, part)} == {OrderStatus.EXPIRED}
    assert (status[gtc.id], status[in_parent.id], status[done.id], status[later.id]) == (
        OrderStatus.ACCEPTED, OrderStatus.ACCEPTED, OrderStatus.FILLED, OrderStatus.ACCEPTED)
    assert Order.objects.get(pk=part.id).filled_quantity == 40
    assert PortfolioDailyUsage.objects.get(portfolio=portfolio).gross_notional == D("0.00")
    assert AuditEvent.objects.filter(event_type="order.expired").count() == 3
    assert orders_expire_day(before=cutoff, actor=ACTOR) == 0


@pytest.mark.django_db(transaction=True)
def test_expiry_skips_an_order_another_transaction_is_taking(make_order):
    held, free = make_order(quantity=100), make_order(quantity=100)
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                Order.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert locked.wait(30)
        n = orders_expire_day(before=timezone.now() + timedelta(seconds=1), actor=ACTOR)
    finally:
        release.set()
        t.join(30)

    assert n == 1
    assert Order.objects.get(pk=free.pk).status == OrderStatus.EXPIRED
    assert Order.objects.get(pk=held.pk).status == OrderStatus.ACCEPTED
