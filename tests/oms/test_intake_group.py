"""Group commit of single orders (oms/services/intake_group.py): orders that concurrent requests submit at the
same moment are written in one transaction, and each request is answered exactly as it would be alone.

Real threads, each with its own API client and database connection, post to /api/orders/. A group is made
to form, deterministically, by holding a lock that keeps the first order's INSERT waiting: the requests
sent meanwhile queue (``intake_group.pending()``), and the first of them writes them all as the next group.
"""

from __future__ import annotations

import asyncio
import re
import threading

import httpx
import psycopg
import pytest
from django.db import connection

from oms.models import AuditEvent, Order
from oms.services.intake_group import GroupStats, intake_group
from oms.states import OrderStatus
from tests.oms.audit_helpers import event_types
from tests.oms.conftest import ORDERS_URL
from tests.servers import database_url, run_server, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stats(monkeypatch):
    """This test's own group-commit figures."""
    fresh = GroupStats()
    monkeypatch.setattr(intake_group, "stats", fresh)
    return fresh


def _connect() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None, dbname=s["NAME"])


class InsertBlocker:
    """Another session holding a lock on the orders table that lets reads through and makes every INSERT wait."""

    def __init__(self):
        self.conn = _connect()
        self.conn.execute("LOCK TABLE oms_order IN SHARE ROW EXCLUSIVE MODE")

    def wait_until_awaited(self) -> None:
        def awaited() -> bool:
            with self.conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'oms_order'::regclass")
                return bool(cur.fetchone()[0])

        assert wait_for(awaited, 20, every_s=0.02), "no INSERT waited for the lock"

    def release(self) -> None:
        self.conn.close()  # rolls back: the lock goes


class Sender:
    """A thread posting one order with its user's token; ``response`` once answered."""

    def __init__(self, client, payload):
        self.response = None
        self.thread = threading.Thread(target=self._post, args=(client, payload))
        self.thread.start()

    def _post(self, client, payload):
        try:
            self.response = client.post(ORDERS_URL, payload, format="json")
        finally:
            connection.close()


def post_in_one_group(api, sends) -> list:
    """Post ``sends`` [(user, payload), ...] so that they queue in this order and are written as one group
    (behind an opening order that takes the writer's role first); return their responses in order."""
    clients = []
    for user, _ in sends:  # tokens are made here, before the threads start
        client = api(user)
        client.raise_request_exception = False  # a server error comes back as a 500 response
        clients.append(client)
    opener_user, opener_payload = sends[0][0], {**sends[0][1], "client_order_id": f"OPEN-{sends[0][1]['client_order_id']}"}
    blocker = InsertBlocker()
    try:
        opener = Sender(api(opener_user), opener_payload)
        blocker.wait_until_awaited()
        senders = []
        for k, (client, (_, payload)) in enumerate(zip(clients, sends, strict=True)):
            senders.append(Sender(client, payload))
            assert wait_for(lambda n=k + 1: intake_group.pending() == n, 20, every_s=0.005), "the order did not queue"
    finally:
        blocker.release()
    for s in (opener, *senders):
        s.thread.join(timeout=60)
    assert opener.response.status_code == 201, opener.response.content
    return [s.response for s in senders]


def post_one_by_one(api, sends) -> list:
    responses = []
    for user, payload in sends:
        client = api(user)
        client.raise_request_exception = False
        responses.append(client.post(ORDERS_URL, payload, format="json"))
    return responses


def _order_id(body: dict) -> int | None:
    return body.get("id") or (body.get("order") or {}).get("id")


def answers(responses, prefix: str, stored: dict[int, str]) -> list[tuple]:
    """What a client sees in each answer, with ids and times taken out: the status, the error code and field,
    the order's fields, and which answer (or stored order) names the same order as this one."""
    first_of: dict[int, str] = dict(stored)
    seen = []
    for k, r in enumerate(responses):
        body = r.json()
        order = body.get("order", body if "id" in body else {})
        oid = _order_id(body)
        same = first_of.setdefault(oid, f"answer {k}") if oid is not None else None
        seen.append((
            r.status_code, body.get("code"), body.get("field"), same,
            tuple((f, str(order.get(f)).removeprefix(prefix)) for f in
                  ("client_order_id", "source", "portfolio", "instrument", "side", "quantity", "status", "deny_code", "deny_reason")),
        ))
    return seen


def test_a_group_answers_every_order_as_it_would_be_answered_alone(api, pm, trader, portfolio, set_limits, order_payload, stats, settings):
    set_limits(max_order_quantity=5000)

    def orders(prefix):
        stored = order_payload(client_order_id=f"{prefix}STORED")
        new = order_payload(client_order_id=f"{prefix}NEW")
        denied = order_payload(client_order_id=f"{prefix}BIG", quantity=6000)
        return [stored], [
            (pm, new),
            (pm, new),  # the same order again, in the same group: 200 with the first's order
            (pm, {**new, "quantity": 7}),  # its id, other content: 409 naming the first's order
            (trader, new),  # the same id from another source: another order
            (pm, denied),  # 422 risk.max_quantity
            (pm, denied),  # a resend of the denial: 422 again, the same order
            (pm, order_payload(client_order_id=f"{prefix}ZERO", quantity=0)),  # 400, nothing stored
            (pm, stored),  # a resend of an order stored before: 200
            (pm, {**stored, "side": "sell"}),  # 409
        ]

    stored, grouped = orders("G-")
    [stored_id] = [post_one_by_one(api, [(pm, p)])[0].json()["id"] for p in stored]
    in_group = post_in_one_group(api, grouped)

    settings.INTAKE_GROUP_COMMIT = False
    alone_stored, alone_sends = orders("A-")
    [alone_stored_id] = [post_one_by_one(api, [(pm, p)])[0].json()["id"] for p in alone_stored]
    alone = post_one_by_one(api, alone_sends)

    assert answers(in_group, "G-", {stored_id: "stored"}) == answers(alone, "A-", {alone_stored_id: "stored"})
    assert [r.status_code for r in in_group] == [201, 200, 409, 201, 422, 422, 400, 200, 409]
    assert stats.sizes == {1: 2, len(grouped): 1}  # the stored order and the opener alone, then the nine together
    for grouped_answer, alone_answer in zip(in_group, alone, strict=True):
        oid, alone_oid = _order_id(grouped_answer.json()), _order_id(alone_answer.json())
        if oid is not None:
            assert event_types("order", oid) == event_types("order", alone_oid)
    assert Order.objects.filter(client_order_id__startswith="G-").count() == Order.objects.filter(client_order_id__startswith="A-").count() == 4


def test_orders_written_in_a_group_each_carry_their_audit_events_and_sender(api, pm, trader, order_payload, stats):
    sends = [(pm if k % 2 else trader, order_payload(client_order_id=f"EACH-{k}", quantity=100 * (k + 1))) for k in range(6)]

    responses = post_in_one_group(api, sends)

    assert [r.status_code for r in responses] == [201] * 6
    assert stats.sizes[6] == 1
    for (user, payload), r in zip(sends, responses, strict=True):
        order = Order.objects.get(pk=r.json()["id"])
        assert (order.client_order_id, order.quantity, order.source, order.created_by_id) == (
            payload["client_order_id"], payload["quantity"], f"api:{user.username}", user.pk)
        assert event_types("order", order.id) == ["order.received", "order.accepted"]
        received = AuditEvent.objects.get(object_type="order", object_id=str(order.id), event_type="order.received")
        assert (received.actor, received.source) == (user.username, f"api:{user.username}")


def test_a_group_pushes_every_order_to_the_blotters_after_its_commit(api, pm, order_payload, stats):
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from oms.broadcast import ALL_ORDERS_GROUP, publisher

    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(ALL_ORDERS_GROUP, channel)

    responses = post_in_one_group(api, [(pm, order_payload(client_order_id=f"PUSH-{k}")) for k in range(4)])
    publisher.drain()

    async def received():
        out = []
        while True:
            try:
                out.append(await asyncio.wait_for(layer.receive(channel), 0.5))
            except TimeoutError:
                return out

    messages = async_to_sync(received)()
    assert stats.sizes[4] == 1
    # One message per order, or, where pushes queued up together, one hint counting them (oms.broadcast).
    assert sum(m.get("count", 1) for m in messages) == 5  # the opener and the four of the group
    assert {m["id"] for m in messages if m["type"] == "order.changed"} <= {r.json()["id"] for r in responses} | {
        Order.objects.get(client_order_id="OPEN-PUSH-0").id}


POISON_SQL = """
CREATE FUNCTION test_poisoned_order() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'poisoned order %', NEW.client_order_id USING ERRCODE = 'check_violation'; END $$;
CREATE CONSTRAINT TRIGGER test_poisoned_order AFTER INSERT ON oms_order DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.client_order_id LIKE 'POISON%') EXECUTE FUNCTION test_poisoned_order();
"""


@pytest.fixture
def poisoned_orders():
    """Any order whose client_order_id starts with POISON makes its transaction fail at COMMIT (a deferred
    constraint trigger): the failure that reaches a group last, after everything was written."""
    with connection.cursor() as cur:
        cur.execute(POISON_SQL)
    yield
    with connection.cursor() as cur:
        cur.execute("DROP TRIGGER test_poisoned_order ON oms_order; DROP FUNCTION test_poisoned_order()")


def test_a_group_whose_commit_fails_writes_nothing_and_each_order_is_answered_alone(api, pm, order_payload, stats, poisoned_orders):
    sends = [(pm, order_payload(client_order_id=coid)) for coid in ("GOOD-1", "POISON-1", "GOOD-2")]

    good_1, poisoned, good_2 = post_in_one_group(api, sends)

    assert (good_1.status_code, good_2.status_code) == (201, 201)
    assert (poisoned.status_code, poisoned.json()["code"]) == (500, "server_error")  # as it is alone: it never commits
    assert stats.resubmitted == 1  # the group of three committed nothing; each went again on its own
    assert not Order.objects.filter(client_order_id="POISON-1").exists()
    stored = dict(Order.objects.values_list("client_order_id", "id"))
    assert set(stored) == {"OPEN-GOOD-1", "GOOD-1", "GOOD-2"}
    for coid in ("GOOD-1", "GOOD-2"):
        assert event_types("order", stored[coid]) == ["order.received", "order.accepted"]
    assert AuditEvent.objects.filter(object_type="order").count() == 2 * len(stored)  # nothing of the poisoned order


def test_a_lone_order_is_written_at_once_as_a_group_of_one(pm, post_order, order_payload, stats, assert_accepted):
    response = post_order(pm, order_payload())

    assert_accepted(response)
    assert (stats.groups, stats.sizes) == (1, {1: 1})


def test_with_group_commit_off_every_order_is_written_on_its_own(pm, post_order, order_payload, stats, settings, assert_accepted):
    settings.INTAKE_GROUP_COMMIT = False

    assert_accepted(post_order(pm, order_payload()))

    assert stats.groups == 0


def test_inside_a_transaction_an_order_is_written_in_it(pm, order_payload, stats):
    from django.db import transaction

    from oms.roles import Actor
    from oms.services import order_submit

    with transaction.atomic():
        result = order_submit(user=pm, actor=Actor.for_user(pm, "api"), data=order_payload(client_order_id="IN-TX"))
        assert Order.objects.filter(pk=result.order.id).exists()  # visible here, before the commit

    assert result.http_status == 201
    assert stats.groups == 0


def test_the_asgi_server_groups_concurrent_single_orders(settings, api_client_user, client_portfolio, instrument, order_payload):
    """uvicorn runs each request's sync code in a thread of its own, so concurrent requests of one process meet in
    the group: the server's log shows the orders queue behind the first and go in one group."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=api_client_user).key
    payloads = [order_payload(client_order_id=f"ASGI-{k}", portfolio=client_portfolio.code) for k in range(6)]
    env = {"DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": settings.REDIS_URL, "DB_POOL_MIN_SIZE": "0",
           "LOG_LEVEL": "DEBUG", "LOG_CONSOLE_LEVEL": "DEBUG"}
    connection.close()
    responses: dict[int, httpx.Response] = {}

    def post(k):
        with httpx.Client(base_url=url, headers={"Authorization": f"Token {token}"}, timeout=60) as client:
            responses[k] = client.post(ORDERS_URL, json=payloads[k])

    with run_server(env) as (url, log):
        blocker = InsertBlocker()
        try:
            threads = [threading.Thread(target=post, args=(0,))]
            threads[0].start()
            blocker.wait_until_awaited()
            threads += [threading.Thread(target=post, args=(k,)) for k in range(1, 6)]
            for t in threads[1:]:
                t.start()
            queued = lambda: log.read_text().count("waits for the intake group being written") == 5  # noqa: E731
            assert wait_for(queued, 30, every_s=0.05), log.read_text()[-3000:]
        finally:
            blocker.release()
        for t in threads:
            t.join(timeout=60)
        written = [int(n) for n in re.findall(r"intake group of (\d+) order", log.read_text())]

    assert [responses[k].status_code for k in range(6)] == [201] * 6
    assert written == [1, 5]
    assert Order.objects.filter(client_order_id__startswith="ASGI-", status=OrderStatus.ACCEPTED).count() == 6
