"""Bad input on every TCA endpoint gets a JSON 4xx with a stable code naming what is wrong, never a 500,
and stores nothing: wrong ids, bad filters and group_by, unknown export formats, bad what-if strategies and
parameters, wrong content types, NUL bytes, undecodable, empty, malformed and oversized CSV files."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from ems.sim.clock import US
from oms.models import AuditEvent
from tca.models import ImportedExecution, ImportSet, WhatIf
from tca.services import parent_tca_compute
from tests.ems import factories as f

pytestmark = [pytest.mark.django_db]

IMPORT = "/api/tca/executions/import/"
HEADER = "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price"
ROW = "EXT-1,2026-03-02T14:31:05+00:00,XNYS,limit,buy,1000,100.10,100.00"


@pytest.fixture
def closed(clock, instrument, portfolio, pm):
    """A TWAP buy of 1,000 ACME on day 2 filled in one go on XSMA, its TCA computed (built from rows: fast)."""
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    parent = f.parent(instrument=instrument, orders=[order], strategy="twap", market_day=2, start_us=3600 * US, end_us=4200 * US)
    f.fill(parent=parent, child=f.child(parent=parent, quantity=1000), quantity=1000, price="100.02", t_us=3660 * US)
    parent.refresh_from_db()
    parent_tca_compute(parent_id=parent.pk)
    return parent


@pytest.fixture
def working(clock, instrument, portfolio, pm):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    return f.parent(instrument=instrument, orders=[order], strategy="twap", market_day=2, start_us=3600 * US, end_us=4200 * US)


def _nothing_imported():
    assert not ImportSet.objects.exists() and not ImportedExecution.objects.exists()
    assert not AuditEvent.objects.filter(event_type="tca.import").exists()


def _error(response, status, code, field=None):
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    if field is not None:
        assert body.get("field") == field, body
    return body


# --- ids, formats, filters ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/tca/parent-orders/abc/", "/api/tca/parent-orders/-1/", f"/api/tca/parent-orders/{'9' * 30}/",
    "/api/tca/parent-orders/999999999/", "/api/tca/parent-orders/%00/", "/api/tca/parent-orders/1.5/",
    "/api/tca/what-ifs/999999999/", "/api/tca/what-ifs/x/", "/api/tca/executions/imports/999999999/",
    "/api/tca/executions/imports/1e3/", "/api/tca/parent-orders/999999999/?format=csv",
])
def test_wrong_ids_are_json_404s(trader_api, closed, path):
    _error(trader_api.get(path), 404, "not_found")


def test_a_what_if_on_an_unknown_parent_is_a_404_and_stores_nothing(trader_api, closed):
    _error(trader_api.post("/api/tca/parent-orders/999999999/what-if/", {"strategy": "twap"}, format="json"), 404, "not_found")
    assert not WhatIf.objects.exists()


@pytest.mark.parametrize("path", [
    "/api/tca/parent-orders/{id}/", "/api/tca/summary/", "/api/tca/best-execution/", "/api/tca/fills/",
])
@pytest.mark.parametrize("fmt", ["pdf", "", "CSV", "api", "csv%00"])
def test_an_unknown_export_format_is_a_400_naming_format(trader_api, closed, path, fmt):
    response = trader_api.get(path.format(id=closed.pk) + f"?format={fmt}")
    if fmt == "csv%00":  # control characters never reach a view
        _error(response, 400, "validation_error", "format")
    else:
        body = _error(response, 400, "validation_error", "format")
        assert body["errors"]["format"][0]["code"] == "invalid_choice"


def test_an_error_asked_for_as_a_file_is_still_json(trader_api, closed):
    _error(trader_api.get("/api/tca/summary/?format=xlsx&group_by=desk"), 400, "validation_error", "group_by")
    _error(trader_api.get("/api/tca/fills/?format=csv&parent=abc"), 400, "validation_error", "parent")
    _error(trader_api.get("/api/tca/parent-orders/999999999/", HTTP_ACCEPT="text/csv"), 404, "not_found")


@pytest.mark.parametrize("query, field", [
    ("group_by=desk", "group_by"), ("group_by=", "group_by"), ("group_by=VENUE", "group_by"),
    ("side=long", "side"), ("side=", "side"), ("strategy=auto", "strategy"), ("strategy=", "strategy"),
    ("day_from=-1", "day_from"), ("day_from=1.5", "day_from"), ("day_from=%201", "day_from"), ("day_from=%2B1", "day_from"),
    ("day_from=", "day_from"), ("day_to=100001", "day_to"), ("day_to=" + "9" * 40, "day_to"), ("day_to=%D9%A1", "day_to"),
    ("instrument=", "instrument"), ("instrument=" + "A" * 17, "instrument"), ("instrument=AC%20ME", "instrument"),
    ("portfolio=a%2Fb", "portfolio"), ("portfolio=" + "P" * 33, "portfolio"), ("instrument=%00", "instrument"),
])
def test_bad_summary_parameters_are_400s_naming_the_parameter(trader_api, closed, query, field):
    _error(trader_api.get(f"/api/tca/summary/?{query}"), 400, "validation_error", field)


@pytest.mark.parametrize("path", ["/api/tca/summary/", "/api/tca/best-execution/", "/api/tca/fills/"])
@pytest.mark.parametrize("query, field", [("instrument=NOPE", "instrument"), ("portfolio=NO-SUCH-BOOK", "portfolio")])
def test_a_filter_naming_nothing_that_exists_is_a_400_with_its_code(trader_api, closed, path, query, field):
    _error(trader_api.get(f"{path}?{query}"), 400, "tca.bad_filter", field)


@pytest.mark.parametrize("query, field", [
    ("parent=abc", "parent"), ("parent=-1", "parent"), ("parent=1e99", "parent"), ("parent=" + "9" * 40, "parent"),
    ("venue=", "venue"), ("venue=" + "V" * 17, "venue"), ("venue=X%20Y", "venue"), ("page=0", "page"), ("page_size=501", "page_size"),
    ("day_from=x", "day_from"),
])
def test_bad_fill_filters_are_400s(trader_api, closed, query, field):
    _error(trader_api.get(f"/api/tca/fills/?{query}"), 400, "validation_error", field)


@pytest.mark.parametrize("query, field", [("side=both", "side"), ("day_to=soon", "day_to"), ("group_by=venue&strategy=TWAP", "strategy")])
def test_bad_best_execution_filters_are_400s(trader_api, closed, query, field):
    _error(trader_api.get(f"/api/tca/best-execution/?{query}"), 400, "validation_error", field)


@pytest.mark.parametrize("query", ["parent=abc", "parent=-5", "page_size=0"])
def test_bad_what_if_list_filters_are_400s(trader_api, query):
    _error(trader_api.get(f"/api/tca/what-ifs/?{query}"), 400, "validation_error")


def test_reads_refuse_other_methods(trader_api, closed):
    for path in ("/api/tca/summary/", "/api/tca/best-execution/", "/api/tca/fills/", f"/api/tca/parent-orders/{closed.pk}/",
                 "/api/tca/executions/imports/", "/api/tca/reconciliation/", "/api/tca/what-ifs/"):
        _error(trader_api.post(path, {}, format="json"), 405, "method_not_allowed")
        _error(trader_api.delete(path), 405, "method_not_allowed")
    _error(trader_api.get(f"/api/tca/parent-orders/{closed.pk}/what-if/"), 405, "method_not_allowed")
    _error(trader_api.get(IMPORT), 405, "method_not_allowed")


# --- what-if bodies -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("body, field", [
    ({}, "strategy"),
    ({"strategy": "rfq"}, "strategy"),
    ({"strategy": "auto"}, "strategy"),
    ({"strategy": "TWAP"}, "strategy"),
    ({"strategy": 7}, "strategy"),
    ({"strategy": None}, "strategy"),
    ({"strategy": "tw\x00ap"}, "strategy"),
    ({"strategy": "\ud800"}, "strategy"),
    ({"strategy": "twap", "params": [1]}, "params"),
    ({"strategy": "twap", "params": "fast"}, "params"),
    ({"strategy": "twap", "params": {"bogus": 1}}, "params"),
    ({"strategy": "twap", "params": {"qty": 5}}, "params"),  # the same order: its quantity is not a parameter
    ({"strategy": "twap", "params": {"interval_s": "5"}}, "params"),
    ({"strategy": "twap", "params": {"interval_s": 0}}, "params"),
    ({"strategy": "twap", "params": {"interval_s": True}}, "params"),
    ({"strategy": "twap", "params": {"max_participation": 1.5}}, "params"),
    ({"strategy": "twap", "params": {"min_child": 1.5}}, "params"),
    ({"strategy": "twap", "params": {"dark": "yes"}}, "params"),
    ({"strategy": "twap", "params": {"urgency": "asap"}}, "params"),
    ({"strategy": "twap", "params": {"venue": "X\x00"}}, "params"),
    ({"strategy": "twap", "params": {"end": 10**12}}, "params"),
    ({"strategy": "direct", "params": {"mode": "spray"}}, "params"),
    ({"strategy": "twap", "speed": "max"}, "speed"),
    ({"stra\x00tegy": "twap"}, "non_field_errors"),
])
def test_what_if_refuses_bad_bodies(trader_api, closed, body, field):
    response = trader_api.post(f"/api/tca/parent-orders/{closed.pk}/what-if/", data=json.dumps(body), content_type="application/json")

    _error(response, 400, "validation_error", field)
    assert not WhatIf.objects.exists()


@pytest.mark.parametrize("body, field", [
    ({"strategy": "twap", "params": {"rate": 0.2}}, "params.rate"),  # POV's
    ({"strategy": "vwap", "params": {"jitter": 0.1}}, "params.jitter"),  # TWAP's
    ({"strategy": "pov", "params": {"mode": "parallel"}}, "params.mode"),  # DIRECT's
    ({"strategy": "twap", "params": {"min_child": 5000, "max_child": 100}}, "params"),
    ({"strategy": "twap", "params": {"start": 5000 * US, "end": 4000 * US}}, "params"),
])
def test_what_if_parameters_the_algorithm_refuses_are_tca_bad_params(trader_api, closed, body, field):
    response = trader_api.post(f"/api/tca/parent-orders/{closed.pk}/what-if/", body, format="json")

    _error(response, 400, "tca.bad_params", field)
    assert not WhatIf.objects.exists()


@pytest.mark.parametrize("name, value", [
    ("max_participation", 0), ("max_participation", 0.0005), ("max_participation", 1.5), ("max_participation", -0.2),
    ("interval_s", 0), ("interval_s", 0.25), ("interval_s", 3601), ("interval_s", -60),
])
def test_the_browser_form_and_the_api_refuse_the_same_out_of_bounds_what_if_values(trader_api, closed, trader, name, value):
    api = trader_api.post(f"/api/tca/parent-orders/{closed.pk}/what-if/", {"strategy": "vwap", "params": {name: value}}, format="json")
    browser = Client()
    browser.force_login(trader)
    page = browser.post(reverse("tca-what-if", args=[closed.pk]), {"strategy": "vwap", "urgency": "medium", name: str(value)})

    detail = _error(api, 400, "validation_error", "params")["detail"]
    assert detail.startswith(f"{name}: ")
    assert page.status_code == 400
    assert "tca.bad_params" in page.content.decode() and escape(detail) in page.content.decode()
    assert not WhatIf.objects.exists()


def test_a_what_if_on_a_parent_still_working_is_a_409(trader_api, working):
    _error(trader_api.post(f"/api/tca/parent-orders/{working.pk}/what-if/", {"strategy": "vwap"}, format="json"),
           409, "tca.parent_not_closed")
    assert not WhatIf.objects.exists()


@pytest.mark.parametrize("body, content_type, status, code", [
    (b"{not json", "application/json", 400, "parse_error"),
    (b"[" * 5000 + b"]" * 5000, "application/json", 400, "parse_error"),
    (b'{"strategy": "twap"}\x00', "application/json", 400, "parse_error"),
    (b"strategy=twap", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b"strategy,twap", "text/csv", 415, "unsupported_media_type"),
    (b'{"strategy": "twap", "x": "' + b"a" * (11 * 1024 * 1024) + b'"}', "application/json", 413, "request_too_large"),
    (b'[{"strategy": "twap"}]', "application/json", 400, "validation_error"),
])
def test_what_if_refuses_malformed_huge_and_non_json_bodies(trader_api, closed, body, content_type, status, code):
    _error(trader_api.post(f"/api/tca/parent-orders/{closed.pk}/what-if/", data=body, content_type=content_type), status, code)
    assert not WhatIf.objects.exists()


# --- imports ----------------------------------------------------------------------------------------------------


def _post_csv(trader_api, text: str | bytes, content_type: str = "text/csv", query: str = ""):
    data = text.encode() if isinstance(text, str) else text
    return trader_api.post(IMPORT + query, data=data, content_type=content_type)


def test_bad_rows_are_each_listed_and_nothing_is_imported(trader_api):
    text = "\n".join([
        HEADER, ROW,
        "EXT-2,2026-03-02T14:31:05,XNYS,limit,buy,1000,100.10,100.00",  # no offset
        "EXT-3,2026-03-02T14:31:05Z,XNYS,limit,hold,-5,abc,100.00",  # side, quantity, price
        "EXT-4,2026-03-02T14:31:05Z,XNYS,limit,sell,10",  # too few values
        ",2026-03-02T14:31:05Z,XNYS,limit,sell,10,1.1234567,0",  # id, too many decimals, benchmark 0
    ]) + "\n"

    body = _error(_post_csv(trader_api, text), 400, "tca.import_invalid")

    problems = {(e["line"], e["field"], e["code"]) for e in body["errors"]}
    assert problems == {
        (3, "timestamp", "timestamp_no_offset"),
        (4, "side", "bad_side"), (4, "quantity", "not_positive"), (4, "price", "not_a_number"),
        (5, None, "column_count"),
        (6, "child_order_id", "required"), (6, "price", "too_many_decimals"), (6, "benchmark_price", "not_positive"),
    }
    assert all(e["detail"] for e in body["errors"]) and body["errors_total"] == len(problems)
    _nothing_imported()


@pytest.mark.parametrize("text, code", [
    ("", "tca.import_empty"),
    ("\n\n  \n", "tca.import_empty"),
    (HEADER + "\n", "tca.import_empty"),
    ("\ufeff" + HEADER + "\n\n", "tca.import_empty"),
    ("id,when,price\n1,2026-03-02T14:31:05+00:00,100\n", "tca.import_bad_header"),
    (HEADER.replace("price", "px", 1) + "\n" + ROW + "\n", "tca.import_bad_header"),
    (HEADER + ",extra\n" + ROW + ",1\n", "tca.import_bad_header"),
    (ROW + "\n", "tca.import_bad_header"),  # no header at all
])
def test_an_empty_file_or_a_wrong_header_has_its_own_code(trader_api, text, code):
    _error(_post_csv(trader_api, text), 400, code)
    _nothing_imported()


def test_nul_bytes_are_refused_by_line(trader_api):
    body = _error(_post_csv(trader_api, f"{HEADER}\n{ROW}\nEXT-2\x00,x\n"), 400, "tca.import_invalid")
    assert [(e["line"], e["code"]) for e in body["errors"]] == [(3, "nul_byte")]
    _nothing_imported()


@pytest.mark.parametrize("data, content_type", [
    (b"\xff\xfe\x00b\x00a\x00d", "text/csv"),
    ((HEADER + "\n" + ROW + "\n").encode("utf-16"), "text/csv"),
    (b"child_order_id\xe9", "text/csv; charset=utf-8"),
    ((HEADER + "\n").encode(), "text/csv; charset=klingon"),
])
def test_a_body_that_is_not_text_in_its_charset_is_tca_import_encoding(trader_api, data, content_type):
    _error(_post_csv(trader_api, data, content_type), 400, "tca.import_encoding")
    _nothing_imported()


def test_a_latin1_body_declared_as_such_is_read(trader_api):
    text = f"{HEADER}\nCAFÉ-1,2026-03-02T14:31:05+00:00,XNYS,limit,buy,100,10.00,10.00\n"
    response = _post_csv(trader_api, text.encode("latin-1"), "text/csv; charset=latin-1")
    assert response.status_code == 201 and response.json()["rows"][0]["child_order_id"] == "CAFÉ-1"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream"])
def test_other_content_types_are_415(trader_api, content_type):
    _error(_post_csv(trader_api, f"{HEADER}\n{ROW}\n", content_type), 415, "unsupported_media_type")
    _nothing_imported()


def test_a_form_body_with_invalid_utf8_or_an_escape_is_refused_before_its_content_type(trader_api):
    for data in (b"name=%ED%A0%80", b"name=a%1Bb"):
        body = _error(_post_csv(trader_api, data, "application/x-www-form-urlencoded"), 400, "validation_error", "name")
        assert body["errors"]["name"][0]["code"] == "invalid_characters"
    _nothing_imported()


def test_a_text_body_over_the_request_limit_is_413(trader_api):
    big = HEADER + "\n" + (ROW + "\n") * (11 * 1024 * 1024 // len(ROW))
    _error(_post_csv(trader_api, big), 413, "request_too_large")
    _nothing_imported()


def test_an_upload_over_20_mb_is_413_tca_import_too_large(trader_api):
    big = SimpleUploadedFile("big.csv", (HEADER + "\n").encode() + b"x" * (21 * 1024 * 1024))
    _error(trader_api.post(IMPORT, {"file": big}, format="multipart"), 413, "tca.import_too_large")
    _nothing_imported()


def test_more_than_100000_rows_is_tca_import_too_large(trader_api):
    rows = HEADER + "\n" + (ROW + "\n") * 100_001
    upload = SimpleUploadedFile("many.csv", rows.encode())
    _error(trader_api.post(IMPORT, {"file": upload}, format="multipart"), 400, "tca.import_too_large")
    _nothing_imported()


@pytest.mark.parametrize("fields, field", [
    ({}, "file"),
    ({"name": "x"}, "file"),
    ({"file": "not a file", "name": "x"}, "file"),
    ({"file": "FILE", "name": "a\x00b"}, "name"),
    ({"file": "FILE", "name": "n" * 201}, "name"),
    ({"file": "FILE", "colour": "red"}, "non_field_errors"),
])
def test_bad_multipart_uploads_are_400s_naming_the_field(trader_api, fields, field):
    data = {k: (SimpleUploadedFile("ok.csv", f"{HEADER}\n{ROW}\n".encode()) if v == "FILE" else v) for k, v in fields.items()}
    _error(trader_api.post(IMPORT, data, format="multipart"), 400, "validation_error", field)
    _nothing_imported()


def test_a_bad_file_uploaded_as_multipart_gets_the_same_codes(trader_api):
    def up(content: bytes):
        return trader_api.post(IMPORT, {"file": SimpleUploadedFile("f.csv", content)}, format="multipart")

    _error(up(b""), 400, "tca.import_empty")
    _error(up(b"a,b\n1,2\n"), 400, "tca.import_bad_header")
    _error(up(b"\xff\xfe\x00bad"), 400, "tca.import_encoding", "file")
    _error(up(f"{HEADER}\nEXT-1,yesterday,XNYS,limit,buy,1,1,1\n".encode()), 400, "tca.import_invalid")
    _nothing_imported()


@pytest.mark.parametrize("query", ["?name=" + "n" * 201, "?name=%01x"])
def test_a_bad_name_in_the_query_is_a_400(trader_api, query):
    _error(_post_csv(trader_api, f"{HEADER}\n{ROW}\n", query=query), 400, "validation_error", "name")
    _nothing_imported()


def test_a_malformed_multipart_body_is_a_parse_error(trader_api):
    response = trader_api.post(IMPORT, data=b"--zzz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc",
                           content_type="multipart/form-data; boundary=yyy")
    assert response.status_code == 400 and response.json()["code"] in ("parse_error", "validation_error")
    _nothing_imported()


def test_formula_looking_ids_are_exported_as_text(trader_api):
    text = f"{HEADER}\n=HYPERLINK(\"http://x\"),2026-03-02T14:31:05+00:00,@SUM,limit,buy,100,10.00,10.00\n"
    set_id = _post_csv(trader_api, text).json()["id"]

    exported = b"".join(trader_api.get(f"/api/tca/executions/imports/{set_id}/?format=csv").streaming_content).decode()

    assert "'=HYPERLINK" in exported and ",'@SUM," in exported


# --- values that break arithmetic or the columns, charsets that are not text, characters no text may hold -------

MAX_BIGINT = 2**63 - 1


def _row(qty="1000", price="100.10", bench="100.00", oid="EXT-1", venue="XNYS", order_type="limit"):
    return f"{oid},2026-03-02T14:31:05+00:00,{venue},{order_type},buy,{qty},{price},{bench}"


def _problems(response) -> set[tuple]:
    body = _error(response, 400, "tca.import_invalid")
    return {(e["line"], e["field"], e["code"]) for e in body["errors"]}


@pytest.mark.parametrize("row, problem", [
    # in range one by one, but the slippage in currency has 37 digits: beyond default decimal arithmetic
    (_row(qty=str(MAX_BIGINT), price="0.000001", bench="999999999999.999999"), (2, "price", "out_of_range")),
    (_row(qty=str(MAX_BIGINT), price="999999999999.999999", bench="0.000001"), (2, "price", "out_of_range")),
    (_row(qty="9" * 5000), (2, "quantity", "too_large")),  # int() refuses strings over 4,300 digits
    (_row(qty="0" * 5000 + "7"), None),  # leading zeros are only zeros
    (_row(price="1" + "0" * 5000), (2, "price", "too_large")),
    (_row(price="0." + "0" * 5000 + "1"), (2, "price", "too_many_decimals")),
    (_row(bench="1E+999999"), (2, "benchmark_price", "not_a_number")),
    (_row(bench="1e-999999"), (2, "benchmark_price", "not_a_number")),
])
def test_values_that_break_decimal_arithmetic_are_row_errors(trader_api, row, problem):
    response = _post_csv(trader_api, f"{HEADER}\n{row}\n")
    if problem is None:
        assert response.status_code == 201 and response.json()["rows"][0]["quantity"] == 7
        return
    assert _problems(response) == {problem}
    _nothing_imported()


def test_a_summed_quantity_beyond_the_bigint_column_names_the_row_that_passes_it(trader_api):
    rows = [_row(oid="A", qty=str(MAX_BIGINT), price="1", bench="1"), _row(oid="B", qty="5", price="1", bench="1"),
            _row(oid="C", qty="1", price="1", bench="1")]

    assert _problems(_post_csv(trader_api, "\n".join([HEADER, *rows]) + "\n")) == {(3, "quantity", "total_out_of_range")}
    _nothing_imported()


def test_a_total_slippage_beyond_the_numeric_column_names_the_row_that_passes_it(trader_api):
    row = _row(qty="1000000000000", price="1.000000", bench="999999.000000")  # 999,998e12: each row fits numeric(24, 6)

    assert _problems(_post_csv(trader_api, f"{HEADER}\n{row}\n{row}\n")) == {(3, "price", "total_out_of_range")}
    _nothing_imported()


@pytest.mark.parametrize("charset", ["rot13", "zlib", "base64", "hex", "uu", "bz2", "quopri", "undefined"])
def test_a_charset_that_is_a_codec_but_not_a_text_encoding_is_tca_import_encoding(trader_api, charset):
    _error(_post_csv(trader_api, f"{HEADER}\n{ROW}\n", f"text/csv; charset={charset}"), 400, "tca.import_encoding")
    _nothing_imported()


def _utf7(text: str) -> bytes:
    """``text`` in UTF-7, each "@" standing for a lone U+D800 ("+2AA-"), which no encoder writes."""
    return text.replace("+", "+-").replace("@", "+2AA-").encode("ascii")


@pytest.mark.parametrize("data, charset, problem", [
    (_utf7(f"{HEADER}\n@X{ROW[5:]}\n"), "utf-7", (2, "child_order_id")),
    (f"{HEADER}\n{ROW[:-7]}\\udc00,100.00\n".encode("ascii"), "unicode_escape", (2, "price")),
    (f"{HEADER}\nEXT-1,2026-03-02T14:31:05+00:00,X\\ud83dNYS,limit,buy,1,1,1\n".encode("ascii"), "raw_unicode_escape", (2, "venue")),
])
def test_a_charset_that_decodes_to_lone_surrogates_is_refused_by_row_and_field(trader_api, data, charset, problem):
    assert _problems(_post_csv(trader_api, data, f"text/csv; charset={charset}")) == {(*problem, "invalid_characters")}
    _nothing_imported()


def test_utf16_with_an_unpaired_surrogate_is_not_text(trader_api):
    data = "\ufeff".encode("utf-16-le") + f"{HEADER}\nEXT-".encode("utf-16-le") + b"\x00\xd8" + f"1{ROW[5:]}\n".encode("utf-16-le")
    _error(_post_csv(trader_api, data, "text/csv; charset=utf-16"), 400, "tca.import_encoding")
    _nothing_imported()


def test_a_surrogate_in_the_header_is_echoed_escaped(trader_api):
    body = _error(_post_csv(trader_api, _utf7(f"@{HEADER}\n{ROW}\n"), "text/csv; charset=utf-7"), 400, "tca.import_bad_header")
    assert body["found"][0] == "\\ud800child_order_id"


# --- the input rule of JSON bodies, for CSV cells, query strings and form fields ---------------------------------


@pytest.mark.parametrize("bad", ["\x1b[31m", "\u202e", "\u2066", "\u2069", "\u200e", "\u200f", "\x85", "\x7f", "\ufeff", "\t"],
                         ids=["escape", "rlo", "lri", "pdi", "lrm", "rlm", "c1_nel", "del", "bom", "tab"])
@pytest.mark.parametrize("field", ["child_order_id", "venue", "order_type"])
def test_control_and_bidi_characters_in_a_csv_cell_are_refused_by_row_and_field(trader_api, bad, field):
    row = _row(**{{"child_order_id": "oid"}.get(field, field): f"AB{bad}C"})

    assert _problems(_post_csv(trader_api, f"{HEADER}\n{ROW}\n{row}\n")) == {(3, field, "invalid_characters")}
    _nothing_imported()


def test_the_same_cells_are_refused_in_an_upload_and_shown_on_the_browser_page(trader_api, trader):
    text = HEADER + "\n" + _row(oid="EXT\u202e1") + "\n"
    body = _error(trader_api.post(IMPORT, {"file": SimpleUploadedFile("f.csv", text.encode())}, format="multipart"), 400, "tca.import_invalid")
    assert [(e["line"], e["field"], e["code"]) for e in body["errors"]] == [(2, "child_order_id", "invalid_characters")]

    browser = Client()
    browser.force_login(trader)
    page = browser.post("/tca/imports/", {"file": SimpleUploadedFile("f.csv", text.encode()), "name": "ok"})
    assert page.status_code == 400 and "child_order_id" in page.content.decode()
    page = browser.post("/tca/imports/", {"file": SimpleUploadedFile("f.csv", f"{HEADER}\n{ROW}\n".encode()), "name": "x\x1by"})
    assert page.status_code == 400
    _nothing_imported()


@pytest.mark.parametrize("query", ["?name=%ED%A0%80", "?name=%FF", "?name=a%C3", "?name=%E2%80%AE1", "?name=%C2%85",
                                   "?na%FFme=x", "?name=ok&name=%1B"])
def test_a_name_in_the_query_string_follows_the_rule_of_json_bodies(trader_api, query):
    body = _error(_post_csv(trader_api, f"{HEADER}\n{ROW}\n", query=query), 400, "validation_error")
    assert list(body["errors"].values())[0][0]["code"] == "invalid_characters"
    _nothing_imported()


@pytest.mark.parametrize("query", ["instrument=%ED%A0%80", "venue=%E2%81%A6X", "day=%FF2"])
def test_read_filters_with_invalid_utf8_or_controls_are_400s_naming_the_parameter(trader_api, closed, query):
    body = _error(trader_api.get(f"/api/tca/fills/?{query}"), 400, "validation_error")
    assert body["field"] == query.split("=")[0]


def test_a_browser_page_with_invalid_utf8_in_its_query_or_form_is_the_400_page(trader, closed):
    browser = Client()
    browser.force_login(trader)
    assert browser.get("/tca/?strategy=twap").status_code == 200

    page = browser.get("/tca/?strategy=%ED%A0%80")
    assert page.status_code == 400 and "text/html" in page["Content-Type"] and "strategy must be valid UTF-8" in page.content.decode()

    form = browser.post(f"/tca/parents/{closed.pk}/what-if/", data=b"strategy=tw%FFap&interval_s=5",
                        content_type="application/x-www-form-urlencoded")
    assert form.status_code == 400 and "strategy must be valid UTF-8" in form.content.decode()
    assert not WhatIf.objects.exists()
