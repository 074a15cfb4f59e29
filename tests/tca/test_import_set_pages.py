"""A large imported set is read in pages as JSON, streamed whole as CSV, and refused as an XLSX over
EXPORT_XLSX_MAX_ROWS with a code that says to use CSV."""

from __future__ import annotations

import pytest

from tca.models import ImportSet
from tests.export_files import csv_table

pytestmark = pytest.mark.django_db

HEADER = "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price"
ROWS = 120


@pytest.fixture
def big_set(api, trader):
    body = HEADER + "\n" + "".join(f"EXT-{i},2026-03-02T14:31:05+00:00,XNYS,limit,buy,{100 + i},100.10,100.00\n" for i in range(ROWS))
    created = api(trader).post("/api/tca/executions/import/?name=big", body, content_type="text/csv")
    assert created.status_code == 201, created.content
    return created


def test_the_import_answers_the_first_page_and_the_detail_pages_through_every_row(api, trader, big_set):
    first = big_set.json()
    assert first["count"] == ROWS and len(first["rows"]) == 50 and first["previous"] is None
    assert first["totals"]["rows"] == ROWS and first["totals"]["quantity"] == sum(100 + i for i in range(ROWS))
    client = api(trader)
    seen, url = [], first["next"]
    assert url.endswith(f"/api/tca/executions/imports/{first['id']}/?page=2")
    seen += [r["child_order_id"] for r in first["rows"]]
    while url:
        page = client.get(url).json()
        assert page["count"] == ROWS and page["totals"] == first["totals"]
        seen += [r["child_order_id"] for r in page["rows"]]
        url = page["next"]
    assert seen == [f"EXT-{i}" for i in range(ROWS)]  # file order, each row once

    sized = client.get(f"/api/tca/executions/imports/{first['id']}/?page_size=500").json()
    assert len(sized["rows"]) == ROWS and sized["next"] is None
    for bad in ("page_size=0", "page_size=501", "page=x"):
        refused = client.get(f"/api/tca/executions/imports/{first['id']}/?{bad}")
        assert refused.status_code == 400 and refused.json()["code"] == "validation_error"
    assert client.get(f"/api/tca/executions/imports/{first['id']}/?page=4").status_code == 404


def test_an_xlsx_over_the_row_cap_is_refused_and_the_csv_streams_the_whole_set(settings, api, trader, big_set):
    set_id = big_set.json()["id"]
    client = api(trader)
    settings.EXPORT_XLSX_MAX_ROWS = ROWS - 1

    refused = client.get(f"/api/tca/executions/imports/{set_id}/?format=xlsx")
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"
    assert refused.json()["code"] == "tca.xlsx_too_large" and refused.json()["field"] == "format"
    assert "format=csv" in refused.json()["detail"]

    streamed = client.get(f"/api/tca/executions/imports/{set_id}/?format=csv")
    assert streamed.status_code == 200 and streamed.streaming
    lines = csv_table(streamed)
    assert lines[0][:2] == ["Line in the file", "Child order ID"]
    assert [r[1] for r in lines[1:-1]] == [f"EXT-{i}" for i in range(ROWS)]
    assert lines[-1][1] == "TOTAL"

    settings.EXPORT_XLSX_MAX_ROWS = ROWS  # at the cap: the workbook
    assert client.get(f"/api/tca/executions/imports/{set_id}/?format=xlsx").status_code == 200
    assert ImportSet.objects.count() == 1
