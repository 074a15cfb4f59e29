"""Bad input on every RFQ endpoint gets a JSON 4xx with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

import json

import pytest

from ems.models import Fill
from ems.states import ExecStatus
from rfq.models import RFQ
from rfq.states import QuoteStatus, RfqStatus
from tests.rfq.services_helpers import quote, rfq_for

pytestmark = [pytest.mark.django_db]

RFQS = "/api/rfqs/"


@pytest.fixture
def quoted(pm_parent, providers, trader):
    """An open RFQ of 4,000 on the parent with one live quote."""
    rfq = rfq_for(pm_parent, trader)
    return rfq, quote(rfq, "LPA", "100.10")


def _nothing_created(parent):
    assert not RFQ.objects.exists()
    parent.refresh_from_db()
    assert parent.reserved_quantity == 0


def _unchanged(rfq, q):
    rfq.refresh_from_db()
    q.refresh_from_db()
    assert rfq.status == RfqStatus.QUOTING and q.status == QuoteStatus.LIVE
    assert not Fill.objects.exists()


# --- create --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({}, "parent"),
    ({"parent": "{parent}"}, "parent"),  # a string
    ({"parent": 1.0}, "parent"),
    ({"parent": True}, "parent"),
    ({"parent": None}, "parent"),
    ({"parent": [1]}, "parent"),
    ({"parent": -1}, "parent"),
    ({"parent": 10**19}, "parent"),
    ({"quantity": 1.5}, "quantity"),
    ({"quantity": 100.0}, "quantity"),
    ({"quantity": "100"}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": -100}, "quantity"),
    ({"quantity": 10**30}, "quantity"),
    ({"quantity": {"shares": 100}}, "quantity"),
    ({"direction": "up"}, "direction"),
    ({"direction": "bu\x00y"}, "direction"),
    ({"direction": False}, "direction"),
    ({"mode": 7}, "mode"),
    ({"mode": "AUTO"}, "mode"),
    ({"execute_at": "now"}, "execute_at"),
    ({"threshold_bps": "abc"}, "threshold_bps"),
    ({"threshold_bps": True}, "threshold_bps"),
    ({"threshold_bps": "NaN"}, "threshold_bps"),
    ({"threshold_bps": "Infinity"}, "threshold_bps"),
    ({"threshold_bps": "1.23456"}, "threshold_bps"),
    ({"threshold_price": "0"}, "threshold_price"),
    ({"threshold_price": "-5"}, "threshold_price"),
    ({"threshold_price": "1e400"}, "threshold_price"),
    ({"window_s": 0}, "window_s"),
    ({"window_s": "60.001"}, "window_s"),
    ({"window_s": "-1"}, "window_s"),
    ({"window_s": [5]}, "window_s"),
    ({"providers": 0}, "providers"),
    ({"providers": "3"}, "providers"),
    ({"providers": 2.5}, "providers"),
    ({"providers": 1000}, "providers"),
    ({"treshold_bps": "10"}, "treshold_bps"),  # misspelt: refused, not ignored
    ({"par\x00ent": 1}, "non_field_errors"),
    ({"direction": "\ud800"}, "direction"),
    ({"direction": "x" * 100_000}, "direction"),
])
def test_create_refuses_bad_bodies(trader_api, pm_parent, providers, body, field):
    body = {k: (str(pm_parent.id) if v == "{parent}" else v) for k, v in body.items()}
    if field not in ("parent", "non_field_errors"):
        body = {"parent": pm_parent.id, **body}

    response = trader_api.post(RFQS, data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400, (body, response.content[:300])
    assert response.json()["code"] == "validation_error" and response.json()["field"] == field
    _nothing_created(pm_parent)


@pytest.mark.parametrize("body", [[{"parent": 1}], "parent", None, 7, []])
def test_create_refuses_a_body_that_is_not_an_object(trader_api, pm_parent, body):
    response = trader_api.post(RFQS, data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400 and response.json()["field"] == "non_field_errors"
    _nothing_created(pm_parent)


def test_create_on_an_unknown_parent_is_404(trader_api, providers):
    response = trader_api.post(RFQS, {"parent": 999_999_999}, format="json")

    assert response.status_code == 404 and response.json()["code"] == "parent_order.not_found"
    assert response.json()["field"] == "parent" and not RFQ.objects.exists()


@pytest.mark.parametrize("body, status, code", [
    ({"direction": "sell"}, 400, "rfq.bad_direction"),  # the parent buys
    ({"mode": "auto"}, 400, "rfq.threshold_required"),
    ({"mode": "auto", "execute_at": "window_end", "threshold_bps": None}, 400, "rfq.threshold_required"),
    ({"quantity": 10_001}, 409, "rfq.quantity_unavailable"),
])
def test_create_refusals_of_the_service_keep_their_codes(trader_api, pm_parent, providers, body, status, code):
    response = trader_api.post(RFQS, {"parent": pm_parent.id, **body}, format="json")

    assert (response.status_code, response.json()["code"]) == (status, code), response.json()
    _nothing_created(pm_parent)


def test_a_second_rfq_cannot_take_what_the_first_holds(trader_api, pm_parent, providers):
    assert trader_api.post(RFQS, {"parent": pm_parent.id, "quantity": 8000}, format="json").status_code == 201

    response = trader_api.post(RFQS, {"parent": pm_parent.id, "quantity": 3000}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "rfq.quantity_unavailable"
    pm_parent.refresh_from_db()
    assert pm_parent.reserved_quantity == 8000 and RFQ.objects.count() == 1


@pytest.mark.parametrize("change", [{"status": ExecStatus.CANCELLED}, {"status": ExecStatus.FILLED}, {"control": "halted"}])
def test_create_on_a_parent_not_working_is_409(trader_api, pm_parent, providers, change):
    type(pm_parent).objects.filter(pk=pm_parent.pk).update(**change)

    response = trader_api.post(RFQS, {"parent": pm_parent.id, "quantity": 100}, format="json")

    assert response.status_code == 409 and response.json()["code"] == "rfq.parent_not_working"
    assert not RFQ.objects.exists()


# --- accept and cancel ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({}, "quote_id"),
    ({"quote_id": "{quote}"}, "quote_id"),  # the string form of the right id
    ({"quote_id": 1.0}, "quote_id"),
    ({"quote_id": True}, "quote_id"),
    ({"quote_id": None}, "quote_id"),
    ({"quote_id": [1]}, "quote_id"),
    ({"quote_id": {"id": 1}}, "quote_id"),
    ({"quote_id": 0}, "quote_id"),
    ({"quote_id": 10**19}, "quote_id"),
    ({"quote_id": "1\x00"}, "quote_id"),
    ({"quote_id": "{quote_id}", "price": "99"}, "price"),  # no price override
])
def test_accept_refuses_bad_bodies(trader_api, quoted, body, field):
    rfq, q = quoted
    body = {k: {"{quote}": str(q.id), "{quote_id}": q.id}.get(v, v) if isinstance(v, str) else v for k, v in body.items()}

    response = trader_api.post(f"{RFQS}{rfq.id}/accept/", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400, (body, response.content[:300])
    assert response.json()["code"] == "validation_error" and response.json()["field"] == field
    _unchanged(rfq, q)


@pytest.mark.parametrize("body", [[{"quote_id": 1}], "1", None, 1])
def test_accept_refuses_a_body_that_is_not_an_object(trader_api, quoted, body):
    rfq, q = quoted
    response = trader_api.post(f"{RFQS}{rfq.id}/accept/", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400 and response.json()["field"] == "non_field_errors"
    _unchanged(rfq, q)


def test_accepting_an_unknown_quote_is_404(trader_api, quoted):
    rfq, q = quoted
    response = trader_api.post(f"{RFQS}{rfq.id}/accept/", {"quote_id": q.id + 1000}, format="json")

    assert response.status_code == 404 and response.json()["code"] == "rfq.quote_not_found"
    _unchanged(rfq, q)


@pytest.mark.parametrize("body, field", [
    ({"reason": 5}, "reason"), ({"reason": "x" * 201}, "reason"), ({"reason": "a\x00b"}, "reason"),
    ({"reason": ["why"]}, "reason"), ({"why": "x"}, "why"),
])
def test_cancel_refuses_bad_bodies(trader_api, quoted, body, field):
    rfq, q = quoted
    response = trader_api.post(f"{RFQS}{rfq.id}/cancel/", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400 and response.json()["field"] == field, response.content[:300]
    _unchanged(rfq, q)


def test_malformed_deep_huge_and_non_json_bodies(trader_api, quoted, pm_parent):
    rfq, q = quoted
    cases = [
        (b"{not json", "application/json", 400, "parse_error"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "parse_error"),
        (b'{"a":' * 3000 + b"1" + b"}" * 3000, "application/json", 400, "parse_error"),
        (b"quote_id=1", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b"quote_id=1", "text/plain", 415, "unsupported_media_type"),
        (b'{"quote_id": 1, "x": "' + b"a" * (11 * 1024 * 1024) + b'"}', "application/json", 413, "request_too_large"),
        (b'{"quote_id": 1}\x00', "application/json", 400, "parse_error"),
    ]
    for path in (RFQS, f"{RFQS}{rfq.id}/accept/", f"{RFQS}{rfq.id}/cancel/"):
        for body, content_type, status, code in cases:
            response = trader_api.post(path, data=body, content_type=content_type)
            assert (response.status_code, response.json()["code"]) == (status, code), (path, body[:40], response.content[:200])
    _unchanged(rfq, q)
    assert RFQ.objects.count() == 1


@pytest.mark.parametrize("path", [
    f"{RFQS}abc/", f"{RFQS}-1/", f"{RFQS}{'9' * 30}/", f"{RFQS}999999999/", f"{RFQS}999999999/accept/",
    f"{RFQS}1.5/cancel/", f"{RFQS}%00/", f"{RFQS}999999999999999999/cancel/",
])
def test_wrong_ids_are_json_404s(trader_api, quoted, path):
    rfq, q = quoted
    if path.endswith(("accept/", "cancel/")):
        response = trader_api.post(path, {"quote_id": q.id}, format="json")
    else:
        response = trader_api.get(path)

    assert response.status_code == 404 and response.json()["code"] == "not_found", response.content[:200]
    _unchanged(rfq, q)


@pytest.mark.parametrize("query", [
    "status=BOGUS", "status=", "parent=abc", "parent=-1", "parent=1e99", "parent=" + "9" * 40, "created_after=yesterday",
    "created_before=", "instrument=%00", "mode=manual", "side=long", "direction=", "source=fix", "page=0", "page_size=501",
])
def test_bad_filters_are_400s(trader_api, query):
    response = trader_api.get(f"{RFQS}?{query}")

    assert response.status_code == 400, (query, response.content)
    assert response.json()["code"] == "validation_error"


# The one input rule of JSON bodies holds for query strings too (config.middleware.InputRulesMiddleware):
# invalid UTF-8, lone surrogates, escapes and bidi overrides are field errors, never stored or echoed raw.
HOSTILE_QUERY_VALUES = ["%ED%A0%80", "%FF", "A%C3", "%E2%80%AEdi", "%1B%5B31m", "%C2%85", "%EF%BB%BF"]


@pytest.mark.parametrize("param", ["instrument", "status"])
@pytest.mark.parametrize("value", HOSTILE_QUERY_VALUES)
def test_hostile_query_values_are_field_errors(trader_api, param, value):
    response = trader_api.get(f"{RFQS}?{param}={value}")
    assert response.status_code == 400, (param, value, response.content)
    body = response.json()
    assert body["code"] == "validation_error" and body["field"] == param
    assert body["errors"][param][0]["code"] == "invalid_characters"


def test_reads_refuse_other_methods(trader_api, quoted):
    rfq, q = quoted
    assert trader_api.post(f"{RFQS}{rfq.id}/", {}, format="json").status_code == 405
    assert trader_api.put(f"{RFQS}{rfq.id}/", {}, format="json").json()["code"] == "method_not_allowed"
    assert trader_api.delete(f"{RFQS}{rfq.id}/").status_code == 405
    assert trader_api.get(f"{RFQS}{rfq.id}/accept/").status_code == 405
    assert trader_api.post("/api/liquidity-providers/", {}, format="json").status_code == 405
    _unchanged(rfq, q)
