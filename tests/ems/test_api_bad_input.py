"""Bad input on every EMS endpoint gets a JSON 4xx with a stable code, never a 500, and changes nothing."""

from __future__ import annotations

import json

import pytest

from tests.ems import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PARENTS = "/api/parent-orders/"


@pytest.fixture
def parent_with_child(pm, portfolio, instrument):
    """A parent row over one order of pm_a's with one child at a venue, as the factories write them."""
    p = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)])
    f.child(parent=p)
    return p


def _unchanged(parent):
    parent.refresh_from_db()
    assert (parent.control, parent.status, parent.strategy) == ("running", "ACCEPTED", "vwap")


@pytest.mark.parametrize("body, field", [
    ({}, "strategy"),
    ({"strategy": "tw\x00ap"}, "strategy"),
    ({"strategy": 7}, "strategy"),
    ({"strategy": ["twap"]}, "strategy"),
    ({"strategy": {"name": "twap"}}, "strategy"),
    ({"strategy": "rfq"}, "strategy"),  # not a switch target
    ({"strategy": "x" * 100_000}, "strategy"),
    ({"strategy": "twap", "urgency": "frantic"}, "urgency"),
    ({"strategy": "twap", "urgency": True}, "urgency"),
    ({"strategy": "\ud800"}, "strategy"),
    ([{"strategy": "twap"}], "non_field_errors"),
    ("twap", "non_field_errors"),
    (None, "non_field_errors"),
])
def test_strategy_change_refuses_bad_bodies(trader_api, parent_with_child, body, field):
    response = trader_api.post(f"{PARENTS}{parent_with_child.id}/strategy/", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error" and response.json()["field"] == field
    _unchanged(parent_with_child)


@pytest.mark.parametrize("body, field", [
    ({}, "scope"),
    ({"scope": "everything"}, "scope"),
    ({"scope": "al\x00l"}, "scope"),
    ({"scope": 1}, "scope"),
    ({"scope": "portfolio"}, "portfolio"),
    ({"scope": "portfolio", "portfolio": "PM\x00A"}, "portfolio"),
    ({"scope": "portfolio", "portfolio": ["PM-A-GROWTH"]}, "portfolio"),
    ({"scope": "instrument", "instrument": "A" * 5000}, "instrument"),
    ({"scope": "instrument", "instrument": {"symbol": "ACME"}}, "instrument"),
    ({"scope": "all", "instrument": "ACME"}, "instrument"),
    ([], "non_field_errors"),
])
def test_kill_switch_refuses_bad_bodies(trader_api, parent_with_child, body, field):
    response = trader_api.post("/api/kill-switch/", data=json.dumps(body), content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error" and response.json()["field"] == field
    _unchanged(parent_with_child)


def test_malformed_deep_huge_and_non_json_bodies(trader_api, parent_with_child):
    cases = [
        (b"{not json", "application/json", 400, "parse_error"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "parse_error"),
        (b'{"scope": "all"}', "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"scope": "' + b"a" * (11 * 1024 * 1024) + b'"}', "application/json", 413, "request_too_large"),
    ]
    for body, content_type, status, code in cases:
        response = trader_api.post("/api/kill-switch/", data=body, content_type=content_type)
        assert (response.status_code, response.json()["code"]) == (status, code), (body[:40], response.content[:200])
    _unchanged(parent_with_child)


@pytest.mark.parametrize("path", [
    f"{PARENTS}abc/", f"{PARENTS}-1/", f"{PARENTS}{'9' * 30}/", f"{PARENTS}999999999/", f"{PARENTS}999999999/pause/",
    f"{PARENTS}1.5/resume/", f"{PARENTS}%00/", f"{PARENTS}999999999999999999/cancel/",
])
def test_wrong_ids_are_json_404s(trader_api, parent_with_child, path):
    response = trader_api.post(path, format="json") if path.endswith(("pause/", "resume/", "cancel/")) else trader_api.get(path)
    assert response.status_code == 404 and response.json()["code"] in ("not_found", "parent_order.not_found")


@pytest.mark.parametrize("query", [
    "status=BOGUS", "status=", "control=stopped", "strategy=auto", "side=long", "instrument=%00",
    "page=0", "page_size=501", "page=abc",
])
def test_bad_parent_filters_are_400s(trader_api, parent_with_child, query):
    response = trader_api.get(f"{PARENTS}?{query}")
    assert response.status_code == 400, (query, response.content)
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("query", [
    "parent=abc", "parent=1e99", "parent=-1", "parent=" + "9" * 40, "order=1.5", "liquidity=dark", "executed_after=yesterday",
    "executed_before=", "venue=%00", "side=",
])
def test_bad_fill_filters_are_400s(trader_api, parent_with_child, query):
    response = trader_api.get(f"/api/fills/?{query}")
    assert response.status_code == 400, (query, response.content)
    assert response.json()["code"] == "validation_error"


# The one input rule of JSON bodies holds for query strings too (config.middleware.InputRulesMiddleware):
# invalid UTF-8, lone surrogates, escapes and bidi overrides are field errors, never stored or echoed raw.
HOSTILE_QUERY_VALUES = ["%ED%A0%80", "%FF", "A%C3", "%E2%80%AEdi", "%1B%5B31m", "%C2%85", "%EF%BB%BF"]


@pytest.mark.parametrize("path, param", [(PARENTS, "instrument"), ("/api/fills/", "venue"), ("/api/positions/", "portfolio")])
@pytest.mark.parametrize("value", HOSTILE_QUERY_VALUES)
def test_hostile_query_values_are_field_errors(trader_api, parent_with_child, path, param, value):
    response = trader_api.get(f"{path}?{param}={value}")
    assert response.status_code == 400, (path, value, response.content)
    body = response.json()
    assert body["code"] == "validation_error" and body["field"] == param
    assert body["errors"][param][0]["code"] == "invalid_characters"


@pytest.mark.parametrize("query", ["portfolio=%00", "instrument=A%00", "page_size=0"])
def test_bad_position_filters_are_400s(trader_api, query):
    response = trader_api.get(f"/api/positions/?{query}")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"


def test_reads_refuse_writes(trader_api, parent_with_child):
    for path in (f"{PARENTS}{parent_with_child.id}/", "/api/fills/", "/api/positions/"):
        response = trader_api.post(path, {}, format="json")
        assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    assert trader_api.get("/api/kill-switch/lift/").status_code == 405
    assert trader_api.get("/api/kill-switch/").json() == {"engaged": []}  # the engaged kill switches
