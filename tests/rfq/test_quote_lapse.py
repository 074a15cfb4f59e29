"""A quote whose own life ends before its window (rfq.services.quotes_lapse): the ladder shows it EXPIRED, the
server refuses it with its code, it is audited, the sweep catches a lapse whose task was lost, and the lapse
is pushed over /ws/rfq/<id>/ to a socket held open. The providers' answers are submitted by the test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from config.routing import websocket_urlpatterns
from ems.models import Fill
from oms.roles import Actor
from rfq import services
from rfq.models import FIRM_QUOTE_MIN_MS, LiquidityProvider, Quote
from rfq.states import QuoteStatus, RfqStatus
from tests.ems import factories as f
from tests.ems.live_helpers import MarketClock, working_parent
from tests.oms.audit_helpers import audit_events
from tests.rfq.services_helpers import provider, quote, rfq_for

pytestmark = [pytest.mark.django_db]

RFQS = "/api/rfqs/"
ACTOR = Actor.system("test.lapse")


def _lapse(q: Quote) -> None:
    """Arrange: ``q``'s life ended a moment ago, well inside its request's 30 s window."""
    Quote.objects.filter(pk=q.pk).update(valid_until=datetime.now(UTC) - timedelta(milliseconds=1))


def _ladder(api, trader, rfq) -> dict[int, dict]:
    response = api(trader).get(f"{RFQS}{rfq.id}/")
    assert response.status_code == 200
    return {row["id"]: row for row in response.json()["ladder"]}


def test_a_lapsed_best_quote_shows_expired_is_refused_and_the_next_best_executes(api, trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    best, second = quote(rfq, "LPA", "100.10"), quote(rfq, "LPB", "100.20")
    _lapse(best)

    # The instant its life ends, before any task ran: the ladder already says what a click would meet.
    ladder = _ladder(api, trader, rfq)
    assert (ladder[best.id]["status"], ladder[best.id]["seconds_left"], ladder[best.id]["is_best"]) == ("expired", 0.0, False)
    assert (ladder[second.id]["status"], ladder[second.id]["is_best"]) == ("live", True)

    lapsed = services.quotes_lapse(rfq_id=rfq.id, actor=ACTOR)

    assert [q.id for q in lapsed] == [best.id]
    best.refresh_from_db()
    assert best.status == QuoteStatus.EXPIRED and best.status_reason.startswith("lapsed: LPA held it firm for")
    (event,) = [e for e in audit_events(object_type="quote", object_id=best.id) if e.event_type == "quote.expired"]
    assert event.before == {"status": "live"} and event.after["status"] == "expired" and "lapsed" in event.reason
    assert services.quotes_lapse(rfq_id=rfq.id, actor=ACTOR) == []  # idempotent

    refused = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": best.id}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "rfq.quote_expired"
    assert not Fill.objects.exists()
    ladder = _ladder(api, trader, rfq)
    assert ladder[best.id]["status"] == "expired" and ladder[best.id]["status_reason"] == best.status_reason
    assert ladder[second.id]["is_best"] is True

    taken = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": second.id}, format="json")
    assert taken.status_code == 200, taken.json()
    rfq.refresh_from_db()
    assert (rfq.status, rfq.executed_quote_id) == (RfqStatus.EXECUTED, second.id)


def test_a_quote_firm_to_the_window_end_is_left_to_the_windows_close(trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    q = quote(rfq, "LPA", "100.10", life_ms=60_000)  # capped at the window's end
    assert q.valid_until == rfq.window_ends_at

    assert services.quotes_lapse(rfq_id=rfq.id, actor=ACTOR) == []
    q.refresh_from_db()
    assert q.status == QuoteStatus.LIVE


def test_the_sweep_lapses_a_quote_whose_task_was_lost(trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    lost, firm = quote(rfq, "LPA", "100.10"), quote(rfq, "LPB", "100.20")
    _lapse(lost)

    assert services.rfqs_sweep() == 0  # no request closed: its window is still open

    lost.refresh_from_db()
    firm.refresh_from_db()
    rfq.refresh_from_db()
    assert (lost.status, firm.status, rfq.status) == (QuoteStatus.EXPIRED, QuoteStatus.LIVE, RfqStatus.QUOTING)


def test_no_provider_is_kept_below_the_usable_firm_time(db):
    from django.core.exceptions import ValidationError

    from rfq.demo import seed_liquidity_providers

    assert FIRM_QUOTE_MIN_MS == 10_000
    assert all(lp.quote_life_ms >= FIRM_QUOTE_MIN_MS for lp in seed_liquidity_providers())
    short = LiquidityProvider(code="FAST", name="Fades fast", quote_life_ms=FIRM_QUOTE_MIN_MS - 1)
    with pytest.raises(ValidationError) as exc:
        short.full_clean()
    assert "quote_life_ms" in exc.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_the_lapse_is_pushed_to_a_socket_held_open(settings, pm, portfolio, instrument, trader):
    import uuid

    settings.EMS_QUEUE = f"test-rfq-lapse-{uuid.uuid4().hex[:8]}"  # the tasks sent on commit reach no worker
    MarketClock(settings)
    provider("LPA", seed=1)
    provider("LPB", seed=2)
    parent = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)])
    rfq = rfq_for(parent, trader, window_s="60")
    best = quote(rfq, "LPA", "100.10")
    quote(rfq, "LPB", "100.20")

    async def body():
        socket = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/rfq/{rfq.id}/")
        socket.scope["user"] = trader
        connected, _ = await socket.connect()
        assert connected
        hello = await socket.receive_json_from(timeout=5)
        assert await socket.receive_nothing(timeout=1)  # held open, quiet
        await database_sync_to_async(_lapse)(best)
        await database_sync_to_async(services.quotes_lapse)(rfq_id=rfq.id, actor=ACTOR)
        pushed = await socket.receive_json_from(timeout=5)
        await socket.disconnect()
        return hello, pushed

    hello, pushed = async_to_sync(body)()

    assert [row["status"] for row in hello["rfq"]["ladder"]] == ["live", "live"]
    assert (pushed["type"], pushed["event"], pushed["status"]) == ("rfq.changed", "lapsed", "quoting")
    assert (pushed["quote"]["id"], pushed["quote"]["status"]) == (best.id, "expired")
