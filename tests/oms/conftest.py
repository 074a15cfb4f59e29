"""Helpers shared by the OMS tests: API calls, risk-limit set-up, denial checks, real threads."""

from __future__ import annotations

import uuid

import pytest

from tests.concurrency import run_together

ORDERS_URL = "/api/orders/"
BULK_URL = "/api/orders/bulk/"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # UserFactory hashes a password for every user; PBKDF2 made that most of each test's set-up time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def order_url(order_id: int, action: str = "") -> str:
    return f"{ORDERS_URL}{order_id}/{action + '/' if action else ''}"


@pytest.fixture
def post_order(api):
    """post_order(user, payload) -> response of POST /api/orders/ with the user's token."""

    def post(user, payload):
        return api(user).post(ORDERS_URL, payload, format="json")

    return post


@pytest.fixture
def post_bulk(api):
    """post_bulk(user, items) -> response of POST /api/orders/bulk/ with the user's token."""

    def post(user, items):
        return api(user).post(BULK_URL, items, format="json")

    return post


@pytest.fixture
def cancel_order(api):
    def cancel(user, order_id):
        return api(user).post(order_url(order_id, "cancel"), format="json")

    return cancel


@pytest.fixture
def submit_many(db):
    """submit_many(user, payloads) -> the stored orders, sent through the intake service as one API bulk."""
    from oms.roles import Actor
    from oms.services import orders_submit

    def submit(user, payloads):
        results = orders_submit(user=user, actor=Actor.for_user(user, "api"), items=payloads)
        assert all(r.order is not None for r in results), [r.error for r in results]
        return [r.order for r in results]

    return submit


@pytest.fixture
def submit(submit_many, order_payload):
    """submit(user, **overrides) -> one stored order built from ``order_payload(**overrides)``."""

    def one(user, **overrides):
        return submit_many(user, [order_payload(**overrides)])[0]

    return one


@pytest.fixture
def set_limits(db):
    """set_limits(portfolio=None, **limbs): the global RiskLimit row, or a portfolio's override."""
    from tests.factories import RiskLimitFactory

    def make(portfolio=None, **limbs):
        return RiskLimitFactory(portfolio=portfolio, **limbs)

    return make


@pytest.fixture
def fresh_pm(db, portfolio):
    """A PM of ``portfolio`` with a unique username: its source (api:<name>) has its own rate counter in Redis."""
    from tests.factories import UserFactory

    user = UserFactory(username=f"pm_{uuid.uuid4().hex[:10]}", role="pm")
    portfolio.members.add(user)
    return user


@pytest.fixture
def assert_denied():
    """assert_denied(response, code) -> the stored order, after checking everything a denial must leave behind."""
    from oms.models import AuditEvent, Order
    from oms.states import OrderStatus
    from tests.oms.audit_helpers import event_types

    def check(response, code):
        assert response.status_code == 422, response.json()
        body = response.json()
        assert body["code"] == code
        assert body["detail"]
        assert body["order"]["status"] == OrderStatus.DENIED
        assert body["order"]["deny_code"] == code
        order = Order.objects.get(pk=body["order"]["id"])
        assert order.status == OrderStatus.DENIED
        assert order.deny_code == code
        assert order.deny_reason == body["detail"]
        assert event_types("order", order.id) == ["order.received", "order.denied"]
        denied = AuditEvent.objects.get(object_type="order", object_id=str(order.id), event_type="order.denied")
        assert denied.after == {"status": OrderStatus.DENIED, "code": code}
        assert denied.reason == order.deny_reason
        return order

    return check


@pytest.fixture
def assert_accepted():
    """assert_accepted(response) -> the stored ACCEPTED order, with its received/accepted audit pair."""
    from oms.models import Order
    from oms.states import OrderStatus
    from tests.oms.audit_helpers import event_types

    def check(response):
        assert response.status_code == 201, response.json()
        order = Order.objects.get(pk=response.json()["id"])
        assert order.status == OrderStatus.ACCEPTED
        assert order.deny_code == ""
        assert event_types("order", order.id) == ["order.received", "order.accepted"]
        return order

    return check


@pytest.fixture
def run_concurrently():
    """run_concurrently(fns) -> their results in order: each fn runs in its own thread, released together.

    Each thread closes its own database connection when done. A thread's exception is re-raised here.
    """

    def run(fns):
        results, errors = run_together(fns)
        if errors:
            raise errors[0]
        return results

    return run


@pytest.fixture
def post_concurrently(api, run_concurrently):
    """post_concurrently(url, [(user, body), ...]) -> responses: one client per post, all fired together.

    Server errors come back as 500 responses (not exceptions) so a test can assert on them.
    """

    def post(url, sends):
        clients = []
        for user, _ in sends:  # tokens are created here, before the threads start
            client = api(user)
            client.raise_request_exception = False
            clients.append(client)
        return run_concurrently([
            (lambda c=c, body=body: c.post(url, body, format="json"))
            for c, (_, body) in zip(clients, sends, strict=True)
        ])

    return post
