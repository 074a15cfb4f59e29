"""Idempotent intake on (source, client_order_id): a resend is answered, never booked twice (DESIGN.md §7).

The concurrent tests use real threads, each with its own API client and database connection.
"""

from __future__ import annotations

import threading

import psycopg
import pytest
from django.db import connection

from oms.models import AuditEvent, Order
from oms.roles import Actor
from oms.services import audit_verify, order_submit
from oms.states import OrderStatus
from tests.oms.audit_helpers import event_types
from tests.oms.conftest import BULK_URL, ORDERS_URL
from tests.servers import wait_for

# --- sequential resends ---------------------------------------------------------------------------


def test_resend_with_the_same_content_answers_200_with_the_existing_order(pm, post_order, order_payload):
    payload = order_payload()
    first = post_order(pm, payload)

    again = post_order(pm, payload)

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["status"] == OrderStatus.ACCEPTED
    assert Order.objects.count() == 1
    assert event_types("order", first.json()["id"]) == ["order.received", "order.accepted"]


@pytest.mark.parametrize(
    "spelling",
    [
        {"limit_price": "100.5"},
        {"limit_price": 100.5},
        {"limit_price": "100.500000"},
        {"instrument": "acme"},
        {"side": "BUY"},
        {"time_in_force": None, "urgency": None, "strategy": None},  # the defaults, left out
    ],
    ids=["price-short", "price-number", "price-long", "symbol-lowercase", "side-uppercase", "defaults-omitted"],
)
def test_resend_spelled_differently_is_still_the_same_order(spelling, pm, post_order, order_payload):
    payload = order_payload(limit_price="100.50")
    first = post_order(pm, payload)

    again = post_order(pm, order_payload(**{**payload, **spelling}))

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": 1001},
        {"side": "sell"},
        {"limit_price": "100.51"},
        {"order_type": "market", "limit_price": None},
        {"time_in_force": "gtc"},
        {"urgency": "high"},
        {"strategy": "vwap"},
        {"max_participation": "0.2"},
        {"start_time": "2030-01-02T14:30:00Z"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_resend_with_different_content_is_409_and_changes_nothing(change, pm, post_order, order_payload):
    payload = order_payload()
    first = post_order(pm, payload).json()

    response = post_order(pm, {**{k: v for k, v in payload.items() if k not in change}, **{k: v for k, v in change.items() if v is not None}})

    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["field"]) == ("order.duplicate_client_order_id", "client_order_id")
    assert body["detail"]
    stored = Order.objects.get()
    assert (stored.id, stored.quantity, stored.side, stored.status) == (first["id"], 1000, "buy", OrderStatus.ACCEPTED)
    assert event_types("order", stored.id) == ["order.received", "order.accepted"]


def test_resend_to_another_portfolio_is_409(pm, portfolio, post_order, order_payload):
    from tests.factories import PortfolioFactory

    second_book = PortfolioFactory(code="PM-A-VALUE", members=[pm])
    payload = order_payload()
    post_order(pm, payload)

    response = post_order(pm, {**payload, "portfolio": second_book.code})

    assert response.json()["code"] == "order.duplicate_client_order_id"


def test_same_client_order_id_from_another_source_is_another_order(pm, trader, post_order, order_payload):
    payload = order_payload()
    mine = post_order(pm, payload)

    theirs = post_order(trader, payload)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]
    assert (mine.json()["source"], theirs.json()["source"]) == ("api:pm_a", "api:desk_trader")
    assert Order.objects.filter(client_order_id=payload["client_order_id"]).count() == 2


def test_same_client_order_id_from_the_browser_and_the_api_are_two_orders(pm, post_order, order_payload):
    payload = order_payload()
    typed = order_submit(user=pm, actor=Actor.for_user(pm, "browser"), data=payload)

    sent = post_order(pm, payload)

    assert (typed.http_status, sent.status_code) == (201, 201)
    assert typed.order.source == "browser:pm_a"
    assert sent.json()["id"] != typed.order.id


def test_resend_of_a_denied_order_answers_422_with_the_same_code(pm, set_limits, post_order, order_payload):
    set_limits(max_order_quantity=100)
    payload = order_payload(quantity=500)
    first = post_order(pm, payload)

    again = post_order(pm, payload)

    assert (first.status_code, again.status_code) == (422, 422)
    assert again.json()["code"] == first.json()["code"] == "risk.max_quantity"
    assert again.json()["order"]["id"] == first.json()["order"]["id"]
    assert Order.objects.count() == 1
    assert event_types("order", first.json()["order"]["id"]) == ["order.received", "order.denied"]


def test_resend_of_a_denied_order_stays_denied_after_the_limit_is_lifted(pm, set_limits, post_order, order_payload):
    limits = set_limits(max_order_quantity=100)
    payload = order_payload(quantity=500)
    post_order(pm, payload)
    limits.max_order_quantity = None
    limits.save()

    again = post_order(pm, payload)

    assert (again.status_code, again.json()["code"]) == (422, "risk.max_quantity")


def test_resend_of_a_cancelled_order_answers_200_with_it_cancelled(pm, post_order, cancel_order, order_payload):
    payload = order_payload()
    order_id = post_order(pm, payload).json()["id"]
    cancel_order(pm, order_id)

    again = post_order(pm, payload)

    assert (again.status_code, again.json()["id"], again.json()["status"]) == (200, order_id, OrderStatus.CANCELLED)


def test_resend_is_not_caught_by_the_duplicate_check(pm, set_limits, post_order, order_payload):
    set_limits(duplicate_window_seconds=60)
    payload = order_payload()
    post_order(pm, payload)

    assert post_order(pm, payload).status_code == 200


def test_participation_finer_than_stored_is_refused_so_a_resend_always_matches(pm, post_order, order_payload):
    # max_participation is numeric(5, 4): storing 0.12345 as 0.1235 would make an identical resend a 409.
    payload = order_payload(max_participation="0.12345")

    first = post_order(pm, payload)

    assert first.status_code == 400
    assert first.json()["errors"]["max_participation"][0]["code"] == "max_decimals"
    assert not Order.objects.exists()
    exact = order_payload(max_participation="0.1235")
    assert post_order(pm, exact).status_code == 201
    assert post_order(pm, exact).status_code == 200


def test_bulk_resend_answers_each_item_against_the_stored_orders(pm, post_order, post_bulk, order_payload):
    accepted = order_payload()
    first_id = post_order(pm, accepted).json()["id"]

    response = post_bulk(pm, [accepted, {**accepted, "quantity": 7}, order_payload()])

    same, clash, new = response.json()["results"]
    assert (same["status"], same["id"]) == (200, first_id)
    assert (clash["status"], clash["code"]) == (409, "order.duplicate_client_order_id")
    assert new["status"] == 201
    assert Order.objects.count() == 2


# --- concurrent resends ---------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_posts_of_one_client_order_id_book_exactly_one_order(pm, order_payload, post_concurrently):
    payload = order_payload(client_order_id="RACE-1")

    responses = post_concurrently(ORDERS_URL, [(pm, payload)] * 20)

    assert Order.objects.count() == 1
    order = Order.objects.get()
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 201}, statuses
    assert statuses.count(201) == 1
    assert {r.json()["id"] for r in responses} == {order.id}
    assert AuditEvent.objects.filter(object_id=str(order.id), event_type="order.received").count() == 1
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_one_denied_order_all_answer_its_denial(pm, set_limits, order_payload, post_concurrently):
    set_limits(max_order_quantity=10)
    payload = order_payload(client_order_id="RACE-DENIED", quantity=500)

    responses = post_concurrently(ORDERS_URL, [(pm, payload)] * 10)

    assert {r.status_code for r in responses} == {422}
    assert {r.json()["code"] for r in responses} == {"risk.max_quantity"}
    assert Order.objects.count() == 1
    assert AuditEvent.objects.filter(event_type="order.denied").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_bulks_book_each_client_order_id_once(pm, order_payload, post_concurrently):
    items = {coid: order_payload(client_order_id=coid, quantity=100 + i) for i, coid in enumerate("ABCDEF")}
    first = [items[c] for c in "ABCD"]
    second = [items[c] for c in "CDEF"]

    responses = post_concurrently(BULK_URL, [(pm, first), (pm, second)])

    assert [r.status_code for r in responses] == [207, 207]
    rows = [row for r in responses for row in r.json()["results"]]
    assert {row["status"] for row in rows} <= {200, 201}, rows
    assert [row["status"] for row in rows].count(201) == 6
    ids_by_coid = {}
    for row in rows:
        ids_by_coid.setdefault(row["client_order_id"], set()).add(row["id"])
    assert all(len(ids) == 1 for ids in ids_by_coid.values()), ids_by_coid
    assert Order.objects.count() == 6
    assert AuditEvent.objects.filter(event_type="order.received").count() == 6
    assert audit_verify().ok


def _overlapping_bulks(pm, order_payload, post_concurrently, *, size, senders=2, reverse=False):
    """``senders`` bulks of ``size`` items at once, each sharing half its client_order_ids with the next."""
    step = size // 2
    items = [order_payload(client_order_id=f"X-{i:04d}", quantity=100 + i) for i in range(step * (senders - 1) + size)]
    batches = [items[k * step:k * step + size] for k in range(senders)]
    if reverse:
        batches = [b[::-1] if k % 2 else b for k, b in enumerate(batches)]
    return post_concurrently(BULK_URL, [(pm, b) for b in batches]), len(items)


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_large_bulks_book_each_client_order_id_once(pm, order_payload, post_concurrently):
    # 200 items each: large enough for the COPY path of bulk intake.
    responses, distinct = _overlapping_bulks(pm, order_payload, post_concurrently, size=200, senders=4)

    assert [r.status_code for r in responses] == [207] * 4
    assert Order.objects.count() == distinct
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_bulks_sharing_ids_in_opposite_order_answer_every_item(pm, order_payload, post_concurrently):
    # Two batches inserting the same client_order_ids in opposite orders wait on each other's rows.
    responses, distinct = _overlapping_bulks(pm, order_payload, post_concurrently, size=40, senders=2, reverse=True)

    assert [r.status_code for r in responses] == [207, 207]
    assert Order.objects.count() == distinct


# --- a retried item that loses its race again ----------------------------------------------------


class _RowHolder:
    """Another session that has inserted a copy of a stored order under a new client_order_id and not
    committed yet: an intake inserting the same id waits for it, then loses to it on commit."""

    def __init__(self, template: Order, client_order_id: str):
        s = connection.settings_dict
        self.conn = psycopg.connect(host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None, dbname=s["NAME"])
        cols = [f.column for f in Order._meta.concrete_fields if not f.primary_key]
        picked = ", ".join("%s" if c == "client_order_id" else c for c in cols)
        self.conn.execute(
            f"INSERT INTO oms_order ({', '.join(cols)}) SELECT {picked} FROM oms_order WHERE id = %s",
            [client_order_id, template.pk],
        )
        self.xid = self.conn.execute("SELECT pg_current_xact_id()::xid::text").fetchone()[0]

    def wait_until_awaited(self, timeout=20.0):
        """Block until some other session waits for this one's transaction."""

        def awaited() -> bool:
            with self.conn.cursor() as cur:  # a new snapshot of pg_locks each time, inside our transaction
                cur.execute("SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid' AND transactionid::text = %s", [self.xid])
                return bool(cur.fetchone()[0])

        assert wait_for(awaited, timeout, every_s=0.02), "nobody waited for the held row"

    def commit(self):
        self.conn.commit()


@pytest.mark.django_db(transaction=True)
def test_bulk_item_that_loses_its_retry_race_too_is_still_answered(pm, submit, order_payload, api):
    # A batch of P and Q loses P to another session, so it is retried item by item. Q's retry then
    # loses to a third session that took Q meanwhile: it is answered from that order, not with a 500.
    template = submit(pm, client_order_id="TEMPLATE")
    holder_p = _RowHolder(template, "RACE-P")
    holder_q = _RowHolder(template, "RACE-Q")
    body = [order_payload(client_order_id=coid) for coid in ("RACE-P", "RACE-Q")]

    client = api(pm)
    client.raise_request_exception = False
    answer = {}

    def post():
        try:
            answer["response"] = client.post(BULK_URL, body, format="json")
        finally:
            connection.close()

    sender = threading.Thread(target=post)
    sender.start()
    try:
        holder_p.wait_until_awaited()  # the batch inserts P then Q (id order): it waits on P
        holder_p.commit()  # it loses P and is retried item by item: P is found, Q inserted again
        holder_q.wait_until_awaited()
        holder_q.commit()  # ... and Q is lost again
    finally:
        for holder in (holder_p, holder_q):
            holder.conn.close()  # a no-op after commit; otherwise rolls back, so the sender is released
        sender.join(timeout=60)

    response = answer["response"]
    assert response.status_code == 207, response.content
    rows = response.json()["results"]
    stored = {o.client_order_id: o.id for o in Order.objects.all()}
    assert [(r["client_order_id"], r["status"], r["id"]) for r in rows] == [
        ("RACE-P", 200, stored["RACE-P"]),
        ("RACE-Q", 200, stored["RACE-Q"]),
    ]
    assert Order.objects.count() == 3
