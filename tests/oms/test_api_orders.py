"""The REST contract of the OMS (DESIGN.md §7): orders, bulk, reference data, auth, errors, schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from oms.models import AuditEvent, Order
from oms.states import OrderStatus
from tests.factories import InstrumentFactory, RiskLimitFactory
from tests.oms.audit_helpers import event_types
from tests.oms.conftest import BULK_URL, ORDERS_URL, order_url

# --- POST /api/orders/ ----------------------------------------------------------------------------


def test_create_order_answers_201_with_the_stored_order(pm, portfolio, instrument, post_order, order_payload):
    payload = order_payload(quantity=1200, limit_price="100.50", side="sell", urgency="high", strategy="twap")

    response = post_order(pm, payload)

    assert response.status_code == 201
    body = response.json()
    order = Order.objects.get(pk=body["id"])
    assert body["client_order_id"] == payload["client_order_id"] == order.client_order_id
    assert body["source"] == "api:pm_a" == order.source
    assert (body["portfolio"], body["instrument"]) == (portfolio.code, instrument.symbol)
    assert (body["side"], body["quantity"], body["order_type"]) == ("sell", 1200, "limit")
    assert Decimal(body["limit_price"]) == Decimal("100.50") == order.limit_price
    assert (body["time_in_force"], body["urgency"], body["strategy"]) == ("day", "high", "twap")
    assert body["status"] == OrderStatus.ACCEPTED == order.status
    assert (body["filled_quantity"], body["avg_price"], body["parent"]) == (0, None, None)
    assert Decimal(body["notional"]) == Decimal("120600.00") == order.notional
    assert (body["deny_code"], body["deny_reason"]) == ("", "")
    assert body["created_at"] and body["updated_at"]
    assert order.created_by == pm


def test_create_order_fills_in_the_defaults(pm, post_order, order_payload):
    payload = order_payload(time_in_force=None, urgency=None, strategy=None)

    body = post_order(pm, payload).json()

    assert (body["time_in_force"], body["urgency"], body["strategy"]) == ("day", "medium", "auto")


def test_create_order_accepts_symbols_and_choices_in_any_case(pm, instrument, post_order, order_payload):
    response = post_order(pm, order_payload(instrument="acme", side="BUY", order_type="Limit"))

    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["id"])
    assert (order.instrument, order.side, order.order_type) == (instrument, "buy", "limit")


def test_create_order_stores_the_optional_schedule(pm, post_order, order_payload):
    payload = order_payload(start_time="2030-01-02T14:30:00Z", end_time="2030-01-02T16:00:00-04:00", max_participation="0.15")

    response = post_order(pm, payload)

    assert response.status_code == 201
    order = Order.objects.get(pk=response.json()["id"])
    assert order.start_time == datetime(2030, 1, 2, 14, 30, tzinfo=UTC)
    assert order.end_time == datetime(2030, 1, 2, 20, 0, tzinfo=UTC)
    assert order.max_participation == Decimal("0.15")


def test_date_time_without_an_offset_is_taken_as_utc(pm, api, order_payload):
    client = api(pm)
    client.raise_request_exception = False

    response = client.post(ORDERS_URL, order_payload(end_time="2030-01-02T20:00:00"), format="json")

    assert response.status_code == 201
    assert Order.objects.get(pk=response.json()["id"]).end_time == datetime(2030, 1, 2, 20, 0, tzinfo=UTC)


def test_market_order_takes_the_reference_price_for_its_notional(pm, post_order, order_payload):
    response = post_order(pm, order_payload(order_type="market", limit_price=None, quantity=300))

    assert response.status_code == 201
    assert response.json()["limit_price"] is None
    assert Decimal(response.json()["notional"]) == Decimal("30000.00")


# --- validation errors ----------------------------------------------------------------------------

INVALID = [
    ({"client_order_id": None}, "client_order_id", "required"),
    ({"client_order_id": "has spaces"}, "client_order_id", "invalid"),
    ({"client_order_id": "x" * 65}, "client_order_id", "invalid"),
    ({"portfolio": None}, "portfolio", "required"),
    ({"portfolio": "NO-SUCH-BOOK"}, "portfolio", "unknown"),
    ({"instrument": None}, "instrument", "required"),
    ({"instrument": "NOPE"}, "instrument", "unknown"),
    ({"side": None}, "side", "required"),
    ({"side": "hold"}, "side", "invalid"),
    ({"quantity": None}, "quantity", "required"),
    ({"quantity": 0}, "quantity", "invalid"),
    ({"quantity": -100}, "quantity", "invalid"),
    ({"quantity": "-100"}, "quantity", "invalid"),
    ({"quantity": 10.5}, "quantity", "invalid"),
    ({"quantity": 1000.0}, "quantity", "invalid"),
    ({"quantity": True}, "quantity", "invalid"),
    ({"quantity": "lots"}, "quantity", "invalid"),
    ({"order_type": None}, "order_type", "required"),
    ({"order_type": "stop"}, "order_type", "invalid"),
    ({"limit_price": None}, "limit_price", "required"),
    ({"limit_price": "0"}, "limit_price", "invalid"),
    ({"limit_price": "-1.00"}, "limit_price", "invalid"),
    ({"limit_price": "cheap"}, "limit_price", "invalid"),
    ({"limit_price": "NaN"}, "limit_price", "invalid"),
    ({"limit_price": True}, "limit_price", "invalid"),
    ({"limit_price": "100.505"}, "limit_price", "tick_size"),
    ({"order_type": "market"}, "limit_price", "not_allowed"),
    ({"time_in_force": "fok"}, "time_in_force", "invalid"),
    ({"urgency": "asap"}, "urgency", "invalid"),
    ({"strategy": "magic"}, "strategy", "invalid"),
    ({"colour": "red"}, "colour", "unknown_field"),
    ({"start_time": "tomorrow morning"}, "start_time", "invalid"),
    ({"end_time": 1700000000}, "end_time", "invalid"),
    ({"start_time": "2030-01-02T15:00:00Z", "end_time": "2030-01-02T14:00:00Z"}, "end_time", "before_start"),
    ({"start_time": "2030-01-02T15:00:00Z", "end_time": "2030-01-02T15:00:00Z"}, "end_time", "before_start"),
    ({"max_participation": "0"}, "max_participation", "invalid"),
    ({"max_participation": "1.5"}, "max_participation", "invalid"),
    ({"max_participation": "-0.1"}, "max_participation", "invalid"),
    ({"max_participation": "a lot"}, "max_participation", "invalid"),
]


@pytest.mark.parametrize(("overrides", "field", "code"), INVALID, ids=[f"{f}-{c}-{i}" for i, (_, f, c) in enumerate(INVALID)])
def test_invalid_order_is_refused_with_400_naming_the_field(overrides, field, code, pm, post_order, order_payload):
    payload = order_payload()
    payload.update(overrides)
    payload = {k: v for k, v in payload.items() if v is not None}

    response = post_order(pm, payload)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["field"] == field
    assert body["detail"]
    assert body["errors"][field][0]["code"] == code
    assert not Order.objects.exists()


def test_quantity_off_the_lot_size_is_refused(pm, post_order, order_payload):
    InstrumentFactory(symbol="LOTS", reference_price="10.00", lot_size=100)

    response = post_order(pm, order_payload(instrument="LOTS", quantity=150, limit_price="10.00"))

    assert response.status_code == 400
    assert response.json()["errors"]["quantity"][0]["code"] == "lot_size"


def test_quantity_on_the_lot_size_is_accepted(pm, post_order, order_payload):
    InstrumentFactory(symbol="LOTS", reference_price="10.00", lot_size=100)

    assert post_order(pm, order_payload(instrument="LOTS", quantity=300, limit_price="10.00")).status_code == 201


def test_inactive_instrument_is_unknown(pm, instrument, post_order, order_payload):
    instrument.is_active = False
    instrument.save()

    response = post_order(pm, order_payload())

    assert response.status_code == 400
    assert response.json()["errors"]["instrument"][0]["code"] == "unknown"


def test_every_invalid_field_is_reported_at_once(pm, post_order, order_payload):
    response = post_order(pm, order_payload(side="hold", quantity=0, urgency="asap"))

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"side", "quantity", "urgency"}


def test_body_that_is_not_an_object_is_refused(pm, post_order):
    response = post_order(pm, [1, 2, 3])

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["field"] == "non_field_errors"


def test_malformed_json_is_a_parse_error(pm, api):
    response = api(pm).post(ORDERS_URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


@pytest.mark.parametrize(
    "overrides",
    [
        {"quantity": "\u00b2"},  # str.isdigit() is true for superscript two, int() is not
        {"quantity": 10**19},  # beyond a PostgreSQL bigint
        {"limit_price": "1e30"},  # Decimal % tick size overflows the context precision
        {"limit_price": "1234567890123.00"},  # beyond numeric(18, 6)
    ],
    ids=["superscript-digit", "quantity-over-bigint", "price-1e30", "price-over-column"],
)
def test_out_of_range_numbers_are_a_validation_error_not_a_server_error(overrides, pm, api, order_payload):
    client = api(pm)
    client.raise_request_exception = False

    response = client.post(ORDERS_URL, order_payload(**overrides), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_user_with_the_longest_username_django_allows_can_submit(portfolio, api, order_payload):
    from tests.factories import UserFactory

    long_name = "pm_" + "x" * 147  # auth.User.username allows 150 characters; the source is "api:" + username
    user = UserFactory(username=long_name, role="pm")
    portfolio.members.add(user)
    client = api(user)
    client.raise_request_exception = False

    response = client.post(ORDERS_URL, order_payload(), format="json")

    assert response.status_code == 201
    assert Order.objects.get().created_by == user


def test_another_pms_portfolio_is_403_not_granted(pm, other_portfolio, post_order, order_payload):
    response = post_order(pm, order_payload(portfolio=other_portfolio.code))

    assert response.status_code == 403
    assert response.json()["code"] == "permission.portfolio_not_granted"
    assert response.json()["field"] == "portfolio"
    assert not Order.objects.exists()


# --- GET /api/orders/ -----------------------------------------------------------------------------


@pytest.fixture
def desk_orders(pm, trader, portfolio, other_portfolio, instrument, other_instrument, order_payload, submit_many):
    """Four orders on two books: accepted buy ACME, denied sell ACME, cancelled buy BETA, other book sell BETA."""
    RiskLimitFactory(portfolio=portfolio, max_order_quantity=5000)
    mine = submit_many(pm, [
        order_payload(client_order_id="A-BUY", quantity=100),
        order_payload(client_order_id="A-DENIED", side="sell", quantity=9000),
        order_payload(client_order_id="B-CXL", instrument=other_instrument.symbol, limit_price="50.00"),
    ])
    theirs = submit_many(trader, [order_payload(
        client_order_id="OTHER", portfolio=other_portfolio.code, side="sell", instrument="BETA", limit_price="50.00",
    )])
    Order.objects.filter(pk=mine[2].pk).update(status=OrderStatus.CANCELLED)
    return {o.client_order_id: o for o in mine + theirs}


def _coids(response) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["client_order_id"] for row in response.json()["results"]}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=ACCEPTED", {"A-BUY", "OTHER"}),
        ("status=DENIED", {"A-DENIED"}),
        ("status=DENIED&status=CANCELLED", {"A-DENIED", "B-CXL"}),
        ("instrument=beta", {"B-CXL", "OTHER"}),
        ("portfolio=PM-B-MACRO", {"OTHER"}),
        ("side=sell", {"A-DENIED", "OTHER"}),
        ("side=sell&portfolio=PM-A-GROWTH", {"A-DENIED"}),
    ],
)
def test_order_list_filters(query, expected, desk_orders, trader, api):
    assert _coids(api(trader).get(f"{ORDERS_URL}?{query}")) == expected


def test_order_list_filters_by_creation_time(desk_orders, trader, api):
    old = desk_orders["A-BUY"]
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=2))
    cut = (timezone.now() - timedelta(days=1)).isoformat()

    before = api(trader).get(ORDERS_URL, {"created_before": cut})
    after = api(trader).get(ORDERS_URL, {"created_after": cut})

    assert _coids(before) == {"A-BUY"}
    assert _coids(after) == {"A-DENIED", "B-CXL", "OTHER"}


def test_order_list_rejects_an_unknown_status_filter(desk_orders, trader, api):
    response = api(trader).get(ORDERS_URL, {"status": "LOST"})

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert response.json()["field"] == "status"


def test_order_list_is_paginated_newest_first(desk_orders, trader, api):
    first = api(trader).get(ORDERS_URL, {"page_size": 3}).json()
    second = api(trader).get(first["next"]).json()

    assert first["count"] == 4
    assert first["previous"] is None and first["next"]
    assert [r["client_order_id"] for r in first["results"]] == ["OTHER", "B-CXL", "A-DENIED"]
    assert [r["client_order_id"] for r in second["results"]] == ["A-BUY"]
    assert second["next"] is None and second["previous"]


def test_order_list_does_one_query_per_page_not_per_order(pm, order_payload, api, submit_many, django_assert_max_num_queries):
    client = api(pm)
    submit_many(pm, [order_payload() for _ in range(3)])
    with CaptureQueriesContext(connection) as few:
        assert client.get(ORDERS_URL).json()["count"] == 3
    submit_many(pm, [order_payload() for _ in range(40)])

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(ORDERS_URL)

    assert response.json()["count"] == 43


# --- GET /api/orders/{id}/ ------------------------------------------------------------------------


def test_order_detail_has_progress_parent_fills_allocations_and_events(pm, post_order, order_payload, api):
    order_id = post_order(pm, order_payload()).json()["id"]

    body = api(pm).get(order_url(order_id)).json()

    assert body["id"] == order_id
    assert (body["filled_quantity"], body["avg_price"], body["parent"]) == (0, None, None)
    assert body["fills"] == [] and body["allocations"] == []
    assert [e["event_type"] for e in body["events"]] == ["order.received", "order.accepted"]
    assert {e["object_id"] for e in body["events"]} == {str(order_id)}
    assert body["events"][0]["id"] < body["events"][1]["id"]


def test_order_detail_of_a_missing_order_is_404(pm, api):
    response = api(pm).get(order_url(999999))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- POST /api/orders/{id}/cancel/ ----------------------------------------------------------------


def test_cancel_moves_an_open_order_to_cancelled_with_an_audit_event(pm, post_order, cancel_order, order_payload):
    order_id = post_order(pm, order_payload()).json()["id"]

    response = cancel_order(pm, order_id)

    assert response.status_code == 200
    assert response.json()["status"] == OrderStatus.CANCELLED
    assert Order.objects.get(pk=order_id).status == OrderStatus.CANCELLED
    assert event_types("order", order_id) == ["order.received", "order.accepted", "order.cancelled"]
    event = AuditEvent.objects.get(object_id=str(order_id), event_type="order.cancelled")
    assert (event.before, event.after, event.actor) == ({"status": "ACCEPTED"}, {"status": "CANCELLED"}, "pm_a")


def test_cancel_twice_is_409_not_cancellable(pm, post_order, cancel_order, order_payload):
    order_id = post_order(pm, order_payload()).json()["id"]
    cancel_order(pm, order_id)

    response = cancel_order(pm, order_id)

    assert response.status_code == 409
    assert response.json()["code"] == "order.not_cancellable"
    assert event_types("order", order_id).count("order.cancelled") == 1


@pytest.mark.parametrize("status", [OrderStatus.FILLED, OrderStatus.DENIED, OrderStatus.EXPIRED, OrderStatus.REJECTED])
def test_order_cancel_after_it_ended_is_rejected(status, pm, post_order, cancel_order, order_payload):
    order_id = post_order(pm, order_payload()).json()["id"]
    filled = 1000 if status == OrderStatus.FILLED else 0
    Order.objects.filter(pk=order_id).update(status=status, filled_quantity=filled)

    response = cancel_order(pm, order_id)

    assert response.status_code == 409
    assert response.json()["code"] == "order.not_cancellable"
    assert Order.objects.get(pk=order_id).status == status


def test_cancel_of_a_pending_cancel_order_is_rejected(pm, post_order, cancel_order, order_payload):
    order_id = post_order(pm, order_payload()).json()["id"]
    Order.objects.filter(pk=order_id).update(status=OrderStatus.PENDING_CANCEL)

    assert cancel_order(pm, order_id).json()["code"] == "order.not_cancellable"


def test_cancel_of_a_partly_filled_order_keeps_its_fills(pm, post_order, cancel_order, order_payload):
    order_id = post_order(pm, order_payload()).json()["id"]
    Order.objects.filter(pk=order_id).update(status=OrderStatus.PARTIALLY_FILLED, filled_quantity=250)

    response = cancel_order(pm, order_id)

    assert (response.json()["status"], response.json()["filled_quantity"]) == (OrderStatus.CANCELLED, 250)


# --- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [("get", ORDERS_URL), ("post", ORDERS_URL), ("get", "/api/instruments/")])
def test_unauthenticated_request_is_401(method, url, db):
    response = getattr(APIClient(), method)(url, {}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "auth.not_authenticated"
    assert response.json()["detail"]


def test_bad_token_is_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")

    response = client.get(ORDERS_URL)

    assert response.status_code == 401
    assert response.json()["code"] == "auth.failed"


def test_token_endpoint_gives_a_working_token(pm, portfolio):
    response = APIClient().post("/api/auth/token/", {"username": "pm_a", "password": "secret-pass-1"}, format="json")

    assert response.status_code == 200
    token = response.json()["token"]
    assert token == Token.objects.get(user=pm).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/portfolios/").json()["results"][0]["code"] == portfolio.code


@pytest.mark.parametrize("password", ["wrong-password", "SECRET-PASS-1"])
def test_token_endpoint_refuses_bad_credentials(password, pm):
    response = APIClient().post("/api/auth/token/", {"username": "pm_a", "password": password}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "auth.invalid_credentials"
    assert not Token.objects.filter(user=pm).exists()


def test_token_endpoint_refuses_an_inactive_user(pm):
    pm.is_active = False
    pm.save()

    response = APIClient().post("/api/auth/token/", {"username": "pm_a", "password": "secret-pass-1"}, format="json")

    assert response.json()["code"] == "auth.invalid_credentials"


def test_token_endpoint_names_the_missing_field(db):
    response = APIClient().post("/api/auth/token/", {"username": "pm_a"}, format="json")

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", "password")


# --- every error carries code and detail ----------------------------------------------------------


def test_every_error_body_has_code_and_detail(pm, other_portfolio, post_order, cancel_order, order_payload, api, set_limits):
    set_limits(max_order_quantity=10)
    cancelled = post_order(pm, order_payload(quantity=5)).json()["id"]
    cancel_order(pm, cancelled)
    client = api(pm)

    errors = [
        APIClient().get(ORDERS_URL),  # 401
        post_order(pm, order_payload(quantity=0)),  # 400
        post_order(pm, order_payload(portfolio=other_portfolio.code)),  # 403
        client.get(order_url(424242)),  # 404
        client.get(BULK_URL),  # 405
        cancel_order(pm, cancelled),  # 409
        post_order(pm, order_payload(quantity=11)),  # 422
        client.post(ORDERS_URL, "{", content_type="application/json"),  # 400 parse error
        client.post(ORDERS_URL, "x=1", content_type="text/plain"),  # 415
    ]

    assert [r.status_code for r in errors] == [401, 400, 403, 404, 405, 409, 422, 400, 415]
    for r in errors:
        body = r.json()
        assert isinstance(body["code"], str) and body["code"], body
        assert isinstance(body["detail"], str) and body["detail"], body


# --- reference data -------------------------------------------------------------------------------


def test_instruments_list_the_active_ones_with_their_reference_figures(pm, instrument, other_instrument, api):
    InstrumentFactory(symbol="GONE", is_active=False)

    body = api(pm).get("/api/instruments/").json()

    rows = {r["symbol"]: r for r in body["results"]}
    assert set(rows) == {"ACME", "BETA"}
    acme = rows["ACME"]
    assert Decimal(acme["reference_price"]) == Decimal("100.00")
    assert (acme["adv"], acme["lot_size"], Decimal(acme["tick_size"])) == (10_000_000, 1, Decimal("0.01"))
    assert acme["name"]


def test_instrument_detail_by_symbol(pm, instrument, api):
    assert api(pm).get("/api/instruments/ACME/").json()["symbol"] == "ACME"


@pytest.mark.parametrize(
    ("user_fixture", "expected"),
    [
        ("pm", {"PM-A-GROWTH"}),
        ("other_pm", {"PM-B-MACRO"}),
        ("api_client_user", {"BRIDGE-BOOK"}),
        ("trader", {"PM-A-GROWTH", "PM-B-MACRO", "BRIDGE-BOOK"}),
    ],
)
def test_portfolios_list_only_what_the_user_may_trade(user_fixture, expected, request, portfolio, other_portfolio, client_portfolio, api):
    user = request.getfixturevalue(user_fixture)

    body = api(user).get("/api/portfolios/").json()

    assert {r["code"] for r in body["results"]} == expected


# --- POST /api/orders/bulk/ -----------------------------------------------------------------------


def test_bulk_answers_207_with_one_result_per_item(pm, set_limits, post_bulk, order_payload):
    set_limits(max_order_quantity=5000)
    items = [
        order_payload(client_order_id="OK-1"),
        order_payload(client_order_id="BAD-QTY", quantity=0),
        order_payload(client_order_id="TOO-BIG", quantity=6000),
        order_payload(client_order_id="OK-1", quantity=7),  # same id, different content
        order_payload(client_order_id="OK-1"),  # same id, same content
        "not an order",
    ]

    response = post_bulk(pm, items)

    assert response.status_code == 207
    ok, bad, big, clash, same, junk = response.json()["results"]
    assert [r["index"] for r in response.json()["results"]] == [0, 1, 2, 3, 4, 5]
    assert (ok["status"], ok["order_status"], ok["client_order_id"]) == (201, OrderStatus.ACCEPTED, "OK-1")
    assert (bad["status"], bad["code"], bad["field"], bad["id"]) == (400, "validation_error", "quantity", None)
    assert bad["client_order_id"] == "BAD-QTY"
    assert (big["status"], big["code"], big["order_status"]) == (422, "risk.max_quantity", OrderStatus.DENIED)
    # A client_order_id used again in the same bulk is answered as a resend of the order its first use made.
    assert (clash["status"], clash["code"], clash["id"]) == (409, "order.duplicate_client_order_id", ok["id"])
    assert (same["status"], same["id"]) == (200, ok["id"])
    assert (junk["status"], junk["code"], junk["client_order_id"]) == (400, "validation_error", None)
    for row in (bad, big, clash, junk):
        assert row["detail"]
    assert dict(Order.objects.values_list("client_order_id", "status")) == {"OK-1": "ACCEPTED", "TOO-BIG": "DENIED"}


def test_bulk_answers_a_denied_order_sent_twice_with_its_denial_both_times(pm, set_limits, post_bulk, order_payload):
    set_limits(max_order_quantity=5000)
    big = order_payload(client_order_id="BIG-TWICE", quantity=6000)

    first, again = post_bulk(pm, [big, big]).json()["results"]

    assert (first["status"], first["code"], again["status"], again["code"]) == (422, "risk.max_quantity", 422, "risk.max_quantity")
    assert first["id"] == again["id"] == Order.objects.get().id


def test_bulk_accepts_an_object_with_an_orders_list(pm, post_bulk, order_payload):
    response = post_bulk(pm, {"orders": [order_payload(), order_payload(side="sell")]})

    assert response.status_code == 207
    assert [r["status"] for r in response.json()["results"]] == [201, 201]
    assert Order.objects.count() == 2


@pytest.mark.parametrize("body", [[], {"orders": []}, {"orders": "x"}, {"order": []}], ids=["empty", "empty-orders", "not-a-list", "wrong-key"])
def test_bulk_without_a_list_of_orders_is_400(body, pm, post_bulk):
    response = post_bulk(pm, body)

    assert response.status_code == 400
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", "orders")


def test_bulk_items_for_a_portfolio_not_granted_are_403_items(pm, other_portfolio, post_bulk, order_payload):
    response = post_bulk(pm, [order_payload(), order_payload(portfolio=other_portfolio.code)])

    ok, refused = response.json()["results"]
    assert ok["status"] == 201
    assert (refused["status"], refused["code"]) == (403, "permission.portfolio_not_granted")


def test_bulk_over_20_orders_writes_every_order_with_its_audit_pair(pm, post_bulk, order_payload):
    response = post_bulk(pm, [order_payload(quantity=100 + i) for i in range(25)])

    assert [r["status"] for r in response.json()["results"]] == [201] * 25
    assert Order.objects.filter(status=OrderStatus.ACCEPTED).count() == 25
    assert AuditEvent.objects.filter(event_type="order.received").count() == 25
    assert AuditEvent.objects.filter(event_type="order.accepted").count() == 25


# --- OpenAPI --------------------------------------------------------------------------------------


def test_openapi_schema_is_served_and_documents_the_order_paths(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    schema = response.json()
    for path in ("/api/orders/", "/api/orders/bulk/", "/api/orders/{id}/cancel/", "/api/auth/token/", "/api/audit/verify/"):
        assert path in schema["paths"], path


def test_swagger_ui_is_served(db):
    response = APIClient().get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
