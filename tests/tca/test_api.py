"""The TCA REST API on PostgreSQL with the real services: a parent worked to completion by the live driver,
its TCA computed, read as JSON and exported as CSV and XLSX; outside executions imported; a what-if replay."""

from __future__ import annotations

import io
import json
import re
from decimal import Decimal

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ems.models import Fill
from oms.models import AuditEvent
from oms.roles import Actor
from tca.models import ImportedExecution, ImportSet, ParentTCA, WhatIf
from tca.services import parent_tca_compute, reconciliation_run
from tests.export_files import csv_file, csv_table, sheet_file, sheet_table

pytestmark = pytest.mark.django_db

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADER = "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price"
GOOD_CSV = (
    f"{HEADER}\n"
    "EXT-1,2026-03-02T14:31:05.250+00:00,XNYS,limit,buy,1000,100.10,100.00\n"
    "EXT-2,2026-03-02T14:32:00+01:00,ARCX,market,sell,500,99.90,100.00\n"
)


@pytest.fixture
def done(worked_parent):
    """(parent, ParentTCA, pm's order, other pm's order): a TWAP of two PMs' orders worked to completion, analysed."""
    parent, mine, theirs = worked_parent
    return parent, parent_tca_compute(parent_id=parent.pk), mine, theirs


FILE_NAME = r'attachment; filename="{stem}-{period}-\d{{8}}T\d{{6}}\.\d{{3}}Z\.{fmt}"'


def _workbook(response):
    assert response["Content-Type"] == XLSX
    return openpyxl.load_workbook(io.BytesIO(response.content))


# --- one parent -------------------------------------------------------------------------------------------


def test_the_parent_report_carries_the_stored_figures_and_a_waterfall_that_adds_up(api, trader, done):
    parent, tca, _, _ = done

    body = api(trader).get(f"/api/tca/parent-orders/{parent.pk}/").json()

    assert body["parent"]["id"] == parent.pk and body["parent"]["filled_quantity"] == parent.filled_quantity
    assert body["provisional"] is False
    bench = {b["name"]: b for b in body["benchmarks"]}
    assert set(bench) == {"arrival", "decision", "interval_vwap", "interval_twap", "open", "close", "prev_close"}
    assert Decimal(bench["arrival"]["price"]) == tca.arrival_price
    assert bench["arrival"]["slippage_bps"] == pytest.approx(float(tca.slippage_arrival_bps), abs=1e-3)
    assert Decimal(bench["interval_vwap"]["price"]) == tca.interval_vwap
    steps = {w["component"]: Decimal(w["ccy"]) for w in body["waterfall"]}
    assert steps["total"] == tca.is_total
    assert sum(steps[k] for k in ("delay", "timing", "impact", "opportunity", "fees")) == pytest.approx(steps["total"], abs=Decimal("0.01"))
    assert body["fills_total"] == len(body["fills"]) == Fill.objects.filter(parent=parent).count()
    assert sum(v["quantity"] for v in body["venues"]) == parent.filled_quantity
    assert body["markouts"]["horizons_s"] == [1, 10, 60, 300]
    assert len(body["constituents"]) == 2  # the desk sees both PMs' orders
    assert body["series"]["market"]["mid"]


def test_the_parent_reports_shortfall_reads_as_every_figure_positive_is_better(api, trader, done):
    parent, tca, _, _ = done

    body = api(trader).get(f"/api/tca/parent-orders/{parent.pk}/").json()

    sf, bps = body["shortfall"], body["shortfall"]["bps"]
    decision = next(b for b in body["benchmarks"] if b["name"] == "decision")
    assert parent.filled_quantity == parent.quantity and Decimal(sf["opportunity"]) == 0
    # The filled part's shortfall is its slippage against the decision price: the same figure, the same sign.
    executed = sum(Decimal(sf[k]) for k in ("delay", "timing", "impact"))
    assert executed == pytest.approx(Decimal(decision["slippage_ccy"]), abs=Decimal("0.01"))
    assert executed != 0
    assert Decimal(sf["fees"]) == -tca.fees  # fees paid: a cost, negative (net rebates positive)
    paper = float(tca.quantity * tca.decision_price)
    assert bps["total"] == pytest.approx(float(decision["slippage_bps"]) - float(tca.fees) / paper * 1e4, abs=1e-3)


TABLES = ["summary", "benchmarks", "shortfall", "venues", "markouts", "children", "orders", "fills"]


def test_the_parent_report_exports_one_table_per_csv_and_every_table_in_one_xlsx(api, trader, done):
    parent, tca, _, _ = done
    client = api(trader)
    url = f"/api/tca/parent-orders/{parent.pk}/"

    first = client.get(url, {"format": "csv"})
    csvs = {name: client.get(url, {"format": "csv", "table": name}) for name in TABLES}
    as_xlsx = client.get(url, {"format": "xlsx"})

    assert first.status_code == 200 and first["Content-Type"] == "text/csv; charset=utf-8"
    day = f"D{parent.market_day}"
    assert re.fullmatch(FILE_NAME.format(stem=f"tca-parent-{parent.pk}-summary", period=day, fmt="csv"), first["Content-Disposition"])
    assert re.fullmatch(FILE_NAME.format(stem=f"tca-parent-{parent.pk}-fills", period=day, fmt="csv"), csvs["fills"]["Content-Disposition"])
    meta, summary = csv_file(first)
    assert csv_file(csvs["summary"])[1] == summary  # the summary is the default
    assert meta["Report"] == f"TCA of parent order {parent.pk}" and meta["Period"] == f"market day {parent.market_day}"
    assert meta["Table"].startswith("summary (1 of 8: summary, benchmarks,") and meta["Exported by"] == "desk_trader (trader)"
    assert summary[0][:4] == ["ID", "Instrument", "Side", "Algorithm"] and len(summary) == 2 and summary[1][0] == str(parent.pk)
    for name, response in csvs.items():  # one table per file: no section titles, no empty line inside
        _, table = csv_file(response)
        assert all(row for row in table) and not any(row[0].startswith("[") for row in table), name
    benchmarks = csv_file(csvs["benchmarks"])[1]
    assert benchmarks[0] == ["Benchmark", "Price (USD)", "Slippage vs benchmark (bps, + = better)", "Slippage vs benchmark (USD, + = better)"]
    assert csv_file(csvs["shortfall"])[1][0] == ["Component", "Shortfall (USD, + = better)", "Shortfall (bps, + = better)"]
    arrival = next(r for r in benchmarks[1:] if r[0] == "arrival")
    assert Decimal(arrival[1]) == tca.arrival_price
    fills_meta, fills = csv_file(csvs["fills"])
    assert len(fills) - 1 == Fill.objects.filter(parent=parent).count() == int(fills_meta["Rows"].replace(",", ""))

    book = _workbook(as_xlsx)
    assert re.fullmatch(FILE_NAME.format(stem=f"tca-parent-{parent.pk}", period=day, fmt="xlsx"), as_xlsx["Content-Disposition"])
    assert book.sheetnames == TABLES
    sheet_meta, rows = sheet_file(book["benchmarks"])
    assert sheet_meta["Table"].startswith("benchmarks (2 of 8") and sheet_meta["Exported by"] == "desk_trader (trader)"
    assert rows[0] == tuple(benchmarks[0])
    assert next(r for r in rows if r[0] == "arrival")[1] == pytest.approx(float(tca.arrival_price))
    shortfall = {r[0]: r[1] for r in sheet_table(book["shortfall"])[1:]}
    assert shortfall["total"] == pytest.approx(float(tca.is_total), abs=1e-6)


@pytest.mark.parametrize("bad", ["parent", "FILLS", "fills\x00", "x" * 100_000, ""])
def test_the_parent_report_refuses_a_table_it_does_not_have(api, trader, done, bad):
    parent, _, _, _ = done

    response = api(trader).get(f"/api/tca/parent-orders/{parent.pk}/", {"format": "csv", "table": bad})

    assert (response.status_code, response.json()["code"], response.json()["field"]) == (400, "validation_error", "table")
    assert "xxxx" not in response.json()["detail"]  # a huge value is not echoed back


def test_the_same_report_can_be_asked_for_with_the_accept_header(api, trader, done):
    parent, _, _, _ = done
    response = api(trader).get(f"/api/tca/parent-orders/{parent.pk}/", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert csv_table(response)[0][0] == "ID"


# --- summary, best execution, fills -----------------------------------------------------------------------


def test_the_summary_groups_by_venue_and_by_algorithm_and_filters(api, trader, done):
    parent, tca, _, _ = done
    client = api(trader)

    by_venue = client.get("/api/tca/summary/").json()
    by_algo = client.get("/api/tca/summary/?group_by=algorithm").json()
    sells = client.get("/api/tca/summary/?group_by=algorithm&side=sell").json()
    later = client.get(f"/api/tca/summary/?group_by=algorithm&day_from={parent.market_day + 1}").json()

    venues = set(Fill.objects.filter(parent=parent).values_list("venue__code", flat=True))
    assert by_venue["group_by"] == "venue" and {r["key"] for r in by_venue["rows"]} == venues
    assert sum(r["quantity"] for r in by_venue["rows"]) == parent.filled_quantity
    [row] = by_algo["rows"]
    assert row["key"] == "twap" and row["parents"] == 1 and row["quantity"] == parent.filled_quantity
    assert row["slippage_arrival_bps"] == pytest.approx(float(tca.slippage_arrival_bps), abs=1e-3)
    assert row["is_bps"] == pytest.approx(float(tca.is_total / (tca.quantity * tca.decision_price)) * 1e4, abs=1e-3)
    assert sells["rows"] == [] and sells["filters"] == {"side": "sell"}
    assert later["rows"] == []


def test_the_summary_exports_as_csv_and_xlsx(api, trader, done):
    parent, tca, _, _ = done
    client = api(trader)

    day = parent.market_day
    as_csv = client.get(f"/api/tca/summary/?group_by=algorithm&format=csv&day_from={day}&instrument={parent.instrument.symbol}")
    book = _workbook(client.get("/api/tca/summary/?group_by=period&format=xlsx"))

    meta, rows = csv_file(as_csv)
    assert re.fullmatch(FILE_NAME.format(stem="tca-summary-algorithm", period=f"D{day}-on", fmt="csv"), as_csv["Content-Disposition"])
    assert meta["Period"] == f"market day {day} onwards"
    assert meta["Filters"] == f"instrument = {parent.instrument.symbol}; day_from = {day}"
    assert meta["Sign convention"].startswith("+ = better") and meta["Rows"] == "1"
    assert rows[0] == ["Algorithm", "Parent orders", "Fills", "Quantity (shares)", "Notional (USD)", "Slippage vs arrival (bps, + = better)",
                       "Slippage vs interval VWAP (bps, + = better)", "Implementation shortfall (bps, + = better)", "Fees (USD)"]
    assert rows[1][0] == "twap" and int(rows[1][3]) == parent.filled_quantity
    sheet = book.worksheets[0]
    sheet_meta, (header, first) = sheet_file(sheet)
    assert sheet_meta["Period"] == "all" and sheet_meta["Filters"] == "none"
    assert header[0] == "Market day" and first[0] == parent.market_day and first[3] == parent.filled_quantity


def test_best_execution_answers_each_venue_and_exports(api, compliance, done):
    parent, _, _, _ = done
    client = api(compliance)

    body = client.get("/api/tca/best-execution/").json()
    book = _workbook(client.get("/api/tca/best-execution/?format=xlsx"))

    assert sum(r["volume"] for r in body["rows"]) == parent.filled_quantity
    for r in body["rows"]:
        shares = r["passive_share"] + r["aggressive_share"] + r["midpoint_share"] + r["rfq_share"] + r["internal_share"]
        assert shares == pytest.approx(1.0) and r["orders"] == 1
    rows = sheet_table(book.worksheets[0])
    assert rows[0][:3] == ("Venue", "Venue kind", "Volume (shares)")
    assert {r[0]: r[2] for r in rows[1:]} == {r["venue"]: r["volume"] for r in body["rows"]}


def test_the_fills_carry_their_metrics_and_filter_by_parent_and_venue(api, trader, done):
    parent, tca, _, _ = done
    client = api(trader)
    fills = list(Fill.objects.filter(parent=parent).select_related("venue", "tca").order_by("market_time_us", "id"))
    venue = fills[0].venue.code

    client.get("/api/tca/fills/?page_size=1")  # warm the per-process caches (token, roles)
    with CaptureQueriesContext(connection) as one:
        client.get(f"/api/tca/fills/?parent={parent.pk}&page_size=1")
    with CaptureQueriesContext(connection) as all_of_them:
        page = client.get(f"/api/tca/fills/?parent={parent.pk}&page_size=500").json()
    one_venue = client.get(f"/api/tca/fills/?parent={parent.pk}&venue={venue.lower()}").json()
    none = client.get(f"/api/tca/fills/?parent={parent.pk + 1000}").json()

    assert page["count"] == len(fills) > 3
    assert len(all_of_them) == len(one)  # no query per fill
    first = page["results"][0]
    assert first["id"] == fills[0].pk and Decimal(first["mid"]) == fills[0].tca.mid
    assert first["markout_60s_bps"] is not None
    expected = (1 if parent.side == "buy" else -1) * (tca.arrival_price - fills[0].price) / tca.arrival_price * 10_000
    assert Decimal(first["slippage_arrival_bps"]) == pytest.approx(expected, abs=Decimal("0.0001"))
    assert one_venue["count"] == sum(1 for f in fills if f.venue.code == venue)
    assert none["count"] == 0


def test_the_fills_export_whole_as_csv_and_xlsx(api, trader, done):
    parent, _, _, _ = done
    client = api(trader)
    n = Fill.objects.filter(parent=parent).count()

    as_csv = client.get(f"/api/tca/fills/?parent={parent.pk}&format=csv")
    meta, rows = csv_file(as_csv)
    bare = csv_table(client.get(f"/api/tca/fills/?parent={parent.pk}&format=csv&header=none").content)
    book = _workbook(client.get(f"/api/tca/fills/?parent={parent.pk}&format=xlsx"))

    assert meta["Filters"] == f"parent = {parent.pk}" and meta["Rows"] == f"{n:,}"
    assert re.fullmatch(FILE_NAME.format(stem="tca-fills", period="all", fmt="csv"), as_csv["Content-Disposition"])
    assert rows[0][:4] == ["ID", "Exec ID", "Parent order", "Child order"] and len(rows) == n + 1
    assert "Executed at (UTC)" in rows[0] and "Market time (µs since the open)" in rows[0] and "Price (USD)" in rows[0]
    assert bare == rows  # ?header=none: the same table, nothing before it
    sheet = sheet_table(book.worksheets[0])
    assert sheet[0] == tuple(rows[0]) and len(sheet) == n + 1
    first = Fill.objects.filter(parent=parent).order_by("market_day", "market_time_us", "id").first()
    assert sheet[1][0] == first.pk and sheet[1][8] == pytest.approx(float(first.price))


# --- imports ----------------------------------------------------------------------------------------------


def _check_good_import(body):
    # buy 1000 @ 100.10 vs 100.00: (100 - 100.10) / 100 = -10 bps, -100.00; sell 500 @ 99.90 vs 100.00: -(100 - 99.90) / 100 = -10 bps, -50.00
    assert [(r["line"], r["child_order_id"], Decimal(r["slippage_bps"]), Decimal(r["slippage_ccy"])) for r in body["rows"]] == [
        (2, "EXT-1", Decimal("-10"), Decimal("-100")), (3, "EXT-2", Decimal("-10"), Decimal("-50"))]
    t = body["totals"]
    assert t["rows"] == 2 and t["quantity"] == 1500
    assert Decimal(t["avg_price"]) == Decimal("100.033333") and Decimal(t["avg_benchmark"]) == Decimal("100")
    assert Decimal(t["slippage_bps"]) == Decimal("-10") and Decimal(t["slippage_ccy"]) == Decimal("-150")


def test_a_csv_body_is_imported_with_per_row_slippage_and_weighted_totals(api, trader):
    client = api(trader)

    created = client.post("/api/tca/executions/import/?name=Broker%20X", data=GOOD_CSV.encode(), content_type="text/csv")

    assert created.status_code == 201, created.json()
    body = created.json()
    _check_good_import(body)
    assert body["name"] == "Broker X" and body["source"] == "api:desk_trader" and body["uploaded_by"] == "desk_trader"
    s = ImportSet.objects.get()
    assert s.pk == body["id"] and ImportedExecution.objects.filter(import_set=s).count() == 2
    assert AuditEvent.objects.filter(event_type="tca.import", object_id=str(s.pk)).exists()
    # Kept, and reopened.
    _check_good_import(client.get(f"/api/tca/executions/imports/{s.pk}/").json())
    listed = client.get("/api/tca/executions/imports/").json()
    assert [r["id"] for r in listed["results"]] == [s.pk] and listed["results"][0]["totals"]["quantity"] == 1500


def test_a_multipart_upload_is_imported_with_its_name(api, pm):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api(pm).post("/api/tca/executions/import/", {
        "file": SimpleUploadedFile("fills-march.csv", ("\ufeff" + GOOD_CSV).encode(), content_type="text/csv"), "name": "March"},
        format="multipart")

    assert response.status_code == 201, response.json()
    _check_good_import(response.json())
    assert response.json()["name"] == "March"


def test_an_upload_without_a_name_is_named_after_its_file(api, pm):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = api(pm).post("/api/tca/executions/import/", {"file": SimpleUploadedFile("fills-april.csv", GOOD_CSV.encode())},
                            format="multipart")

    assert response.status_code == 201 and response.json()["name"] == "fills-april.csv"


def test_an_imported_set_exports_its_rows_and_a_total_line(api, trader):
    client = api(trader)
    set_id = client.post("/api/tca/executions/import/", data=GOOD_CSV.encode(), content_type="text/csv").json()["id"]

    streamed = client.get(f"/api/tca/executions/imports/{set_id}/?format=csv")  # streamed: any size
    meta, rows = csv_file(streamed)
    book = _workbook(client.get(f"/api/tca/executions/imports/{set_id}/?format=xlsx"))

    assert meta["Report"] == "Imported executions: API import" and meta["Rows"] == "3"  # two rows and the TOTAL line
    assert rows[0] == ["Line in the file", "Child order ID", "Executed at (UTC)", "Venue", "Order type", "Side", "Quantity (shares)",
                       "Price", "Benchmark price", "Slippage vs benchmark (bps, + = better)", "Slippage vs benchmark (+ = better)"]
    assert rows[1][1] == "EXT-1" and Decimal(rows[1][-2]) == Decimal("-10")
    assert rows[-1][1] == "TOTAL" and Decimal(rows[-1][-1]) == Decimal("-150")
    sheet = sheet_table(book.worksheets[0])
    assert sheet[0] == tuple(rows[0]) and sheet[2][1] == "EXT-2" and sheet[2][6] == 500
    assert sheet[-1][1] == "TOTAL" and sheet[-1][-2] == pytest.approx(-10.0)


# --- what-if and reconciliation ---------------------------------------------------------------------------


def _fills(execs):
    return sorted((round(e["t"] * 1e6), e["venue"], e["qty"], e["price"]) for e in execs)


def test_a_what_if_with_the_same_algorithm_reproduces_the_original_side_by_side(api, trader, done):
    parent, _, _, _ = done
    client = api(trader)

    created = client.post(f"/api/tca/parent-orders/{parent.pk}/what-if/", {"strategy": "twap"}, format="json")

    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["parent_id"] == parent.pk and body["strategy"] == "twap"
    assert _fills(body["what_if"]["executions"]) == _fills(body["original"]["executions"])
    assert body["what_if"]["filled"] == body["original"]["filled"] == parent.filled_quantity
    assert body["what_if"]["slippage"]["arrival"] == body["original"]["slippage"]["arrival"]
    wi = WhatIf.objects.get()
    assert wi.pk == body["id"] and wi.requested_by == trader
    assert client.get(f"/api/tca/what-ifs/{wi.pk}/").json() == body
    assert [w["id"] for w in client.get(f"/api/tca/what-ifs/?parent={parent.pk}").json()["results"]] == [wi.pk]
    assert client.get(f"/api/tca/parent-orders/{parent.pk}/").json()["what_ifs"][0]["id"] == wi.pk


def test_a_what_if_with_other_parameters_runs_them(api, trader, done):
    parent, _, _, _ = done

    body = api(trader).post(f"/api/tca/parent-orders/{parent.pk}/what-if/",
                            {"strategy": "pov", "params": {"rate": 0.2, "dark": False}}, format="json").json()

    wi = WhatIf.objects.get(pk=body["id"])
    assert wi.strategy == "pov" and wi.params["rate"] == 0.2 and wi.params["dark"] is False
    assert body["what_if"]["strategy"] == "pov" and body["original"]["strategy"] == "twap"
    assert all(e["liquidity"] != "mid" for e in body["what_if"]["executions"])  # no dark pegs


def test_the_reconciliation_runs_are_listed_with_their_breaks(api, compliance, done):
    run = reconciliation_run(actor=Actor.system("tests.tca"))

    body = api(compliance).get("/api/tca/reconciliation/").json()

    assert body["count"] == 1
    [row] = body["results"]
    assert row["id"] == run.pk and row["ok"] is True and row["breaks"] == [] and row["parents_checked"] >= 1
    assert ParentTCA.objects.count() == 1


# --- the answers match the published schema ---------------------------------------------------------------


def test_every_answer_with_data_matches_the_openapi_schema(api, trader, done):
    """The schema fuzz (tests/oms/test_api_schema_fuzz.py) has no analysed parent: check the full answers here."""
    import requests
    import schemathesis
    from drf_spectacular.generators import SchemaGenerator
    from rest_framework.renderers import JSONRenderer
    from schemathesis.core.transport import Response

    raw = json.loads(JSONRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    schema = schemathesis.openapi.from_dict(raw)
    parent, _, _, _ = done
    client = api(trader)
    wi = client.post(f"/api/tca/parent-orders/{parent.pk}/what-if/", {"strategy": "vwap"}, format="json")
    imported = client.post("/api/tca/executions/import/", data=GOOD_CSV.encode(), content_type="text/csv")
    rejected = client.post("/api/tca/executions/import/", data=f"{HEADER}\nX,bad,V,limit,hold,0,1,1\n".encode(), content_type="text/csv")
    reconciliation_run(actor=Actor.system("tests.tca"))
    answers = [
        ("/api/tca/parent-orders/{id}/", "GET", client.get(f"/api/tca/parent-orders/{parent.pk}/")),
        ("/api/tca/parent-orders/{id}/what-if/", "POST", wi),
        ("/api/tca/what-ifs/{id}/", "GET", client.get(f"/api/tca/what-ifs/{wi.json()['id']}/")),
        ("/api/tca/what-ifs/", "GET", client.get("/api/tca/what-ifs/")),
        *[("/api/tca/summary/", "GET", client.get(f"/api/tca/summary/?group_by={g}")) for g in ("venue", "algorithm", "portfolio", "period")],
        ("/api/tca/best-execution/", "GET", client.get("/api/tca/best-execution/")),
        ("/api/tca/fills/", "GET", client.get("/api/tca/fills/")),
        ("/api/tca/executions/import/", "POST", imported),
        ("/api/tca/executions/import/", "POST", rejected),
        ("/api/tca/executions/imports/", "GET", client.get("/api/tca/executions/imports/")),
        ("/api/tca/executions/imports/{id}/", "GET", client.get(f"/api/tca/executions/imports/{imported.json()['id']}/")),
        ("/api/tca/reconciliation/", "GET", client.get("/api/tca/reconciliation/")),
        ("/api/tca/summary/", "GET", client.get("/api/tca/summary/?format=csv")),
        ("/api/tca/fills/", "GET", client.get("/api/tca/fills/?format=xlsx")),
    ]
    assert rejected.status_code == 400 and wi.status_code == 201
    for path, method, answer in answers:
        response = Response(status_code=answer.status_code, headers={k.lower(): [v] for k, v in answer.items()},
                            content=answer.content, request=requests.Request(method, f"http://testserver{path}").prepare(),
                            elapsed=0.0, verify=True)
        schema[path][method].validate_response(response)  # raises on a body or status the schema does not declare
