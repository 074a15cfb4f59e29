"""The blotter websocket (/ws/blotter/): who may connect, and who hears about which order.

Pushes are sent after commit, so these tests commit for real (transaction=True) and talk to the
consumer through the Redis channel layer. The async bodies run under ``async_to_sync``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from oms.broadcast import PER_ORDER_PUSH_LIMIT, publisher
from oms.consumers import BlotterConsumer
from oms.roles import Actor
from oms.services import order_cancel
from tests.factories import UserFactory
from tests.servers import RawSocket, session_cookie

committing = pytest.mark.django_db(transaction=True)

PUSH_TIMEOUT = 5  # seconds a pushed message may take to arrive
SILENCE = 0.5  # seconds of silence that count as "nothing was sent"


def _communicator(user) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(BlotterConsumer.as_asgi(), "/ws/blotter/")
    if user is not None:
        communicator.scope["user"] = user
    return communicator


@asynccontextmanager
async def _blotters(*users):
    """Connected communicators for the users, each past its "hello"; disconnected on exit."""
    communicators = []
    try:
        for user in users:
            communicator = _communicator(user)
            connected, _ = await communicator.connect()
            assert connected, user
            communicators.append(communicator)
            hello = await communicator.receive_json_from(timeout=PUSH_TIMEOUT)
            assert hello["type"] == "hello"
        yield communicators
    finally:
        for communicator in communicators:
            await communicator.disconnect()


def _refused_code(user) -> int:
    async def attempt():
        connected, code = await _communicator(user).connect()
        assert not connected
        return code

    return async_to_sync(attempt)()


def test_anonymous_user_is_refused():
    assert _refused_code(AnonymousUser()) == 4401


def test_connection_without_a_user_is_refused():
    assert _refused_code(None) == 4401


@committing
def test_user_without_a_role_is_refused(db):
    assert _refused_code(UserFactory(username="no_role_ws")) == 4403


@committing
def test_pm_is_greeted_with_one_group_per_portfolio(pm, portfolio):
    from tests.factories import PortfolioFactory

    PortfolioFactory(code="PM-A-VALUE", members=[pm])

    async def body():
        communicator = _communicator(pm)
        await communicator.connect()
        hello = await communicator.receive_json_from(timeout=PUSH_TIMEOUT)
        await communicator.disconnect()
        return hello

    assert async_to_sync(body)() == {"type": "hello", "groups": 2}


@committing
def test_order_change_reaches_its_pm_and_the_trader_only(pm, other_pm, trader, portfolio, other_portfolio, submit):
    async def body():
        async with _blotters(pm, other_pm, trader) as (mine, theirs, desk):
            order = await database_sync_to_async(submit)(pm, client_order_id="WS-1")
            pushed = await mine.receive_json_from(timeout=PUSH_TIMEOUT)
            seen_by_desk = await desk.receive_json_from(timeout=PUSH_TIMEOUT)
            other_heard_nothing = await theirs.receive_nothing(timeout=SILENCE)
            return order, pushed, seen_by_desk, other_heard_nothing

    order, pushed, seen_by_desk, other_heard_nothing = async_to_sync(body)()

    assert pushed == {
        "type": "order.changed", "id": order.id, "status": "ACCEPTED", "portfolio_id": portfolio.id,
        "client_order_id": "WS-1", "filled_quantity": 0,
    }
    assert seen_by_desk == pushed
    assert other_heard_nothing


@committing
def test_trader_hears_about_every_portfolio(pm, other_pm, trader, portfolio, other_portfolio, submit):
    async def body():
        async with _blotters(pm, trader) as (mine, desk):
            theirs = await database_sync_to_async(submit)(other_pm, portfolio=other_portfolio.code)
            seen_by_desk = await desk.receive_json_from(timeout=PUSH_TIMEOUT)
            pm_heard_nothing = await mine.receive_nothing(timeout=SILENCE)
            return theirs, seen_by_desk, pm_heard_nothing

    theirs, seen_by_desk, pm_heard_nothing = async_to_sync(body)()

    assert (seen_by_desk["id"], seen_by_desk["portfolio_id"]) == (theirs.id, other_portfolio.id)
    assert pm_heard_nothing


@committing
def test_compliance_hears_about_every_portfolio(pm, compliance, portfolio, submit):
    async def body():
        async with _blotters(compliance) as (reader,):
            order = await database_sync_to_async(submit)(pm)
            return order, await reader.receive_json_from(timeout=PUSH_TIMEOUT)

    order, pushed = async_to_sync(body)()

    assert pushed["id"] == order.id


@committing
def test_cancel_is_pushed_with_the_new_status(pm, portfolio, submit):
    order = submit(pm)
    publisher.drain()  # the ACCEPTED push has gone out before this blotter connects

    async def body():
        async with _blotters(pm) as (mine,):
            await database_sync_to_async(order_cancel)(user=pm, actor=Actor.for_user(pm, "api"), order_id=order.id)
            return await mine.receive_json_from(timeout=PUSH_TIMEOUT)

    pushed = async_to_sync(body)()

    assert (pushed["type"], pushed["id"], pushed["status"]) == ("order.changed", order.id, "CANCELLED")


@committing
def test_large_bulk_sends_one_orders_changed_hint(pm, trader, portfolio, order_payload, submit_many):
    count = PER_ORDER_PUSH_LIMIT + 1
    payloads = [order_payload(quantity=100 + i) for i in range(count)]

    async def body():
        async with _blotters(pm, trader) as (mine, desk):
            await database_sync_to_async(submit_many)(pm, payloads)
            hints = [await mine.receive_json_from(timeout=PUSH_TIMEOUT), await desk.receive_json_from(timeout=PUSH_TIMEOUT)]
            silent = await mine.receive_nothing(timeout=SILENCE) and await desk.receive_nothing(timeout=SILENCE)
            return hints, silent

    hints, silent = async_to_sync(body)()

    assert hints == [{"type": "orders.changed", "count": count}] * 2
    assert silent


@committing
def test_bulk_at_the_limit_sends_one_message_per_order(pm, portfolio, order_payload, submit_many):
    payloads = [order_payload(quantity=100 + i) for i in range(PER_ORDER_PUSH_LIMIT)]

    async def body():
        async with _blotters(pm) as (mine,):
            orders = await database_sync_to_async(submit_many)(pm, payloads)
            pushed = [await mine.receive_json_from(timeout=PUSH_TIMEOUT) for _ in orders]
            return orders, pushed, await mine.receive_nothing(timeout=SILENCE)

    orders, pushed, silent = async_to_sync(body)()

    assert [m["id"] for m in pushed] == [o.id for o in orders]
    assert {m["type"] for m in pushed} == {"order.changed"}
    assert silent


@committing
def test_nothing_is_pushed_for_a_refused_order(pm, portfolio, order_payload):
    from oms.services import order_submit

    async def body():
        async with _blotters(pm) as (mine,):
            result = await database_sync_to_async(order_submit)(
                user=pm, actor=Actor.for_user(pm, "api"), data=order_payload(quantity=0),
            )
            return result, await mine.receive_nothing(timeout=SILENCE)

    result, silent = async_to_sync(body)()

    assert result.http_status == 400
    assert silent


# --- over a real server: access is checked on every message, and the socket lives no longer than its session ---


def _socket_body(url, cookie, action):
    """Connect a blotter over the real server, run ``action`` (sync, in a thread) and return the next frame."""

    async def body():
        socket = await RawSocket.connect(url, "/ws/blotter/", cookie=cookie)
        hello = await socket.receive()
        assert hello[0] == "text" and hello[1]["type"] == "hello", hello
        await database_sync_to_async(action)()
        try:
            return await socket.receive(timeout=SILENCE * 4)
        except TimeoutError:
            return None
        finally:
            socket.writer.close()

    return async_to_sync(body)()


@pytest.mark.parametrize("removal", ["admin", "bulk"])
@committing
def test_a_pm_removed_from_a_portfolio_hears_nothing_more_of_it(removal, pm, trader, portfolio, submit, real_server):
    from oms.models import Portfolio
    from tests.factories import PortfolioFactory

    kept = PortfolioFactory(code="PM-A-KEPT", members=[pm])  # the PM still sees something: the socket stays
    url, _log = real_server
    cookie = session_cookie(pm)

    def lose_then_change():
        if removal == "admin":  # the admin's form: m2m signals fire
            portfolio.members.remove(pm)
        else:  # a bulk delete (or SQL): no signal at all, only the per-message check stands between
            Portfolio.members.through.objects.filter(portfolio=portfolio, user=pm).delete()
        submit(trader, portfolio=portfolio.code, client_order_id="WS-LOST-1")

    assert _socket_body(url, cookie, lose_then_change) is None

    order_in_kept = []
    pushed = _socket_body(url, cookie, lambda: order_in_kept.append(submit(trader, portfolio=kept.code)))
    assert pushed is not None and pushed[0] == "text", pushed
    assert (pushed[1]["id"], pushed[1]["portfolio_id"]) == (order_in_kept[0].id, kept.id)
    assert "group" not in pushed[1]


def _logout(cookie):
    from django.test import Client

    client = Client()
    client.cookies["sessionid"] = cookie.removeprefix("sessionid=")
    assert client.post("/logout/").status_code in (200, 302)


def _change_password(user):
    user.set_password("a-new-password-for-the-test")
    user.save()


def _deactivate(user):
    user.is_active = False
    user.save()


def _expire(cookie):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    Session.objects.filter(session_key=cookie.removeprefix("sessionid=")).update(expire_date=timezone.now())


@pytest.mark.parametrize("ending", ["logout", "password", "deactivated"])
@committing
def test_the_socket_closes_when_its_session_ends(ending, pm, portfolio, real_server):
    url, _log = real_server
    cookie = session_cookie(pm)
    end = {"logout": lambda: _logout(cookie), "password": lambda: _change_password(pm), "deactivated": lambda: _deactivate(pm)}[ending]

    frame = _socket_body(url, cookie, end)

    assert frame is not None and frame[0] == "close" and frame[1][0] == 4401, frame


@committing
def test_a_logout_elsewhere_leaves_this_session_open(pm, portfolio, real_server):
    url, _log = real_server
    cookie, other = session_cookie(pm), session_cookie(pm)

    assert _socket_body(url, cookie, lambda: _logout(other)) is None


@committing
def test_an_expired_session_forwards_nothing_and_closes(pm, trader, portfolio, submit, real_server):
    url, _log = real_server
    cookie = session_cookie(pm)

    def expire_then_change():
        _expire(cookie)  # no signal: only the check on the next message sees it
        submit(trader, portfolio=portfolio.code)

    frame = _socket_body(url, cookie, expire_then_change)

    assert frame is not None and frame[0] == "close" and frame[1][0] == 4401, frame
