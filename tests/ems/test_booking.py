"""Fill booking (ems.services.booking): child, parent and order progress, progressive allocation, positions,
idempotency on exec_id, child reports, internal crosses, closing a parent and releasing a constituent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ems.models import Allocation, ChildOrder, Constituent, Fill, InternalCross, ParentOrder, Venue
from ems.services.booking import Execution, child_report_apply, fill_book, fills_book, internal_cross_book
from ems.services.closing import constituent_release, parent_order_close
from ems.states import ExecStatus
from oms.errors import Conflict, DomainError
from oms.models import AuditEvent, Instrument, Order, PortfolioDailyUsage, Position
from oms.roles import Actor
from oms.services.audit_verification import audit_verify
from oms.states import IllegalTransition, OrderStatus
from tests.ems import factories as f
from tests.oms.audit_helpers import audit_events

pytestmark = pytest.mark.django_db
ACTOR = Actor.system("test")
_n = iter(range(1, 10**9))


def ex(quantity: int, price: str = "100.00", *, exec_id: str | None = None, side: str = "buy", venue: str = "XSMA",
       liquidity: str = "taker", fee: str = "0.30", t_us: int = 60_000_000) -> Execution:
    return Execution(exec_id=exec_id or f"E-{next(_n)}", venue_code=venue, side=side, quantity=quantity, price=Decimal(price),
                     liquidity=liquidity, fee=Decimal(fee), market_day=0, market_time_us=t_us)


@pytest.fixture
def book(pm, portfolio, other_portfolio, instrument):
    """A buy parent over three orders (600 + 300 from one portfolio, 100 from another) and one child of 1000."""
    o1 = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=600)
    o2 = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=300)
    o3 = f.order(portfolio=other_portfolio, instrument=instrument, user=pm, quantity=100)
    parent = f.parent(instrument=instrument, orders=[o1, o2, o3])
    child = f.child(parent=parent, quantity=1000, status=ExecStatus.PENDING_NEW)
    return parent, child, [o1, o2, o3]


def reload(*objs):
    for o in objs:
        o.refresh_from_db()


def booking_audit_sound() -> bool:
    """The chain verifies and every fill and cross has its creation event (the factory-made orders and
    parents of these tests have none: they are not the booking's to write)."""
    result = audit_verify()
    chain = [p for p in result.problems if p.code != "audit.orphan_object"]
    return not chain and not [o for o in result.orphans if o.object_type in ("fill", "internal_cross")]


# --- fill_book --------------------------------------------------------------------------------------


def test_a_fill_moves_child_parent_orders_and_positions(book, portfolio, other_portfolio, instrument):
    parent, child, (o1, o2, o3) = book

    fill = fill_book(child_id=child.id, execution=ex(200, "100.10", fee="0.60"), actor=ACTOR)

    reload(parent, child, o1, o2, o3)
    assert fill.quantity == 200 and fill.allocated_quantity == 200 and fill.parent_id == parent.id
    assert (child.status, child.filled_quantity, child.avg_price) == (ExecStatus.PARTIALLY_FILLED, 200, Decimal("100.100000"))
    assert (parent.status, parent.filled_quantity, parent.fees) == (ExecStatus.PARTIALLY_FILLED, 200, Decimal("0.600000"))
    # Pro rata at once: 200 x 600/1000, x 300/1000, x 100/1000.
    assert [o.filled_quantity for o in (o1, o2, o3)] == [120, 60, 20]
    assert all(o.status == OrderStatus.PARTIALLY_FILLED and o.avg_price == Decimal("100.10") for o in (o1, o2, o3))
    assert sorted(Allocation.objects.filter(fill=fill).values_list("order_id", "quantity")) == [(o1.id, 120), (o2.id, 60), (o3.id, 20)]
    assert list(Constituent.objects.filter(parent=parent).order_by("order_id").values_list("allocated_quantity", flat=True)) == [120, 60, 20]
    mine = Position.objects.get(portfolio=portfolio, instrument=instrument)
    theirs = Position.objects.get(portfolio=other_portfolio, instrument=instrument)
    assert (mine.quantity, mine.avg_cost, mine.bought_quantity) == (180, Decimal("100.100000"), 180)
    assert (theirs.quantity, theirs.avg_cost) == (20, Decimal("100.100000"))


def test_a_fill_is_audited_with_its_allocations_and_every_status_change(book):
    parent, child, (o1, o2, o3) = book

    fill = fill_book(child_id=child.id, execution=ex(200), actor=ACTOR)

    booked = audit_events(event_type="fill.booked", object_id=fill.id)
    assert len(booked) == 1 and booked[0].object_type == "fill"
    assert booked[0].after["allocations"] == [[o1.id, 120], [o2.id, 60], [o3.id, 20]]
    assert booked[0].after["exec_id"] == fill.exec_id and booked[0].after["child_id"] == child.id
    assert audit_events(event_type="child_order.partially_filled", object_id=child.id)[0].before == {"status": "PENDING_NEW"}
    assert audit_events(event_type="parent_order.partially_filled", object_id=parent.id)[0].before == {"status": "ACCEPTED"}
    # The orders' status moved (ACCEPTED -> PARTIALLY_FILLED): one event each; the positions are in the fill's event.
    assert {int(e.object_id) for e in audit_events(event_type="order.partially_filled")} == {o1.id, o2.id, o3.id}
    assert booked[0].after["positions"] == [[o1.portfolio_id, 180, "100.000000", "0.000000"], [o3.portfolio_id, 20, "100.000000", "0.000000"]]
    assert not audit_events(event_type="position.updated")
    assert booking_audit_sound()


def test_a_fill_that_moves_no_status_is_one_audit_event(book):
    """Issue 18: a fill is audited once, with its allocations and the positions it left, not once per order and
    position it reaches; an order's own events are its status changes."""
    parent, child, (o1, o2, o3) = book
    fill_book(child_id=child.id, execution=ex(200), actor=ACTOR)
    before = AuditEvent.objects.count()

    second = fill_book(child_id=child.id, execution=ex(100, "100.50"), actor=ACTOR)

    new = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.event_type, e.object_id) for e in new] == [("fill.booked", str(second.id))]
    assert new[0].after["allocations"] == [[o1.id, 60], [o2.id, 30], [o3.id, 10]]
    reload(o1)
    # The average follows the stored fill notional: (120 x 100 + 60 x 100.50) / 180.
    assert (o1.filled_quantity, o1.fill_notional, o1.avg_price) == (180, Decimal("18030.000000"), Decimal("100.166667"))
    assert booking_audit_sound()


def test_the_same_exec_id_twice_is_booked_once(book):
    parent, child, orders = book
    first = fill_book(child_id=child.id, execution=ex(100, exec_id="VENUE-1"), actor=ACTOR)

    again = fill_book(child_id=child.id, execution=ex(100, exec_id="VENUE-1"), actor=ACTOR)

    reload(parent, child, *orders)
    assert first is not None and again is None
    assert Fill.objects.filter(exec_id="VENUE-1").count() == 1
    assert child.filled_quantity == parent.filled_quantity == 100
    assert sum(o.filled_quantity for o in orders) == 100
    assert len(audit_events(event_type="fill.booked")) == 1


def test_duplicates_inside_one_batch_are_booked_once(book):
    parent, child, _ = book

    booked = fills_book(executions=[(child.id, ex(100, exec_id="A")), (child.id, ex(100, exec_id="A")),
                                    (child.id, ex(50, exec_id="B"))], actor=ACTOR)

    parent.refresh_from_db()
    assert [b.exec_id for b in booked] == ["A", "B"]
    assert parent.filled_quantity == 150


def test_filling_everything_completes_child_parent_and_every_order_exactly(book):
    parent, child, orders = book
    sizes = [137, 263, 51, 349, 200]  # odd sizes: the residual rule has to place single shares

    for i, q in enumerate(sizes):
        fill_book(child_id=child.id, execution=ex(q, f"100.{i:02d}"), actor=ACTOR)

    reload(parent, child, *orders)
    assert child.status == parent.status == ExecStatus.FILLED and parent.completed_at is not None
    assert [o.status for o in orders] == [OrderStatus.FILLED] * 3
    assert [o.filled_quantity for o in orders] == [600, 300, 100]
    for o in orders:  # each order's average price is the quantity-weighted price of its allocations
        allocs = list(o.allocations.all())
        assert sum(a.quantity for a in allocs) == o.filled_quantity
        expected = (sum(a.quantity * a.price for a in allocs) / o.filled_quantity).quantize(Decimal("0.000001"))
        assert o.avg_price == expected
    assert sum(Fill.objects.filter(parent=parent).values_list("allocated_quantity", flat=True)) == parent.filled_quantity
    assert audit_events(event_type="parent_order.filled", object_id=parent.id) and audit_events(event_type="child_order.filled", object_id=child.id)
    assert len(audit_events(event_type="order.filled")) == 3


def test_an_overfill_of_the_child_is_refused_and_books_nothing(book):
    parent, child, _ = book
    small = f.child(parent=parent, quantity=100)

    with pytest.raises(DomainError) as info:
        fill_book(child_id=small.id, execution=ex(101), actor=ACTOR)

    assert info.value.code == "child_order.overfill"
    assert not Fill.objects.exists() and not Allocation.objects.exists()


def test_an_overfill_of_the_parent_is_refused(book):
    parent, child, _ = book
    other = f.child(parent=parent, quantity=500)
    fill_book(child_id=child.id, execution=ex(900), actor=ACTOR)

    with pytest.raises(DomainError) as info:
        fill_book(child_id=other.id, execution=ex(101), actor=ACTOR)

    parent.refresh_from_db()
    assert info.value.code == "parent_order.overfill" and parent.filled_quantity == 900


def test_a_fill_for_a_cancelled_child_is_an_illegal_transition(book):
    parent, _, _ = book
    gone = f.child(parent=parent, quantity=100, status=ExecStatus.CANCELLED)

    with pytest.raises(IllegalTransition) as info:
        fill_book(child_id=gone.id, execution=ex(10), actor=ACTOR)

    assert info.value.code == "child_order.illegal_transition"
    assert not Fill.objects.exists()


def test_a_fill_on_the_wrong_side_is_refused(book):
    _, child, _ = book

    with pytest.raises(DomainError) as info:
        fill_book(child_id=child.id, execution=ex(10, side="sell"), actor=ACTOR)

    assert info.value.code == "fill.bad_side"


@pytest.mark.parametrize(("field", "value", "code"), [
    ("quantity", 0, "fill.bad_quantity"), ("quantity", 1.5, "fill.bad_quantity"), ("price", Decimal("0"), "fill.bad_price"),
    ("price", 100.0, "fill.bad_price"), ("liquidity", "magic", "fill.bad_liquidity"), ("exec_id", "", "fill.bad_exec_id"),
    ("venue_code", "NOPE", "venue.not_found"),
])
def test_bad_executions_are_refused_with_a_code(book, field, value, code):
    _, child, _ = book
    execution = Execution(**{**ex(10).__dict__, field: value})

    with pytest.raises(DomainError) as info:
        fill_book(child_id=child.id, execution=execution, actor=ACTOR)

    assert info.value.code == code


def test_an_unknown_child_is_not_found():
    with pytest.raises(DomainError) as info:
        fill_book(child_id=999_999, execution=ex(10), actor=ACTOR)

    assert info.value.code == "child_order.not_found"


def test_a_partial_fill_keeps_a_pending_cancel_at_every_level(book):
    parent, child, (o1, o2, o3) = book
    ChildOrder.objects.filter(pk=child.pk).update(status=ExecStatus.PENDING_CANCEL)
    ParentOrder.objects.filter(pk=parent.pk).update(status=ExecStatus.PENDING_CANCEL)
    Order.objects.filter(pk=o1.pk).update(status=OrderStatus.PENDING_CANCEL)

    fill_book(child_id=child.id, execution=ex(100), actor=ACTOR)

    reload(parent, child, o1, o2)
    assert child.status == parent.status == ExecStatus.PENDING_CANCEL
    assert o1.status == OrderStatus.PENDING_CANCEL and o1.filled_quantity == 60
    assert o2.status == OrderStatus.PARTIALLY_FILLED


def test_a_fill_through_an_orders_limit_is_refused(pm, portfolio, instrument):
    o = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=100, limit_price="100.00")
    parent = f.parent(instrument=instrument, orders=[o], order_type="limit", limit_price=Decimal("100.00"))
    child = f.child(parent=parent, quantity=100)

    with pytest.raises(DomainError) as info:
        fill_book(child_id=child.id, execution=ex(100, "100.01"), actor=ACTOR)

    assert info.value.code == "order.through_limit"
    assert not Fill.objects.exists()
    assert fill_book(child_id=child.id, execution=ex(100, "100.00"), actor=ACTOR) is not None


def test_fills_are_allocated_in_whole_lots(pm, portfolio, instrument):
    instrument.lot_size = 100
    instrument.save()
    orders = [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=q) for q in (700, 200, 100)]
    parent = f.parent(instrument=instrument, orders=orders)
    child = f.child(parent=parent, quantity=1000)

    fill = fill_book(child_id=child.id, execution=ex(300), actor=ACTOR)

    assert sorted(fill.allocations.values_list("order_id", "quantity")) == [(orders[0].id, 200), (orders[1].id, 100)]


def test_the_fill_records_wall_time_from_the_live_clock(book, settings):
    settings.SIM_ANCHOR = 1_700_000_000.0
    settings.SIM_SPEED = 60.0
    _, child, _ = book

    fill = fill_book(child_id=child.id, execution=ex(10, t_us=60_000_000), actor=ACTOR)

    assert fill.executed_at.timestamp() == pytest.approx(1_700_000_001.0)


def test_a_batch_books_fills_of_several_children_and_parents(pm, portfolio, instrument, other_instrument):
    a = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=500)])
    b = f.parent(instrument=other_instrument, side="sell",
                 orders=[f.order(portfolio=portfolio, instrument=other_instrument, user=pm, quantity=400, side="sell")])
    ca, cb = f.child(parent=a, quantity=500), f.child(parent=b, quantity=400)

    booked = fills_book(executions=[(cb.id, ex(100, "50.00", side="sell")), (ca.id, ex(200)), (cb.id, ex(300, "50.10", side="sell"))],
                        actor=ACTOR)

    reload(a, b)
    assert len(booked) == 3
    assert (a.filled_quantity, b.filled_quantity, b.status) == (200, 400, ExecStatus.FILLED)
    pos = Position.objects.get(portfolio=portfolio, instrument=other_instrument)
    assert (pos.quantity, pos.sold_quantity, pos.avg_cost) == (-400, 400, Decimal("50.075000"))


# --- child reports ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "kind", "end", "event"), [
    (ExecStatus.PENDING_NEW, "ack", ExecStatus.ACCEPTED, "child_order.acked"),
    (ExecStatus.ACCEPTED, "pending_cancel", ExecStatus.PENDING_CANCEL, "child_order.cancel_requested"),
    (ExecStatus.PENDING_CANCEL, "cancelled", ExecStatus.CANCELLED, "child_order.cancelled"),
    (ExecStatus.PENDING_NEW, "rejected", ExecStatus.REJECTED, "child_order.rejected"),
    (ExecStatus.ACCEPTED, "expired", ExecStatus.EXPIRED, "child_order.expired"),
    (ExecStatus.PENDING_CANCEL, "cancel_rejected", ExecStatus.ACCEPTED, "child_order.cancel_rejected"),
])
def test_child_reports_move_the_child_and_are_audited(book, start, kind, end, event):
    parent, _, _ = book
    child = f.child(parent=parent, quantity=100, status=start)

    out = child_report_apply(child_id=child.id, kind=kind, reason="venue says so", actor=ACTOR)

    child.refresh_from_db()
    assert out.status == child.status == end
    audited = audit_events(event_type=event, object_id=child.id)
    assert len(audited) == 1 and audited[0].before == {"status": start} and audited[0].reason == "venue says so"


@pytest.mark.parametrize("kind", ["ack", "pending_cancel", "cancelled", "rejected", "expired", "cancel_rejected"])
def test_a_repeated_child_report_is_a_no_op(book, kind):
    parent, _, _ = book
    start = {"ack": "PENDING_NEW", "rejected": "PENDING_NEW", "cancel_rejected": "PENDING_CANCEL", "cancelled": "PENDING_CANCEL"}
    child = f.child(parent=parent, quantity=100, status=start.get(kind, ExecStatus.ACCEPTED))
    child_report_apply(child_id=child.id, kind=kind, actor=ACTOR)
    n = AuditEvent.objects.count()

    child_report_apply(child_id=child.id, kind=kind, actor=ACTOR)

    assert AuditEvent.objects.count() == n


def test_a_cancel_refused_after_a_fill_goes_back_to_partially_filled(book):
    parent, child, _ = book
    fill_book(child_id=child.id, execution=ex(100), actor=ACTOR)
    child_report_apply(child_id=child.id, kind="pending_cancel", actor=ACTOR)

    out = child_report_apply(child_id=child.id, kind="cancel_rejected", reason="too late", actor=ACTOR)

    assert out.status == ExecStatus.PARTIALLY_FILLED


def test_a_late_ack_or_a_cancel_request_for_a_done_child_changes_nothing(book):
    parent, child, _ = book
    fill_book(child_id=child.id, execution=ex(1000), actor=ACTOR)

    assert child_report_apply(child_id=child.id, kind="ack", actor=ACTOR).status == ExecStatus.FILLED
    assert child_report_apply(child_id=child.id, kind="pending_cancel", actor=ACTOR).status == ExecStatus.FILLED


def test_an_impossible_child_report_raises(book):
    parent, _, _ = book
    done = f.child(parent=parent, quantity=100, status=ExecStatus.CANCELLED)

    with pytest.raises(IllegalTransition):
        child_report_apply(child_id=done.id, kind="expired", actor=ACTOR)
    with pytest.raises(DomainError) as info:
        child_report_apply(child_id=done.id, kind="exploded", actor=ACTOR)
    assert info.value.code == "child_report.bad_kind"


# --- internal crosses ------------------------------------------------------------------------------


def test_an_internal_cross_fills_both_sides_at_the_mid_with_no_fee(pm, portfolio, other_portfolio, instrument):
    buy = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=500)
    sell1 = f.order(portfolio=other_portfolio, instrument=instrument, user=pm, quantity=150, side="sell")
    sell2 = f.order(portfolio=other_portfolio, instrument=instrument, user=pm, quantity=50, side="sell")

    cross = internal_cross_book(instrument=instrument, price=Decimal("100.005"), market_day=0, market_time_us=1_000_000,
                                buys=[(buy, 200)], sells=[(sell1, 150), (sell2, 50)], actor=ACTOR)

    assert InternalCross.objects.get().quantity == 200
    fills = {x.side: x for x in Fill.objects.filter(cross=cross)}
    assert set(fills) == {"buy", "sell"}
    for x in fills.values():
        assert x.venue.code == "INTERNAL" and x.venue.kind == Venue.Kind.INTERNAL
        assert x.liquidity == "internal" and x.fee == 0 and x.child_id is None and x.parent_id is None
        assert x.quantity == x.allocated_quantity == 200 and x.price == Decimal("100.005")
    assert fills["buy"].exec_id == f"X{cross.id}-B" and fills["sell"].exec_id == f"X{cross.id}-S"
    reload(buy, sell1, sell2)
    assert (buy.status, buy.filled_quantity, buy.avg_price) == (OrderStatus.PARTIALLY_FILLED, 200, Decimal("100.005"))
    assert sell1.status == sell2.status == OrderStatus.FILLED
    assert Position.objects.get(portfolio=other_portfolio, instrument=instrument).quantity == -200
    assert Position.objects.get(portfolio=portfolio, instrument=instrument).quantity == 200
    assert len(audit_events(event_type="internal_cross.booked", object_id=cross.id)) == 1 and len(audit_events(event_type="fill.booked")) == 2
    assert booking_audit_sound()


def test_an_unbalanced_cross_is_refused(pm, portfolio, instrument):
    buy = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=500)
    sell = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=500, side="sell")

    with pytest.raises(DomainError) as info:
        internal_cross_book(instrument=instrument, price=Decimal("100"), market_day=0, market_time_us=0,
                            buys=[(buy, 200)], sells=[(sell, 100)], actor=ACTOR)
    assert info.value.code == "internal_cross.unbalanced"
    with pytest.raises(DomainError) as info:
        internal_cross_book(instrument=instrument, price=Decimal("100"), market_day=0, market_time_us=0,
                            buys=[(sell, 100)], sells=[(buy, 100)], actor=ACTOR)
    assert info.value.code == "internal_cross.bad_leg"
    assert not InternalCross.objects.exists()


def test_a_cross_books_a_working_parents_leg_as_a_fill_of_the_parent_and_refuses_a_parent_not_working(pm, portfolio, other_portfolio, instrument):
    o1 = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=300)
    o2 = f.order(portfolio=other_portfolio, instrument=instrument, user=pm, quantity=100)
    parent = f.parent(instrument=instrument, orders=[o1, o2])
    sell = f.order(portfolio=other_portfolio, instrument=instrument, user=pm, quantity=200, side="sell")

    cross = internal_cross_book(instrument=instrument, price=Decimal("100.01"), market_day=0, market_time_us=0,
                                buys=[], sells=[(sell, 200)], parents=[(parent, 200)], actor=ACTOR)

    leg = Fill.objects.get(cross=cross, parent=parent)
    assert (leg.exec_id, leg.side, leg.quantity, leg.child_id) == (f"X{cross.id}-P{parent.id}", "buy", 200, None)
    parent.refresh_from_db()
    assert (parent.filled_quantity, parent.status, parent.avg_price) == (200, ExecStatus.PARTIALLY_FILLED, Decimal("100.01"))
    assert dict(Allocation.objects.filter(fill=leg).values_list("order_id", "quantity")) == {o1.id: 150, o2.id: 50}
    assert dict(parent.constituents.values_list("order_id", "allocated_quantity")) == {o1.id: 150, o2.id: 50}
    assert booking_audit_sound()
    ParentOrder.objects.filter(pk=parent.pk).update(status=ExecStatus.PENDING_CANCEL)
    parent.refresh_from_db()
    with pytest.raises(Conflict) as info:
        internal_cross_book(instrument=instrument, price=Decimal("100"), market_day=0, market_time_us=0,
                            buys=[], sells=[(sell, 100)], parents=[(parent, 100)], actor=ACTOR)
    assert info.value.code == "parent_order.not_open"


# --- closing a parent ------------------------------------------------------------------------------


def test_cancelling_a_parent_cancels_the_unfilled_orders_with_their_fills_kept(book, portfolio):
    parent, child, (o1, o2, o3) = book
    Order.objects.filter(pk=o1.pk).update(reserved_notional=Decimal("60000.00"))
    PortfolioDailyUsage.objects.create(portfolio=portfolio, trade_date=o1.created_at.date(), gross_notional=Decimal("60000.00"))
    fill_book(child_id=child.id, execution=ex(500), actor=ACTOR)
    child_report_apply(child_id=child.id, kind="cancelled", actor=ACTOR)

    out = parent_order_close(parent_id=parent.id, status="CANCELLED", actor=ACTOR, reason="trader cancel")

    reload(parent, o1, o2, o3)
    assert out.status == parent.status == ExecStatus.CANCELLED and parent.completed_at is not None
    assert [(o.status, o.filled_quantity) for o in (o1, o2, o3)] == [(OrderStatus.CANCELLED, 300), (OrderStatus.CANCELLED, 150),
                                                                      (OrderStatus.CANCELLED, 50)]
    # o1's unfilled half gives back half of its reserved credit.
    assert PortfolioDailyUsage.objects.get(portfolio=portfolio).gross_notional == Decimal("30000.00")
    assert len(audit_events(event_type="parent_order.cancelled", object_id=parent.id)) == 1 and len(audit_events(event_type="order.cancelled")) == 3


def test_expiring_a_parent_expires_its_orders_but_a_pending_cancel_is_cancelled(book):
    parent, child, (o1, o2, o3) = book
    child_report_apply(child_id=child.id, kind="cancelled", actor=ACTOR)
    Order.objects.filter(pk=o3.pk).update(status=OrderStatus.PENDING_CANCEL)

    parent_order_close(parent_id=parent.id, status="EXPIRED", actor=ACTOR)

    reload(o1, o2, o3)
    assert [o.status for o in (o1, o2, o3)] == [OrderStatus.EXPIRED, OrderStatus.EXPIRED, OrderStatus.CANCELLED]


def test_closing_a_parent_with_children_at_venues_is_refused(book):
    parent, _, _ = book

    with pytest.raises(DomainError) as info:
        parent_order_close(parent_id=parent.id, status="CANCELLED", actor=ACTOR)
    assert info.value.code == "parent_order.children_open"


def test_closing_a_parent_filled_needs_it_filled_and_twice_is_a_no_op(book):
    parent, child, _ = book
    child_report_apply(child_id=child.id, kind="cancelled", actor=ACTOR)
    with pytest.raises(DomainError) as info:
        parent_order_close(parent_id=parent.id, status="FILLED", actor=ACTOR)
    assert info.value.code == "parent_order.not_filled"

    parent_order_close(parent_id=parent.id, status="CANCELLED", actor=ACTOR)
    n = AuditEvent.objects.count()
    parent_order_close(parent_id=parent.id, status="CANCELLED", actor=ACTOR)
    assert AuditEvent.objects.count() == n
    with pytest.raises(DomainError) as info:
        parent_order_close(parent_id=parent.id, status="EXPIRED", actor=ACTOR)
    assert info.value.code == "parent_order.not_open"
    with pytest.raises(DomainError) as info:
        parent_order_close(parent_id=parent.id, status="PAUSED", actor=ACTOR)
    assert info.value.code == "parent_order.bad_close_status"


# --- releasing a constituent -----------------------------------------------------------------------


def test_releasing_a_constituent_reduces_the_parent_and_cancels_only_that_order(book):
    parent, child, (o1, o2, o3) = book
    fill_book(child_id=child.id, execution=ex(500), actor=ACTOR)  # o2 holds 150 of 300
    child_report_apply(child_id=child.id, kind="cancelled", actor=ACTOR)
    Order.objects.filter(pk=o2.pk).update(status=OrderStatus.PENDING_CANCEL)

    constituent_release(order_id=o2.id, actor=ACTOR)

    reload(parent, o1, o2, o3)
    assert (parent.quantity, parent.filled_quantity, parent.status) == (850, 500, ExecStatus.PARTIALLY_FILLED)
    assert Constituent.objects.get(order=o2).quantity == 150
    assert (o2.status, o2.filled_quantity) == (OrderStatus.CANCELLED, 150)
    assert o1.status == o3.status == OrderStatus.PARTIALLY_FILLED
    reduced = audit_events(event_type="parent_order.reduced", object_id=parent.id)
    assert len(reduced) == 1 and reduced[0].before["quantity"] == 1000 and reduced[0].after["quantity"] == 850
    # Later fills go to the other orders only, and complete them.
    more = f.child(parent=parent, quantity=350)
    fill_book(child_id=more.id, execution=ex(350), actor=ACTOR)
    reload(parent, o1, o2, o3)
    assert parent.status == ExecStatus.FILLED
    assert [(o.status, o.filled_quantity) for o in (o1, o2, o3)] == [(OrderStatus.FILLED, 600), (OrderStatus.CANCELLED, 150),
                                                                      (OrderStatus.FILLED, 100)]


def test_releasing_the_last_unfilled_constituent_closes_the_parent(pm, portfolio, instrument):
    o1 = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=100)
    o2 = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=100)
    parent = f.parent(instrument=instrument, orders=[o1, o2])
    child = f.child(parent=parent, quantity=100)
    fill_book(child_id=child.id, execution=ex(100), actor=ACTOR)  # 50 each
    Order.objects.filter(pk__in=[o1.pk, o2.pk]).update(status=OrderStatus.PENDING_CANCEL)

    constituent_release(order_id=o1.id, actor=ACTOR)
    constituent_release(order_id=o2.id, actor=ACTOR)

    reload(parent, o1, o2)
    assert (parent.quantity, parent.filled_quantity, parent.status) == (100, 100, ExecStatus.FILLED)
    assert o1.status == o2.status == OrderStatus.CANCELLED and o1.filled_quantity == o2.filled_quantity == 50
    assert len(audit_events(event_type="parent_order.filled", object_id=parent.id)) == 1


def test_releasing_from_a_parent_that_filled_nothing_cancels_it(pm, portfolio, instrument):
    o1 = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=100, status=OrderStatus.PENDING_CANCEL)
    parent = f.parent(instrument=instrument, orders=[o1])

    constituent_release(order_id=o1.id, actor=ACTOR)

    parent.refresh_from_db()
    assert (parent.quantity, parent.status) == (0, ExecStatus.CANCELLED)


def test_releasing_twice_is_a_no_op_and_other_misuse_is_refused(book):
    parent, child, (o1, o2, o3) = book
    with pytest.raises(DomainError) as info:
        constituent_release(order_id=o1.id, actor=ACTOR)
    assert info.value.code == "order.not_pending_cancel"
    Order.objects.filter(pk=o1.pk).update(status=OrderStatus.PENDING_CANCEL)
    with pytest.raises(DomainError) as info:
        constituent_release(order_id=o1.id, actor=ACTOR)
    assert info.value.code == "parent_order.children_open"
    child_report_apply(child_id=child.id, kind="cancelled", actor=ACTOR)

    constituent_release(order_id=o1.id, actor=ACTOR)
    n = AuditEvent.objects.count()
    constituent_release(order_id=o1.id, actor=ACTOR)

    assert AuditEvent.objects.count() == n
    with pytest.raises(DomainError) as info:
        constituent_release(order_id=999_999, actor=ACTOR)
    assert info.value.code == "constituent.not_found"


# --- property: booking through the service keeps every invariant -----------------------------------


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_parents_and_fill_sequences_keep_allocation_invariants(pm, portfolio, instrument, data):
    lot = data.draw(st.sampled_from([1, 10, 100]), label="lot")
    sizes = data.draw(st.lists(st.integers(1, 30), min_size=1, max_size=8), label="lots per order")
    with transaction.atomic():
        Instrument.objects.filter(pk=instrument.pk).update(lot_size=lot)
        orders = [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=n * lot) for n in sizes]
        parent = f.parent(instrument=instrument, orders=orders)
        child = f.child(parent=parent, quantity=parent.quantity)
        left = parent.quantity
        while left:
            q = min(left, data.draw(st.integers(1, max(1, left)), label="fill"))
            price = data.draw(st.decimals("99.00", "101.00", places=2), label="price")
            fill_book(child_id=child.id, execution=ex(q, str(price)), actor=ACTOR)
            left -= q
            if data.draw(st.integers(0, 6), label="stop early") == 0:
                break

        parent.refresh_from_db()
        assert parent.filled_quantity == parent.quantity - left
        total = 0
        for o in Order.objects.filter(pk__in=[o.pk for o in orders]):
            allocs = list(o.allocations.all())
            got = sum(a.quantity for a in allocs)
            total += got
            assert got == o.filled_quantity == Constituent.objects.get(order=o).allocated_quantity <= o.quantity
            if got:
                assert o.avg_price == (sum(a.quantity * a.price for a in allocs) / got).quantize(Decimal("0.000001"))
            assert o.status == (OrderStatus.FILLED if got == o.quantity else OrderStatus.PARTIALLY_FILLED if got else OrderStatus.ACCEPTED)
        assert total == parent.filled_quantity
        for fill in Fill.objects.filter(parent=parent):
            assert sum(fill.allocations.values_list("quantity", flat=True)) == fill.quantity == fill.allocated_quantity
        transaction.set_rollback(True)
