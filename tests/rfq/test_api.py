"""The RFQ API: create a request for a parent, read the ladder, click a quote, cancel, list with filters, and
the liquidity providers with their scorecards. Requests and quotes go through the real services
(``rfq.services``); the providers' simulated answers are submitted by the test (no worker runs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ems.models import Fill
from ems.states import ExecStatus
from oms.models import AuditEvent
from oms.roles import Actor
from rfq import services
from rfq.models import RFQ, LiquidityProvider, Quote
from rfq.states import QuoteStatus, RfqStatus
from tests.ems import factories as f
from tests.ems.live_helpers import working_parent
from tests.rfq.services_helpers import mid_price, provider, quote, rfq_for

pytestmark = [pytest.mark.django_db]

RFQS = "/api/rfqs/"


# --- create -----------------------------------------------------------------------------------------------


def test_create_answers_201_with_the_providers_asked_and_an_open_window(api, trader, pm_parent, providers):
    response = api(trader).post(RFQS, {"parent": pm_parent.id, "quantity": 4000, "window_s": "30"}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["parent"], body["instrument"], body["side"], body["quantity"]) == (pm_parent.id, "ACME", "buy", 4000)
    assert body["status"] == RfqStatus.SENT and body["direction"] == "two_way" and body["mode"] == "click"
    assert body["source"] == "api" and body["requested_by"] == trader.username
    assert sorted(p["provider"] for p in body["providers"]) == ["LPA", "LPB", "LPC"]
    assert [p["rank"] for p in body["providers"]] == [1, 2, 3] and all(p["reason"] for p in body["providers"])
    assert body["selection_reason"]
    assert body["window"]["open"] is True and 0 < body["window"]["seconds_left"] <= 30
    assert body["ladder"] == [] and body["execution"] is None
    pm_parent.refresh_from_db()
    assert pm_parent.reserved_quantity == 4000
    assert AuditEvent.objects.filter(event_type="rfq.created", object_id=str(body["id"])).exists()


def test_create_defaults_to_what_the_parent_has_available(api, trader, pm_parent, providers):
    response = api(trader).post(RFQS, {"parent": pm_parent.id}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["quantity"] == 10_000


# --- the ladder -------------------------------------------------------------------------------------------


def test_detail_ladder_is_best_first_with_the_best_flagged_and_bps_from_mid(api, trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    a = quote(rfq, "LPA", "100.30")
    b = quote(rfq, "LPB", "100.10")
    c = quote(rfq, "LPC", "100.20")

    body = api(trader).get(f"{RFQS}{rfq.id}/").json()

    assert body["status"] == RfqStatus.QUOTING
    assert [q["id"] for q in body["ladder"]] == [b.id, c.id, a.id]  # a buy: cheapest offer first
    assert [q["is_best"] for q in body["ladder"]] == [True, False, False]
    assert [q["provider"] for q in body["ladder"]] == ["LPB", "LPC", "LPA"]
    best = body["ladder"][0]
    assert Decimal(best["price"]) == Decimal("100.10") and best["size"] == 4000 and best["status"] == "live"
    expected_bps = (Decimal("100.10") - rfq.mid_at_request) / rfq.mid_at_request * 10_000
    assert abs(Decimal(best["bps_from_mid"]) - expected_bps) < Decimal("0.01")
    assert 0 < best["seconds_left"] <= 30
    assert {p["provider"]: p["response"] for p in body["providers"]} == {"LPA": "quoted", "LPB": "quoted", "LPC": "quoted"}


# --- accept -----------------------------------------------------------------------------------------------


def test_accept_books_the_fill_closes_the_rfq_and_expires_the_other_quotes(api, trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    other = quote(rfq, "LPA", "100.30")
    best = quote(rfq, "LPB", "100.10")

    response = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": best.id}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == RfqStatus.EXECUTED and body["executed_quote"] == best.id and body["executed_quantity"] == 4000
    execution = body["execution"]
    assert execution["quote"] == best.id and execution["provider"] == "LPB" and execution["quantity"] == 4000
    assert Decimal(execution["price"]) == Decimal("100.10") and execution["exec_id"] == f"RFQ{rfq.id}-Q{best.id}"
    fill = Fill.objects.get(exec_id=execution["exec_id"])
    assert (fill.liquidity, fill.quantity, fill.price, fill.parent_id) == ("rfq", 4000, Decimal("100.10"), pm_parent.id)
    assert {q["id"]: q["status"] for q in body["ladder"]} == {best.id: QuoteStatus.ACCEPTED, other.id: QuoteStatus.EXPIRED}
    pm_parent.refresh_from_db()
    assert pm_parent.filled_quantity == 4000 and pm_parent.reserved_quantity == 0
    assert pm_parent.status == ExecStatus.PARTIALLY_FILLED


def test_a_second_accept_is_409_already_executed_and_books_nothing_more(api, trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    first, second = quote(rfq, "LPA", "100.10"), quote(rfq, "LPB", "100.20")
    client = api(trader)
    assert client.post(f"{RFQS}{rfq.id}/accept/", {"quote_id": first.id}, format="json").status_code == 200

    again = client.post(f"{RFQS}{rfq.id}/accept/", {"quote_id": second.id}, format="json")

    assert again.status_code == 409 and again.json()["code"] == "rfq.already_executed"
    assert Fill.objects.filter(parent=pm_parent).count() == 1


def test_accepting_a_quote_of_another_rfq_is_404_quote_not_found(api, trader, pm_parent, providers, pm, portfolio, instrument):
    rfq = rfq_for(pm_parent, trader)
    other_parent = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=5000)])
    foreign = quote(rfq_for(other_parent, trader, quantity=1000), "LPA", "100.10")
    quote(rfq, "LPA", "100.10")

    response = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": foreign.id}, format="json")

    assert response.status_code == 404 and response.json()["code"] == "rfq.quote_not_found"
    assert not Fill.objects.exists()


def test_accept_after_the_window_is_409_window_closed(api, trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    q = quote(rfq, "LPA", "100.10")
    RFQ.objects.filter(pk=rfq.pk).update(window_ends_at=datetime.now(UTC) - timedelta(seconds=1))

    response = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "rfq.window_closed"
    assert not Fill.objects.exists()


def test_accepting_a_quote_past_its_life_is_409_quote_expired(api, trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    q = quote(rfq, "LPA", "100.10")
    Quote.objects.filter(pk=q.pk).update(valid_until=datetime.now(UTC) - timedelta(milliseconds=1))

    response = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "rfq.quote_expired"
    assert not Fill.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_last_look_rejection_is_409_and_stays_recorded(api, trader, pm, portfolio, instrument, settings, clock):
    settings.EMS_QUEUE = "test-rfq-api-nobody-listens"  # the tasks enqueued on commit reach no worker
    provider("LLREJ", last_look_reject_probability=Decimal("1"))
    parent = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)])
    rfq = rfq_for(parent, trader)
    q = quote(rfq, "LLREJ", "100.10")

    response = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id}, format="json")

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "rfq.last_look_rejected" and response.json()["rejected"] == [q.id]
    q.refresh_from_db()
    assert q.status == QuoteStatus.REJECTED  # committed: the 409 did not roll it back
    assert not Fill.objects.exists()
    detail = api(trader).get(f"{RFQS}{rfq.id}/").json()
    assert detail["ladder"][0]["status"] == QuoteStatus.REJECTED and detail["execution"] is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("threshold", [None, {"threshold_bps": Decimal("20")}])
def test_click_falls_through_after_last_look_only_within_the_traders_threshold(api, trader, pm, portfolio, instrument, settings,
                                                                                clock, threshold):
    """Without a threshold a rejected click executes nothing else: 409 naming the rejected quote and the next
    best, the request open for the trader's next click. With one, the next best within it is taken (200)."""
    settings.EMS_QUEUE = "test-rfq-api-nobody-listens"
    provider("LLREJ", last_look_reject_probability=Decimal("1"))
    provider("LLOK")
    parent = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=10_000)])
    rfq = rfq_for(parent, trader, **(threshold or {}))
    rejecting = quote(rfq, "LLREJ", mid_price(rfq, 2))
    worse = quote(rfq, "LLOK", mid_price(rfq, 11))  # 9 bps worse, inside the threshold of the second case

    response = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": rejecting.id}, format="json")

    body = response.json()
    if threshold is None:
        assert response.status_code == 409, body
        assert body["code"] == "rfq.last_look_rejected" and body["rejected"] == [rejecting.id] and body["next_best_quote_id"] == worse.id
        assert f"quote {rejecting.id}" in body["detail"] and f"LLOK's quote {worse.id}" in body["detail"]
        assert not Fill.objects.exists()
        detail = api(trader).get(f"{RFQS}{rfq.id}/").json()
        assert detail["status"] == RfqStatus.QUOTING and detail["execution"] is None
        assert {q["id"]: q["status"] for q in detail["ladder"]} == {rejecting.id: QuoteStatus.REJECTED, worse.id: QuoteStatus.LIVE}
        again = api(trader).post(f"{RFQS}{rfq.id}/accept/", {"quote_id": worse.id}, format="json")
        assert again.status_code == 200 and again.json()["status"] == RfqStatus.EXECUTED
    else:
        assert response.status_code == 200, body
        assert body["status"] == RfqStatus.EXECUTED and body["execution"]["quote"] == worse.id
    assert Fill.objects.get().price == worse.price


# --- cancel -----------------------------------------------------------------------------------------------


def test_cancel_closes_the_rfq_releases_the_reserve_and_a_second_cancel_is_409(api, trader, pm_parent, providers):
    rfq = rfq_for(pm_parent, trader)
    q = quote(rfq, "LPA", "100.10")
    client = api(trader)

    response = client.post(f"{RFQS}{rfq.id}/cancel/", {"reason": "changed my mind"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == RfqStatus.CANCELLED and response.json()["ladder"][0]["status"] == QuoteStatus.EXPIRED
    pm_parent.refresh_from_db()
    assert pm_parent.reserved_quantity == 0
    assert AuditEvent.objects.filter(event_type="rfq.cancelled", object_id=str(rfq.id)).exists()
    again = client.post(f"{RFQS}{rfq.id}/cancel/", format="json")
    assert again.status_code == 409 and again.json()["code"] == "rfq.not_open"
    late = client.post(f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id}, format="json")
    assert late.status_code == 409 and late.json()["code"] == "rfq.not_open"


# --- list ---------------------------------------------------------------------------------------------------


def test_list_filters_by_status_instrument_parent_and_creation_time(api, trader, pm, portfolio, instrument, other_instrument, clock, providers):
    acme = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=5000)])
    beta = working_parent(instrument=other_instrument, orders=[f.order(portfolio=portfolio, instrument=other_instrument, user=pm, quantity=5000)])
    a = rfq_for(acme, trader, quantity=1000)
    b = rfq_for(beta, trader, quantity=1000)
    services.rfq_cancel(rfq_id=a.id, actor=Actor.for_user(trader, "api"))
    client = api(trader)

    def ids(query: str) -> list[int]:
        response = client.get(f"{RFQS}?{query}")
        assert response.status_code == 200, response.json()
        return [r["id"] for r in response.json()["results"]]

    assert ids("") == [b.id, a.id]
    assert ids("instrument=beta") == [b.id]
    assert ids(f"parent={acme.id}") == [a.id]
    assert ids("status=cancelled") == [a.id]
    assert ids("status=cancelled&status=sent") == [b.id, a.id]
    assert ids("created_after=2000-01-01T00:00:00Z&created_before=2000-01-02T00:00:00Z") == []
    page = client.get(f"{RFQS}?page_size=1").json()
    assert page["count"] == 2 and len(page["results"]) == 1 and page["next"]


def test_list_queries_do_not_grow_with_rows(api, trader, pm, portfolio, instrument, clock, providers, django_assert_max_num_queries):
    client = api(trader)
    parent = working_parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=50_000)])
    rfq_for(parent, trader, quantity=1000)
    with django_assert_max_num_queries(4) as few:  # reference-data stamp (auth, role), count, page
        assert client.get(RFQS).json()["count"] == 1
    for _ in range(6):
        rfq_for(parent, trader, quantity=1000)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(RFQS).json()["count"] == 7


# --- liquidity providers -------------------------------------------------------------------------------------


def test_liquidity_providers_show_profiles_and_scorecards_from_history(api, trader, pm_parent, providers, instrument):
    LiquidityProvider.objects.get(code="LPC").instruments.add(instrument)
    rfq = rfq_for(pm_parent, trader)
    won = quote(rfq, "LPB", "100.10")
    quote(rfq, "LPA", "100.30")
    services.quote_accept(rfq_id=rfq.id, quote_id=won.id, actor=Actor.for_user(trader, "api"))

    body = api(trader).get("/api/liquidity-providers/").json()

    rows = {r["code"]: r for r in body["results"]}
    assert list(rows) == ["LPA", "LPB", "LPC"] and rows["LPC"]["instruments"] == ["ACME"] and rows["LPA"]["instruments"] == []
    assert Decimal(rows["LPA"]["last_look_reject_probability"]) == 0
    lpb, lpa, lpc = rows["LPB"]["scorecard"], rows["LPA"]["scorecard"], rows["LPC"]["scorecard"]
    assert (lpb["requests"], lpb["responses"], lpb["quotes_accepted"], lpb["hit_ratio"]) == (1, 1, 1, 1.0)
    assert (lpa["requests"], lpa["responses"], lpa["quotes_accepted"], lpa["hit_ratio"]) == (1, 1, 0, 0.0)
    assert (lpc["requests"], lpc["responses"], lpc["response_rate"], lpc["hit_ratio"]) == (1, 0, 0.0, None)
    assert lpb["mean_bps_from_mid"] < lpa["mean_bps_from_mid"]
    assert all(isinstance(card["score"], float) and card["score_reason"] for card in (lpa, lpb, lpc))


def test_liquidity_provider_list_queries_do_not_grow_with_providers(api, trader, providers, instrument, django_assert_max_num_queries):
    client = api(trader)
    client.get("/api/liquidity-providers/")  # loads the reference data (tokens, roles) once
    with django_assert_max_num_queries(8) as few:  # stamp, count, page, instruments, three scorecard aggregates
        assert client.get("/api/liquidity-providers/").json()["count"] == 3
    for k in range(5):
        provider(f"LPX{k}").instruments.add(instrument)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/liquidity-providers/").json()["count"] == 8
