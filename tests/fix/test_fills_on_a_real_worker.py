"""Orders entered over FIX, aggregated into a parent that a real Celery worker works on the simulated venues: the
client gets an ExecutionReport Trade (150=F) for every fill as it is booked, in order, from the outbox rows the
worker wrote in its own transactions."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from ems.models import ParentOrder
from ems.services import venues_sync_from_sim
from ems.services.aggregation import aggregation_cycle
from ems.services.ticks import parent_tick_enqueue
from fix.engine import field_or
from oms.models import Order
from oms.roles import Actor
from tests.fix.client import FixClient
from tests.fix.conftest import add_session
from tests.fix.test_order_entry import new_order, running_gateway
from tests.servers import celery_worker, database_url, free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_fills_worked_by_a_real_worker_reach_the_fix_client_as_they_are_booked(api_client_user, client_portfolio, instrument, settings):
    add_session(api_client_user, "SMART", "CLIENT1")
    venues_sync_from_sim()
    queue = f"test-fix-{uuid.uuid4().hex[:8]}"
    settings.EMS_QUEUE = queue  # ticks enqueued from this process go to our worker
    env = {"DATABASE_URL": database_url(connection.settings_dict), "EMS_QUEUE": queue, "EMS_TICK_S": "0.2"}
    port = free_port()
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        for cl_ord_id, qty in (("W-1", "200"), ("W-2", "100")):  # market orders: they share one parent
            client.send(new_order(cl_ord_id, qty=qty, ord_type="1", price=None))
            assert field_or(client.expect("8"), 150) == "0"
        with celery_worker(env, queue) as log:
            result = aggregation_cycle(actor=Actor.system("test"))
            assert len(result.parents) == 1, result
            parent = ParentOrder.objects.get(pk=result.parents[0])
            parent_tick_enqueue(parent.id, countdown=0)
            assert wait_for(lambda: ParentOrder.objects.filter(pk=parent.id, status="FILLED").exists(), 90, every_s=0.3), \
                log.read_text()[-3000:]
        orders = {o.client_order_id: o for o in Order.objects.filter(source="fix:SMART:CLIENT1")}
        reports: dict[str, list] = {"W-1": [], "W-2": []}
        while sum(int(field_or(r[-1], 14)) if r else 0 for r in reports.values()) < 300:
            er = client.expect("8", timeout=20)
            assert field_or(er, 150) == "F"
            reports[field_or(er, 11)].append(er)

    for cl_ord_id, got in reports.items():
        order = orders[cl_ord_id]
        assert got, f"no fill report for {cl_ord_id}"
        cum = [int(field_or(er, 14)) for er in got]
        assert cum == sorted(cum) and cum[-1] == order.filled_quantity == order.quantity
        assert sum(int(field_or(er, 32)) for er in got) == order.filled_quantity
        assert [field_or(er, 39) for er in got][-1] == "2" and field_or(got[-1], 151) == "0"
        assert all(field_or(er, 30) for er in got)  # LastMkt: the venue's code
        assert len({field_or(er, 17) for er in got}) == len(got)
