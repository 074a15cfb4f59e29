"""Fill booking under real concurrency: threads with their own PostgreSQL connections, released together."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ems.models import Allocation, ChildOrder, Fill, ParentOrder
from ems.services.booking import Execution, fill_book, fills_book
from ems.states import ExecStatus
from oms.errors import DomainError
from oms.models import AuditEvent, Order, Position
from oms.roles import Actor
from tests.concurrency import run_together
from tests.ems import factories as f

pytestmark = pytest.mark.django_db(transaction=True)
ACTOR = Actor.system("test")


def ex(exec_id: str, quantity: int, price: str = "100.00") -> Execution:
    return Execution(exec_id=exec_id, venue_code="XSMA", side="buy", quantity=quantity, price=Decimal(price),
                     liquidity="maker", fee=Decimal("0.10"), market_day=0, market_time_us=1_000_000)




@pytest.fixture
def book(pm, portfolio, other_portfolio, instrument):
    orders = [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=q) for q in (500, 300)]
    orders.append(f.order(portfolio=other_portfolio, instrument=instrument, user=pm, quantity=200))
    parent = f.parent(instrument=instrument, orders=orders)
    child = f.child(parent=parent, quantity=1000)
    return parent, child, orders


def assert_consistent(parent: ParentOrder) -> None:
    """Every level agrees with the fills: child, parent, constituents, orders, allocations, positions."""
    parent.refresh_from_db()
    fills = list(Fill.objects.filter(parent=parent))
    assert parent.filled_quantity == sum(x.quantity for x in fills) <= parent.quantity
    for child in ChildOrder.objects.filter(parent=parent):
        assert child.filled_quantity == sum(x.quantity for x in fills if x.child_id == child.id) <= child.quantity
    for c in parent.constituents.select_related("order"):
        allocated = sum(a.quantity for a in Allocation.objects.filter(order=c.order))
        assert c.allocated_quantity == c.order.filled_quantity == allocated <= c.quantity
    assert sum(Allocation.objects.filter(parent=parent).values_list("quantity", flat=True)) == parent.filled_quantity
    assert sum(Position.objects.values_list("quantity", flat=True)) == parent.filled_quantity
    assert AuditEvent.objects.filter(event_type="fill.booked").count() == len(fills)


def test_the_same_exec_id_from_many_threads_is_booked_once(book):
    parent, child, orders = book

    results, errors = run_together([lambda: fill_book(child_id=child.id, execution=ex("SAME-1", 100), actor=ACTOR)] * 6)

    assert not errors
    assert sum(r is not None for r in results) == 1
    assert Fill.objects.filter(exec_id="SAME-1").count() == 1
    child.refresh_from_db()
    assert child.filled_quantity == 100
    assert_consistent(parent)


def test_different_fills_of_one_child_from_many_threads_are_all_counted(book):
    parent, child, orders = book

    results, errors = run_together([
        (lambda i=i: fill_book(child_id=child.id, execution=ex(f"F-{i}", 50 + i, f"100.{i:02d}"), actor=ACTOR)) for i in range(8)
    ])

    assert not errors and all(r is not None for r in results)
    child.refresh_from_db()
    assert child.filled_quantity == sum(50 + i for i in range(8))
    assert_consistent(parent)


def test_racing_fills_never_overfill_a_child(book):
    parent, _, _ = book
    small = f.child(parent=parent, quantity=100)

    results, errors = run_together([
        (lambda i=i: fill_book(child_id=small.id, execution=ex(f"O-{i}", 60), actor=ACTOR)) for i in range(4)
    ])

    assert sum(r is not None for r in results) == 1
    assert len(errors) == 3 and all(isinstance(e, DomainError) and e.code == "child_order.overfill" for e in errors)
    small.refresh_from_db()
    assert small.filled_quantity == 60
    assert_consistent(parent)


def test_a_duplicate_racing_a_batch_is_counted_once(book):
    parent, child, _ = book
    batch = [(child.id, ex(f"B-{i}", 10)) for i in range(20)]

    results, errors = run_together([
        lambda: fills_book(executions=batch, actor=ACTOR),
        lambda: fills_book(executions=list(reversed(batch)), actor=ACTOR),
        lambda: fill_book(child_id=child.id, execution=ex("B-7", 10), actor=ACTOR),
    ])

    assert not errors
    assert Fill.objects.count() == 20
    child.refresh_from_db()
    assert child.filled_quantity == 200
    assert_consistent(parent)


def test_batches_over_two_parents_in_opposite_orders_do_not_deadlock(pm, portfolio, instrument):
    parents, children = [], []
    for _ in range(2):
        o = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
        p = f.parent(instrument=instrument, orders=[o])
        parents.append(p)
        children.append(f.child(parent=p, quantity=1000))

    def batch(tag, order):
        return lambda: [fills_book(executions=[(children[k].id, ex(f"{tag}-{n}-{k}", 10)) for k in order], actor=ACTOR)
                        for n in range(10)]

    _, errors = run_together([batch("A", [0, 1]), batch("B", [1, 0]), batch("C", [0, 1]), batch("D", [1, 0])])

    assert not errors
    for p in parents:
        p.refresh_from_db()
        assert p.filled_quantity == 400
    position = Position.objects.get(portfolio=portfolio, instrument=instrument)
    assert position.quantity == position.bought_quantity == 800
    assert Order.objects.filter(filled_quantity=400).count() == 2


def test_fills_racing_the_last_shares_complete_the_parent_exactly_once(book):
    parent, child, orders = book
    other = f.child(parent=parent, quantity=1000)

    results, errors = run_together([
        lambda: fill_book(child_id=child.id, execution=ex("LAST-A", 1000), actor=ACTOR),
        lambda: fill_book(child_id=other.id, execution=ex("LAST-B", 1000), actor=ACTOR),
    ])

    assert len(errors) == 1 and errors[0].code == "parent_order.overfill"
    parent.refresh_from_db()
    assert parent.status == ExecStatus.FILLED
    assert AuditEvent.objects.filter(event_type="parent_order.filled", object_id=str(parent.id)).count() == 1
    assert all(o.filled_quantity == o.quantity for o in Order.objects.filter(pk__in=[o.pk for o in orders]))
    assert_consistent(parent)
