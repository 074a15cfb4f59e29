"""The audit trail read in words and filed: search by an event's readable name, the export of a search
(CSV/XLSX with each event's position in the log and, for the chain before the sealer, its hashes, compliance only), and before/after as a diff."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from oms import exports
from oms.audit_reading import ABSENT, Change, audit_changes
from oms.models import AuditEvent
from oms.services.audit_seal import audit_seal
from tests.export_files import content, csv_file, csv_table, sheet_file, sheet_table

AUDIT_URL = "/api/audit/"


@pytest.fixture
def trail(pm, trader, submit, cancel_order):
    """Five events, sealed as #1..#5: A received+accepted, B received+accepted, A cancelled by the trader."""
    a = submit(pm, client_order_id="A")
    submit(pm, client_order_id="B", quantity=10)
    cancel_order(trader, a.id)
    audit_seal()
    return a


def _seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["seq"] for row in response.json()["results"]]


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.content
    return csv_table(response)


# --- search in words -------------------------------------------------------------------------------


@pytest.mark.parametrize(("words", "expected"), [
    ("cancelled", [5]),
    ("Order Received", [3, 1]),
    ("ORDER.ACC", [4, 2]),  # a code, in part
    ("kill switch", []),
])
def test_audit_search_by_words_matches_an_event_label_or_code(words, expected, trail, compliance, api):
    assert _seqs(api(compliance).get(AUDIT_URL, {"q": words})) == expected


def test_audit_search_refuses_an_event_type_outside_the_catalogue(trail, compliance, api):
    response = api(compliance).get(AUDIT_URL, {"event_type": "order.denyed"})

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "validation_error", "event_type")


# --- the export ------------------------------------------------------------------------------------


def test_audit_csv_export_files_the_search_with_chain_positions_hashes_and_changes(trail, compliance, api):
    response = api(compliance).get(AUDIT_URL, {"object_id": trail.id, "object_type": "order", "format": "csv"})

    rows = _csv(response)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="audit-trail' in response["Content-Disposition"]
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Seq (position in the log)", "Time (UTC)", "Actor"]
    assert {"Event", "Event code", "Changes (old → new)", "Previous hash (chain)", "Hash (chain, SHA-256)"} <= set(header)
    col = {name: i for i, name in enumerate(header)}
    assert [int(r[col["Seq (position in the log)"]]) for r in body] == [5, 2, 1]  # A's events only, newest first
    stored = {e.seq: e for e in AuditEvent.objects.all()}
    for r in body:
        event = stored[int(r[0])]
        # Written after the switch to the sealer: no chain hashes (their proof download covers them).
        assert (r[col["Hash (chain, SHA-256)"]], r[col["Previous hash (chain)"]], r[col["Event code"]]) == ("", "", event.event_type)
    cancelled = body[0]
    assert (cancelled[col["Event"]], cancelled[col["Actor"]]) == ("Order cancelled", "desk_trader")
    assert "status: ACCEPTED → CANCELLED" in cancelled[col["Changes (old → new)"]].splitlines()


def test_audit_xlsx_export_is_one_sheet_of_the_search(trail, compliance, api):
    response = api(compliance).get(AUDIT_URL, {"q": "accepted", "format": "xlsx"})

    assert response.status_code == 200, response.content
    content = b"".join(response.streaming_content) if response.streaming else response.content
    book = load_workbook(io.BytesIO(content))
    assert len(book.worksheets) == 1
    values = sheet_table(book.worksheets[0])
    header = values[0]
    seq_col = header.index("Seq (position in the log)")
    assert [row[seq_col] for row in values[1:]] == [4, 2]  # numbers, not text
    assert {row[header.index("Event")] for row in values[1:]} == {"Order accepted"}


@pytest.mark.parametrize("role", ["pm", "trader"])
def test_audit_export_is_for_compliance_only(role, trail, api, request):
    response = api(request.getfixturevalue(role)).get(AUDIT_URL, {"format": "csv"})

    assert (response.status_code, response.json()["code"]) == (403, "permission.compliance_only")


def test_audit_export_refuses_an_unknown_format(trail, compliance, api):
    response = api(compliance).get(AUDIT_URL, {"format": "pdf"})

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "validation_error", "format")


def test_audit_xlsx_export_over_the_row_cap_asks_for_csv(trail, compliance, api, settings):
    settings.EXPORT_XLSX_MAX_ROWS = 4

    refused = api(compliance).get(AUDIT_URL, {"format": "xlsx"})
    narrowed = api(compliance).get(AUDIT_URL, {"format": "xlsx", "object_id": trail.id})

    assert (refused.status_code, refused.json()["code"], refused.json()["field"]) == (400, "audit.xlsx_too_large", "format")
    assert narrowed.status_code == 200


# --- before/after as a diff ------------------------------------------------------------------------


def test_changes_list_only_the_keys_that_changed_old_to_new():
    before = {"status": "ACCEPTED", "quantity": 100, "gone": "x"}
    after = {"status": "CANCELLED", "quantity": 100, "reason": "desk"}

    assert audit_changes(before, after) == [
        Change("status", "ACCEPTED", "CANCELLED"), Change("reason", ABSENT, "desk"), Change("gone", "x", ABSENT),
    ]
    assert str(Change("limit_price", "10.5", "10.4")) == "limit_price: 10.5 → 10.4"


def test_changes_of_a_creation_list_what_was_set_and_a_non_object_is_one_change():
    assert audit_changes(None, {"qty": 5, "px": {"v": 1}}) == [Change("qty", ABSENT, "5"), Change("px", ABSENT, '{"v":1}')]
    assert audit_changes("a", "b") == [Change("", "a", "b")]
    assert audit_changes({"a": 1}, {"a": 1}) == [] and audit_changes(None, None) == []


# --- the file's header block, name and parameters ---------------------------------------------------


def test_audit_export_says_the_period_the_search_and_who_exported_it(trail, compliance, api):
    query = {"since": "2020-01-01T00:00:00Z", "until": "2999-01-01T00:00:00+01:00", "q": "cancelled", "format": "csv"}

    as_csv = api(compliance).get(AUDIT_URL, query)
    as_xlsx = api(compliance).get(AUDIT_URL, {**query, "format": "xlsx"})

    meta, rows = csv_file(as_csv)
    assert meta["Report"] == "Audit trail"
    assert meta["Period"] == "since 2020-01-01 00:00:00 UTC until 2998-12-31 23:00:00 UTC (excluded)"
    assert meta["Filters"] == "q = cancelled; since = 2020-01-01T00:00:00Z; until = 2999-01-01T00:00:00+01:00"
    assert meta["Exported by"] == "compliance_officer (compliance)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", meta["Exported at"])
    assert "Sign convention" not in meta  # no signed figure in the trail
    assert rows[0][0] == "Seq (position in the log)" and [r[0] for r in rows[1:]] == ["5"]
    assert re.fullmatch(r'attachment; filename="audit-trail-from-20200101T000000Z-to-29981231T230000Z-\d{8}T\d{6}\.\d{3}Z\.csv"',
                        as_csv["Content-Disposition"])
    book = load_workbook(io.BytesIO(content(as_xlsx)))
    sheet_meta, values = sheet_file(book.worksheets[0])
    assert sheet_meta["Exported by"] == "compliance_officer (compliance)" and sheet_meta["Period"] == meta["Period"]
    assert values[0][0] == "Seq (position in the log)" and values[1][0] == 5
    assert book.worksheets[0].column_dimensions["B"].width == 24  # an instant's width
    assert book.worksheets[0].cell(len(sheet_meta) + 3, 2).number_format == "yyyy-mm-dd hh:mm:ss.000"


def test_two_audit_exports_a_millisecond_apart_have_distinct_names(trail, compliance, api, monkeypatch):
    instants = iter([datetime(2026, 12, 7, 14, 3, 12, 998_000, tzinfo=UTC), datetime(2026, 12, 7, 14, 3, 12, 999_000, tzinfo=UTC)])
    monkeypatch.setattr(exports, "now", lambda: next(instants))

    names = [api(compliance).get(AUDIT_URL, {"format": "xlsx"})["Content-Disposition"] for _ in range(2)]

    assert names == ['attachment; filename="audit-trail-all-20261207T140312.998Z.xlsx"',
                     'attachment; filename="audit-trail-all-20261207T140312.999Z.xlsx"']


def test_audit_export_without_the_header_block_is_the_bare_table(trail, compliance, api):
    bare = content(api(compliance).get(AUDIT_URL, {"format": "csv", "header": "none"})).decode()

    assert bare.startswith("Seq (position in the log),Time (UTC),Actor,")
    assert csv_table(bare.encode()) == csv_table(api(compliance).get(AUDIT_URL, {"format": "csv"}))


@pytest.mark.parametrize("bad", ["None", "no", "", "full\x00", "x" * 50_000])
def test_audit_export_refuses_a_header_value_it_does_not_know(bad, trail, compliance, api):
    response = api(compliance).get(AUDIT_URL, {"format": "csv", "header": bad})

    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", "header")
    assert "xxxx" not in response.json()["detail"]


def test_an_event_not_sealed_yet_is_exported_as_sealing(trail, pm, submit, compliance, api):
    submit(pm, client_order_id="C")

    rows = _csv(api(compliance).get(AUDIT_URL, {"format": "csv"}))

    assert [r[0] for r in rows[1:]] == ["sealing…", "sealing…", "5", "4", "3", "2", "1"]  # unsealed first, newest first
