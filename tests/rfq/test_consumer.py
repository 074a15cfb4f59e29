"""The RFQ websocket (/ws/rfq/<id>/): who may connect, the hello with the RFQ's detail, pushes after a real
commit, and a socket that stays up (held over a real ASGI server (uvicorn), against the real Redis channel layer).

Pushes are sent after commit, so these tests commit for real (transaction=True). The tasks the services
enqueue on commit (providers' answers, the window's close) go to a queue no worker reads: the test plays
the providers itself.
"""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from config.routing import websocket_urlpatterns
from tests.ems import factories as f
from tests.ems.live_helpers import MarketClock, working_parent
from tests.factories import UserFactory
from tests.rfq.services_helpers import provider, quote, rfq_for
from tests.servers import RawSocket, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

PUSH_TIMEOUT = 5  # seconds a pushed message may take to arrive
HOLD_S = 7  # longer than the ~6 s after which redis-py 8 dropped every socket (requirements.txt)


@pytest.fixture
def desk(settings, pm, portfolio, instrument, trader):
    """A working parent of pm_a's with an open RFQ of 4,000 sent to two providers (nobody answers by itself)."""
    settings.EMS_QUEUE = f"test-rfq-ws-{uuid.uuid4().hex[:8]}"
    MarketClock(settings)
    provider("LPA", seed=1)
    provider("LPB", seed=2)
    parent = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)])
    return rfq_for(parent, trader, window_s="60")


def _communicator(user, rfq_id: int) -> WebsocketCommunicator:
    # The real routes (config.routing); the user is put in the scope as AuthMiddlewareStack would.
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/rfq/{rfq_id}/")
    if user is not None:
        communicator.scope["user"] = user
    return communicator


async def _refusal(user, rfq_id: int) -> dict:
    communicator = _communicator(user, rfq_id)
    connected, _ = await communicator.connect()
    assert connected  # accepted, then closed with the reason: a browser sees the code instead of a 1006
    closing = await communicator.receive_output(timeout=PUSH_TIMEOUT)
    await communicator.wait()
    return closing


def test_refusals_carry_a_code_and_a_reason(desk, pm, other_pm, trader):
    nobody = UserFactory(username="no_role_ws_rfq")

    async def body():
        return [await _refusal(AnonymousUser(), desk.id), await _refusal(None, desk.id), await _refusal(nobody, desk.id),
                await _refusal(pm, desk.id), await _refusal(other_pm, desk.id), await _refusal(trader, desk.id + 10_000)]

    anonymous, no_user, no_role, own_pm, not_theirs, unknown = async_to_sync(body)()

    closes = (anonymous, no_user, no_role, own_pm, not_theirs, unknown)
    assert [m["type"] for m in closes] == ["websocket.close"] * 6
    # A PM reads no RFQ, not even one on their own parent: its sizes are the whole parent's (the API's rule).
    assert [m["code"] for m in closes] == [4401, 4401, 4403, 4403, 4403, 4404]
    assert all(m["reason"] for m in (anonymous, no_role, own_pm, unknown))


def test_hello_carries_the_detail_and_a_quote_committed_later_is_pushed_to_the_desk(desk, trader, compliance):
    async def body():
        desk_socket, compliance_socket = _communicator(trader, desk.id), _communicator(compliance, desk.id)
        hellos = []
        for socket in (desk_socket, compliance_socket):
            connected, _ = await socket.connect()
            assert connected
            hellos.append(await socket.receive_json_from(timeout=PUSH_TIMEOUT))
        q = await database_sync_to_async(quote)(desk, "LPB", "100.10")
        pushed = [await socket.receive_json_from(timeout=PUSH_TIMEOUT) for socket in (desk_socket, compliance_socket)]
        for socket in (desk_socket, compliance_socket):
            await socket.disconnect()
        return hellos, q, pushed

    hellos, q, pushed = async_to_sync(body)()

    hello = hellos[0]
    assert hello["type"] == "hello" and hello["rfq"]["id"] == desk.id and hello["rfq"]["status"] == "sent"
    assert hello["rfq"]["ladder"] == [] and hello["rfq"]["window"]["open"] is True
    assert sorted(p["provider"] for p in hello["rfq"]["providers"]) == ["LPA", "LPB"]
    assert hellos[1]["rfq"]["id"] == desk.id  # compliance reads it too
    for message in pushed:
        assert (message["type"], message["id"], message["event"], message["status"]) == ("rfq.changed", desk.id, "quote", "quoting")
        assert message["quote"]["id"] == q.id and Decimal(message["quote"]["price"]) == Decimal("100.10")
        assert message["quote"]["provider"] == "LPB"


def test_the_execution_is_pushed_once_committed(desk, trader):
    from oms.roles import Actor
    from rfq.services import quote_accept

    q = quote(desk, "LPA", "100.10")

    async def body():
        socket = _communicator(trader, desk.id)
        await socket.connect()
        hello = await socket.receive_json_from(timeout=PUSH_TIMEOUT)
        result = await database_sync_to_async(quote_accept)(rfq_id=desk.id, quote_id=q.id, actor=Actor.for_user(trader, "api"))
        messages = [await socket.receive_json_from(timeout=PUSH_TIMEOUT)]
        while messages[-1].get("event") != "executed":
            messages.append(await socket.receive_json_from(timeout=PUSH_TIMEOUT))
        await socket.disconnect()
        return hello, result, messages

    hello, result, messages = async_to_sync(body)()

    assert hello["rfq"]["ladder"][0]["id"] == q.id and hello["rfq"]["ladder"][0]["is_best"] is True
    assert result.executed
    assert messages[-1]["status"] == "executed" and messages[-1]["quote"]["id"] == q.id


# --- over a real server ------------------------------------------------------------------------------------


def test_a_socket_held_open_over_a_real_server_still_receives_pushes(desk, trader, real_server):
    url, log = real_server
    cookie = session_cookie(trader)

    async def body():
        socket = await RawSocket.connect(url, f"/ws/rfq/{desk.id}/", cookie=cookie)
        hello = await socket.receive()
        opened = time.monotonic()
        quiet = await socket.quiet_for(HOLD_S)  # nothing is pushed meanwhile: a close would show up here
        held = time.monotonic() - opened
        q = await database_sync_to_async(quote)(desk, "LPA", "100.20")
        pushed = await socket.receive()
        await socket.close()
        return hello, quiet, held, q, pushed

    hello, quiet, held, q, pushed = async_to_sync(body)()

    assert hello[0] == "text" and hello[1]["type"] == "hello" and hello[1]["rfq"]["id"] == desk.id
    assert quiet and held >= HOLD_S, "the socket was closed (or sent something) during the hold"
    assert pushed[0] == "text", pushed
    assert (pushed[1]["type"], pushed[1]["event"], pushed[1]["quote"]["id"]) == ("rfq.changed", "quote", q.id)
    text = log.read_text()
    assert "Traceback" not in text and "Exception inside application" not in text, text[-3000:]


def test_a_real_browser_socket_is_refused_with_its_close_code(desk, pm, real_server):
    url, _ = real_server
    cookie = session_cookie(pm)  # the PM whose order the parent holds: RFQs are the desk's all the same

    async def body():
        socket = await RawSocket.connect(url, f"/ws/rfq/{desk.id}/", cookie=cookie)
        return await socket.receive()

    kind, (code, _reason) = async_to_sync(body)()
    assert (kind, code) == ("close", 4403)  # (the server sends the code, not the reason the consumer gives)
