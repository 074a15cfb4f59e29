"""No input answers a 500 or an HTML page on /api/: each is a JSON 4xx with a stable `code`, and nothing is
stored (issue 6, point 2). The database being down is a JSON 503 with Retry-After (point 3)."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest
from django.db import connection
from django.http import HttpResponse
from django.urls import path
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from config.middleware import MAX_JSON_DEPTH, RETRY_AFTER_S
from config.urls import handler400, handler403, handler404, handler500  # noqa: F401
from config.urls import urlpatterns as site_urlpatterns
from oms.models import AuditEvent, Order
from tests.oms.conftest import BULK_URL, ORDERS_URL, order_url
from tests.servers import database_url, free_port, run_server, wait_for

NUL, LONE_SURROGATE = "\x00", "\ud800"


@pytest.fixture
def nothing_stored(db):
    """Assert, after the test's request, that no order and no audit event was written."""
    before = (Order.objects.count(), AuditEvent.objects.count())
    yield
    assert (Order.objects.count(), AuditEvent.objects.count()) == before


def raw_post(client, url: str, payload) -> object:
    # json.dumps escapes a lone surrogate as "\ud800", exactly as a client's JSON library would send it.
    return client.post(url, json.dumps(payload), content_type="application/json")


def assert_json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


def assert_field_error(response, field: str, code: str) -> dict:
    body = assert_json_error(response, 400, "validation_error")
    assert code in [p["code"] for p in body["errors"][field]], body
    return body


# --- strings with NUL, control characters or lone surrogates --------------------------------------


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE, "\x1f", "\n", "\x1b", "\x85", "\u202e", "\u2066", "\u2069", "\u200e", "\u200f", "\ufeff"],
                         ids=["nul", "lone_surrogate", "unit_separator", "newline", "escape", "c1_nel", "rlo", "lri", "pdi", "lrm", "rlm", "bom"])
def test_client_order_id_with_invalid_characters_is_a_field_error(bad, pm, api, order_payload, nothing_stored):
    response = raw_post(api(pm), ORDERS_URL, order_payload(client_order_id=f"ABC{bad}1"))

    body = assert_field_error(response, "client_order_id", "invalid_characters")
    assert body["field"] == "client_order_id"


@pytest.mark.parametrize("field", ["portfolio", "instrument", "side", "order_type", "limit_price", "time_in_force",
                                   "urgency", "strategy", "start_time", "end_time", "max_participation", "quantity"])
@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone_surrogate"])
def test_every_order_field_refuses_invalid_characters(field, bad, pm, api, order_payload, nothing_stored):
    response = raw_post(api(pm), ORDERS_URL, order_payload(**{field: f"x{bad}"}))

    assert_field_error(response, field, "invalid_characters")


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone_surrogate"])
def test_a_field_name_with_invalid_characters_is_refused_and_echoed_escaped(bad, pm, api, order_payload, nothing_stored):
    response = raw_post(api(pm), ORDERS_URL, {**order_payload(), f"note{bad}": "x"})

    body = assert_json_error(response, 400, "validation_error")
    (name,) = body["errors"]
    assert name.startswith("note\\") and body["errors"][name][0]["code"] == "invalid_characters"


@pytest.mark.parametrize("bad", [NUL, LONE_SURROGATE], ids=["nul", "lone_surrogate"])
def test_bulk_of_5000_with_one_bad_client_order_id_refuses_that_item_alone(bad, pm, api, order_payload):
    items = [order_payload(client_order_id=f"BULK-{i}", quantity=100) for i in range(5000)]
    items[1234]["client_order_id"] = f"BULK{bad}1234"
    orders_before = Order.objects.count()

    response = raw_post(api(pm), BULK_URL, items)

    assert response.status_code == 207
    results = response.json()["results"]
    assert len(results) == 5000
    bad_row = results[1234]
    assert (bad_row["status"], bad_row["code"], bad_row["id"], bad_row["client_order_id"]) == (400, "validation_error", None, None)
    assert bad_row["errors"]["client_order_id"][0]["code"] == "invalid_characters"
    assert all(r["status"] == 201 for i, r in enumerate(results) if i != 1234)
    assert Order.objects.count() == orders_before + 4999


@pytest.fixture
def pm_browser(client, pm):
    """A browser client signed in as the PM (signing in writes its own audit event, before the count)."""
    client.force_login(pm)
    return client


def test_ticket_with_a_nul_in_the_client_order_id_shows_the_error_and_stores_nothing(pm_browser, portfolio, instrument, nothing_stored):
    response = pm_browser.post("/orders/ticket/", {
        "client_order_id": f"WEB-1{NUL}", "portfolio": portfolio.code, "instrument": instrument.symbol, "side": "buy",
        "quantity": "100", "order_type": "limit", "limit_price": "100.50", "time_in_force": "day", "urgency": "medium",
        "strategy": "auto",
    })

    assert response.status_code == 400
    assert "invalid_characters" in response.content.decode() or "control characters" in response.content.decode()


def test_ticket_with_a_nul_in_the_instrument_shows_the_field_error(pm_browser, portfolio, nothing_stored):
    response = pm_browser.post("/orders/ticket/", {
        "client_order_id": "WEB-2", "portfolio": portfolio.code, "instrument": f"AC{NUL}ME", "side": "buy",
        "quantity": "100", "order_type": "market",
    })

    assert response.status_code == 400
    assert "control characters" in response.content.decode()


# --- wrong types ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("quantity", "code"), [
    ("abc", "invalid"), (1.5, "invalid"), (True, "invalid"), (10**30, "max_value"), (-5, "invalid"), ([100], "invalid"),
    ({"n": 1}, "invalid"), (0, "invalid"),
])
def test_quantity_of_the_wrong_type_or_range_is_a_field_error(quantity, code, pm, api, order_payload, nothing_stored):
    response = raw_post(api(pm), ORDERS_URL, order_payload(quantity=quantity))

    assert_field_error(response, "quantity", code)


@pytest.mark.parametrize("limit_price", ["abc", True, [1], "1e400", "NaN", 10**30])
def test_limit_price_of_the_wrong_type_is_a_field_error(limit_price, pm, api, order_payload, nothing_stored):
    response = raw_post(api(pm), ORDERS_URL, order_payload(limit_price=limit_price))

    assert_json_error(response, 400, "validation_error")


def test_an_integer_too_long_to_parse_is_a_parse_error(pm, api, nothing_stored):
    body = '{"quantity": ' + "9" * 5000 + "}"

    response = api(pm).post(ORDERS_URL, body, content_type="application/json")

    assert_json_error(response, 400, "parse_error")


# --- routes that match only valid ids ---------------------------------------------------------------


@pytest.mark.parametrize("key", ["abc", "true", "null", "-1", "1.5", "99999999999999999999999"])
def test_cancel_with_a_malformed_order_id_is_a_json_404(key, pm, api, nothing_stored):
    assert_json_error(api(pm).post(f"{ORDERS_URL}{key}/cancel/"), 404, "not_found")
    assert_json_error(api(pm).get(f"{ORDERS_URL}{key}/"), 404, "not_found")


def test_an_order_id_beyond_bigint_is_a_json_404(pm, api, nothing_stored):
    assert_json_error(api(pm).post(order_url(999_999_999_999_999_999, "cancel")), 404, "not_found")


@pytest.mark.parametrize("symbol", ["%00", "%0A", "A%20B", "%ED%A0%80", "X" * 40])
def test_instrument_lookup_with_a_malformed_symbol_is_a_json_404(symbol, pm, api):
    assert_json_error(api(pm).get(f"/api/instruments/{symbol}/"), 404, "not_found")


def test_portfolio_lookup_with_a_nul_is_a_json_404(pm, api):
    assert_json_error(api(pm).get("/api/portfolios/%00/"), 404, "not_found")


# --- query parameters -----------------------------------------------------------------------------


@pytest.mark.parametrize("param", ["instrument", "portfolio", "client_order_id", "side", "status", "created_after", "page"])
def test_a_query_parameter_with_a_nul_is_a_field_error(param, pm, api):
    response = api(pm).get(f"{ORDERS_URL}?{param}=A%00B")

    body = assert_field_error(response, param, "invalid_characters")
    assert body["field"] == param


@pytest.mark.parametrize("query", ["instrument=%ED%A0%80", "portfolio=%FF", "client_order_id=A%C3", "client_order_id=%E2%80%AEdi",
                                   "client_order_id=%1B%5B31m", "client_order_id=%C2%9B", "side=%E2%81%A6buy"])
def test_a_query_string_follows_the_rule_of_json_bodies_invalid_utf8_and_controls_are_field_errors(query, pm, api):
    response = api(pm).get(f"{ORDERS_URL}?{query}")

    body = assert_field_error(response, query.split("=")[0], "invalid_characters")
    assert "\ufffd" not in json.dumps(body, ensure_ascii=False)


def test_a_query_parameter_name_that_is_not_utf8_is_echoed_escaped(pm, api):
    body = assert_json_error(api(pm).get(f"{ORDERS_URL}?inst%FFrument=X"), 400, "validation_error")
    assert body["field"] == "inst\\udcffrument"


@pytest.mark.parametrize("form", [b"username=%ED%A0%80&password=x", b"username=pm&password=a%FFb", b"username=pm%E2%80%AE&password=x"])
def test_form_fields_follow_the_rule_of_json_bodies(form, pm, nothing_stored):
    response = APIClient().post("/api/auth/token/", data=form, content_type="application/x-www-form-urlencoded")

    body = assert_json_error(response, 400, "validation_error")
    assert body["errors"][body["field"]][0]["code"] == "invalid_characters"


def test_a_browser_form_with_invalid_utf8_is_the_400_page_and_a_bidi_override_the_field_error(pm_browser, portfolio, instrument, nothing_stored):
    fields = (f"portfolio={portfolio.code}&instrument={instrument.symbol}&side=buy&quantity=100&order_type=limit"
              "&limit_price=100.50&time_in_force=day&urgency=medium&strategy=auto")
    page = pm_browser.post("/orders/ticket/", data=f"client_order_id=WEB%ED%A0%801&{fields}".encode(),
                           content_type="application/x-www-form-urlencoded")
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")
    assert "client_order_id must be valid UTF-8" in page.content.decode()

    page = pm_browser.post("/orders/ticket/", data=f"client_order_id=WEB%E2%80%AE1&{fields}".encode(),
                           content_type="application/x-www-form-urlencoded")
    assert page.status_code == 400 and "client_order_id must be valid UTF-8" in page.content.decode()

    page = pm_browser.get("/orders/?q=%FF")
    assert page.status_code == 400 and "q must be valid UTF-8" in page.content.decode()


@pytest.mark.parametrize("query", ["page=", "page=abc", "page=0", "page=-1", "page=1.5", "page_size=null", "page_size=",
                                   "page_size=0", "page_size=501", "created_after=", "created_after=yesterday",
                                   "created_before=", "side=", "side=BUY-ish", "status=", "status=OPENISH"])
def test_a_query_value_outside_the_schema_is_a_400(query, pm, api):
    response = api(pm).get(f"{ORDERS_URL}?{query}")

    name = query.split("=")[0]
    assert_json_error(response, 400, "validation_error")
    assert name in response.json()["errors"]


def test_the_audit_filters_are_as_strict(compliance, api):
    assert_json_error(api(compliance).get("/api/audit/?since="), 400, "validation_error")
    assert_json_error(api(compliance).get("/api/audit/?page_size=null"), 400, "validation_error")


def test_schema_valid_query_values_are_accepted(pm, api, submit):
    submit(pm)

    response = api(pm).get(f"{ORDERS_URL}?page=1&page_size=500&created_after=2020-01-01T00:00:00Z&side=buy&status=ACCEPTED&instrument=")

    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_page_past_the_last_is_a_json_404(pm, api):
    assert_json_error(api(pm).get(f"{ORDERS_URL}?page=999"), 404, "not_found")


# --- bodies: size, nesting, media type ----------------------------------------------------------------


def test_json_nested_100k_deep_is_a_parse_error(pm, api, nothing_stored):
    body = "[" * 100_000 + "]" * 100_000

    response = api(pm).post(BULK_URL, body, content_type="application/json")

    assert_json_error(response, 400, "parse_error")


def test_json_nested_inside_an_order_field_is_refused_before_parsing(pm, api, order_payload, nothing_stored):
    deep = "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)
    body = json.dumps(order_payload(quantity="DEEP")).replace('"DEEP"', deep)

    assert_json_error(api(pm).post(ORDERS_URL, body, content_type="application/json"), 400, "parse_error")


def test_brackets_inside_strings_do_not_count_as_nesting(pm, api, order_payload, nothing_stored):
    response = raw_post(api(pm), ORDERS_URL, order_payload(client_order_id="[" * 200))

    assert_field_error(response, "client_order_id", "invalid")


def test_malformed_json_is_a_parse_error(pm, api, nothing_stored):
    assert_json_error(api(pm).post(ORDERS_URL, '{"quantity": ', content_type="application/json"), 400, "parse_error")


def test_a_body_over_the_size_limit_is_a_json_413(pm, api, settings, nothing_stored):
    body = json.dumps([{"client_order_id": "X" * 1000}] * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE // 1000 + 1))

    response = api(pm).post(BULK_URL, body, content_type="application/json")

    assert_json_error(response, 413, "request_too_large")


def test_a_bulk_of_5000_orders_fits_the_size_limit(settings, order_payload):
    items = [order_payload(client_order_id=f"SIZE-CHECK-{i:05d}-{'X' * 40}", start_time="2026-01-01T09:30:00Z",
                           end_time="2026-01-01T16:00:00Z", max_participation="0.1000") for i in range(5000)]

    assert len(json.dumps(items)) * 3 < settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # ample room for longer codes


@pytest.mark.parametrize(("content_type", "body"), [("text/plain", "hello"), ("application/x-www-form-urlencoded", "side=buy"),
                                                    ("application/xml", "<order/>")])
def test_a_body_that_is_not_json_is_a_json_415(content_type, body, pm, api, nothing_stored):
    assert_json_error(api(pm).post(ORDERS_URL, body, content_type=content_type), 415, "unsupported_media_type")


# --- unmatched routes and methods ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/api/nope/", "/api/nope", "/api/orders/1/nope/", "/api/instruments/ACME/extra/"])
def test_an_unmatched_api_url_is_a_json_404(url, pm, api):
    assert_json_error(api(pm).get(url), 404, "not_found")


def test_an_unmatched_api_url_is_json_even_without_credentials():
    assert_json_error(APIClient().get("/api/nope/"), 404, "not_found")


def test_a_browser_404_is_the_sites_page(client, pm):
    client.force_login(pm)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Page not found" in response.content.decode()


@pytest.mark.parametrize(("method", "url"), [("delete", ORDERS_URL), ("put", "/api/instruments/ACME/"), ("get", BULK_URL),
                                             ("patch", "/api/portfolios/")])
def test_a_wrong_method_is_a_json_405(method, url, pm, api, instrument):
    response = getattr(api(pm), method)(url)

    assert_json_error(response, 405, "method_not_allowed")


# --- unexpected exceptions: a JSON 500, logged ----------------------------------------------------------


def _boom(request):
    raise RuntimeError("an unexpected failure")


def _db_down(request):
    from django.db import OperationalError

    raise OperationalError("could not connect")


def _browser_ok(request):
    return HttpResponse("ok")


# This module is also the URLconf of the tests marked `urls(__name__)`: the site's routes and handlers plus
# views that fail on purpose.
urlpatterns = [path("api/test-boom/", _boom), path("boom/", _boom), path("api/test-db-down/", _db_down), *site_urlpatterns]


@pytest.mark.urls(__name__)
def test_an_unexpected_exception_on_the_api_is_a_logged_json_500(db, caplog):
    client = APIClient(raise_request_exception=False)

    with caplog.at_level(logging.ERROR):
        response = client.get("/api/test-boom/")

    assert_json_error(response, 500, "server_error")
    assert "an unexpected failure" in caplog.text


@pytest.mark.urls(__name__)
def test_an_unexpected_exception_on_a_page_is_the_html_500(db):
    response = APIClient(raise_request_exception=False).get("/boom/")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.urls(__name__)
def test_a_database_error_raised_by_a_view_is_a_json_503(db):
    response = APIClient(raise_request_exception=False).get("/api/test-db-down/")

    assert_json_error(response, 503, "service_unavailable")
    assert response["Retry-After"] == str(RETRY_AFTER_S)


# --- the database unavailable, for real ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_api_answers_json_503_with_retry_after_when_the_database_is_down(pm):
    token = Token.objects.create(user=pm).key
    unreachable = f"postgres://postgres@127.0.0.1:{free_port()}/nowhere"  # nothing listens on that port

    with run_server({"DATABASE_URL": unreachable, "DB_POOL_MAX_SIZE": "0"}) as (url, _log):
        api = httpx.get(f"{url}/api/orders/", headers={"Authorization": f"Token {token}"}, timeout=30)
        post = httpx.post(f"{url}/api/orders/", json={"client_order_id": "DOWN-1"}, headers={"Authorization": f"Token {token}"}, timeout=30)
        # A session cookie: the page must read the session from the database to know who is asking.
        page = httpx.get(f"{url}/", cookies={"sessionid": "s" * 32}, timeout=30)

    for response in (api, post):
        assert response.status_code == 503, response.text[:500]
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["code"] == "service_unavailable"
        assert response.headers["retry-after"] == str(RETRY_AFTER_S)
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["retry-after"] == str(RETRY_AFTER_S)
    assert "Service unavailable" in page.text


@pytest.mark.django_db(transaction=True)
def test_an_exhausted_connection_pool_answers_json_503(pm, submit):
    order = submit(pm)
    token = Token.objects.create(user=pm).key
    dbname = connection.settings_dict["NAME"]
    connection.close()
    env = {"DATABASE_URL": database_url(connection.settings_dict), "DB_POOL_MAX_SIZE": "1", "DB_POOL_MIN_SIZE": "1",
           "DB_POOL_TIMEOUT": "1"}
    headers = {"Authorization": f"Token {token}"}

    with run_server(env) as (url, log), psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname) as locker:
        # The pool's only connection is held by a cancel waiting for the order's row lock, which we hold.
        locker.execute("SELECT id FROM oms_order WHERE id = %s FOR UPDATE", [order.id])
        with ThreadPoolExecutor(max_workers=1) as pool:
            cancel = pool.submit(httpx.post, f"{url}{order_url(order.id, 'cancel')}", headers=headers, timeout=60)
            _wait_for_a_lock_wait(dbname)

            starved = httpx.get(f"{url}/api/orders/", headers=headers, timeout=60)

            locker.rollback()
            cancelled = cancel.result()

    assert_json_error_httpx(starved, 503, "service_unavailable")
    assert starved.headers["retry-after"] == str(RETRY_AFTER_S)
    assert cancelled.status_code == 200  # the request that held the connection finished normally
    assert "couldn't get a connection" in log.read_text()  # psycopg_pool's PoolTimeout, logged by the middleware


def _wait_for_a_lock_wait(dbname: str) -> None:
    with psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", autocommit=True) as probe:
        waiting = wait_for(lambda: probe.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'", [dbname],
        ).fetchone()[0], 15, every_s=0.05)
    assert waiting, "the cancel never waited for the row lock"


def assert_json_error_httpx(response, status: int, code: str) -> None:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == code
