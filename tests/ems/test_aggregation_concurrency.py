"""Two aggregation cycles at once, on real PostgreSQL connections (threads): no order in two parents, none lost,
no order crossed twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.db import connection, connections

from ems.models import Allocation, Constituent, Fill, InternalCross, ParentOrder
from ems.selectors import market_prices
from ems.services import venues_sync_from_sim
from ems.services.aggregation import CONSTITUENT_ORDER_UNIQUE, aggregation_cycle
from ems.sim import SESSION_SECONDS
from oms.models import AuditEvent, Order
from oms.roles import Actor
from oms.services import audit_verify, orders_submit
from oms.states import OrderStatus
from tests.servers import celery_worker, database_url, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

N_ORDERS = 2_000
ROUNDS = 3


@pytest.fixture(autouse=True)
def _tasks_to_a_queue_of_this_test(monkeypatch, settings):
    # The parents' first ticks (and intake's cycle requests) go to a queue no other worker reads, deleted after.
    import redis
    from celery import current_app

    queue = f"test-agg-{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(current_app.conf, "task_default_queue", queue)
    yield queue
    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(queue)


@pytest.fixture
def market(settings):
    settings.SIM_SPEED = 1e-6  # market time held (nearly) still: both cycles see the same mid
    settings.SIM_ANCHOR = time.time() - (3 * SESSION_SECONDS + 3600) / settings.SIM_SPEED
    venues_sync_from_sim()


def _orders(pm, portfolio, instruments, round_no: int) -> list[Order]:
    """2,000 accepted orders over two instruments, both sides, a few limits and urgencies (so: crosses and
    several groups per instrument)."""
    mids = {t.instrument_id: t.mid for t in market_prices(instruments)}
    items = []
    for i in range(N_ORDERS):
        inst = instruments[i % 2]
        side = "buy" if i % 5 < 3 else "sell"
        item = {"client_order_id": f"C{round_no}-{i}", "portfolio": portfolio.code, "instrument": inst.symbol, "side": side,
                "quantity": 100 * (1 + i % 7), "order_type": "market", "urgency": ("low", "medium", "high")[i % 3]}
        if i % 4 == 0:  # some limits through the mid (cross), some away from it (do not)
            offset = Decimal("0.25") if i % 8 == 0 else Decimal("-0.25")
            item |= {"order_type": "limit", "limit_price": str((mids[inst.id] + (offset if side == "buy" else -offset)).quantize(Decimal("0.01")))}
        items.append(item)
    results = orders_submit(user=pm, actor=Actor.for_user(pm, "api"), items=items)
    assert all(r.outcome == "created" for r in results), [r.error for r in results if r.error][:3]
    return [r.order for r in results]


def _run_two_cycles_at_once() -> list:
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def run(slot: int) -> None:
        try:
            barrier.wait()
            outcomes[slot] = aggregation_cycle(actor=Actor.system(f"aggregation-{slot}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            outcomes[slot] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return outcomes


def test_two_concurrent_cycles_put_every_order_in_exactly_one_parent_or_fill_it_by_a_cross(market, pm, portfolio, instrument, other_instrument):
    instruments = [instrument, other_instrument]
    all_ids: list[int] = []
    for round_no in range(ROUNDS):
        orders = _orders(pm, portfolio, instruments, round_no)
        all_ids += [o.id for o in orders]

        outcomes = _run_two_cycles_at_once()

        assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
        assert sum(o.candidates for o in outcomes) >= N_ORDERS  # the two took them all between them (a retry re-reads)
        # Nothing is left waiting: the two cycles covered every candidate between them.
        assert not Order.objects.filter(pk__in=all_ids, status=OrderStatus.ACCEPTED, constituents__isnull=True).exists()

    orders = {o.id: o for o in Order.objects.filter(pk__in=all_ids)}
    constituents = {c.order_id: c for c in Constituent.objects.filter(order_id__in=all_ids).select_related("parent")}
    for oid, o in orders.items():
        c = constituents.get(oid)
        if c is None:
            # Not in a parent: crossed in full.
            assert (o.status, o.filled_quantity) == (OrderStatus.FILLED, o.quantity), o
        else:
            # In exactly one parent (the OneToOne), with what the cross left.
            assert c.quantity == o.quantity - o.filled_quantity > 0
            assert o.status == (OrderStatus.PARTIALLY_FILLED if o.filled_quantity else OrderStatus.ACCEPTED)
            assert (c.parent.instrument_id, c.parent.side) == (o.instrument_id, o.side)
    # Every parent's quantity is its constituents' sum; each order was announced once.
    sums = defaultdict(int)
    for c in constituents.values():
        sums[c.parent_id] += c.quantity
    assert dict(ParentOrder.objects.values_list("id", "quantity")) == dict(sums)
    aggregated = Counter(AuditEvent.objects.filter(event_type="order.aggregated").values_list("object_id", flat=True))
    assert aggregated == Counter(str(oid) for oid in constituents)
    assert AuditEvent.objects.filter(event_type="parent_order.created").count() == ParentOrder.objects.count()
    # Crosses: each order's fills are exactly its allocations, and each cross is balanced.
    allocated = defaultdict(int)
    for order_id, qty in Allocation.objects.values_list("order_id", "quantity"):
        allocated[order_id] += qty
    assert {oid: o.filled_quantity for oid, o in orders.items() if o.filled_quantity} == dict(allocated)
    for cross in InternalCross.objects.all():
        assert sorted(Fill.objects.filter(cross=cross).values_list("side", "quantity")) == [("buy", cross.quantity), ("sell", cross.quantity)]
    assert InternalCross.objects.exists()
    assert audit_verify().ok


def test_the_unique_index_the_retry_recognises_is_the_constituent_order_one():
    # A partial unique index (an order's current constituent), not a table constraint: pg_indexes names it.
    with connection.cursor() as cur:
        cur.execute("""SELECT indexdef FROM pg_indexes WHERE tablename = 'ems_constituent' AND indexname = %s""", [CONSTITUENT_ORDER_UNIQUE])
        (indexdef,) = cur.fetchone()
    assert "UNIQUE" in indexdef and "(order_id)" in indexdef and "WHERE current" in indexdef


def test_an_accepted_order_is_aggregated_by_a_real_worker_shortly_after_acceptance(market, pm, portfolio, instrument, _tasks_to_a_queue_of_this_test):
    queue = _tasks_to_a_queue_of_this_test  # intake sends the cycle by task name to the default queue: this worker's
    env = {"DATABASE_URL": database_url(connection.settings_dict)}

    with celery_worker(env, queue) as log:
        result = orders_submit(user=pm, actor=Actor.for_user(pm, "api"), items=[{
            "client_order_id": "W-1", "portfolio": portfolio.code, "instrument": instrument.symbol, "side": "buy",
            "quantity": 1000, "order_type": "market"}])[0]
        wait_for(lambda: Constituent.objects.filter(order_id=result.order.id).exists(), 30)
        worker_log = log.read_text()

    constituent = Constituent.objects.select_related("parent").get(order_id=result.order.id)
    assert constituent.quantity == 1000 and constituent.parent.quantity == 1000
    assert AuditEvent.objects.filter(event_type="parent_order.created", object_id=str(constituent.parent_id), actor_type="system").exists()
    assert "ems.tasks.aggregation_cycle" in worker_log and "Traceback" not in worker_log, worker_log[-3000:]
