"""A PM's share of a parent pooling two PMs' orders, on the TCA and parent endpoints that still carried the
whole parent (issue 19, item 3): the parent report's participation and its CSV / XLSX exports, the parent
detail's algorithm parameters, and the what-if replays of a shared parent (whole-parent executions)."""

from __future__ import annotations

import io

import openpyxl
import pytest

from ems.models import Allocation, Fill
from oms.roles import Actor
from tca.services import what_if_run
from tests.conftest import api_for
from tests.export_files import csv_table, sheet_table
from tests.tca.builders import closed_parent

pytestmark = pytest.mark.django_db


@pytest.fixture
def pool(settings, instrument, portfolio, pm, other_portfolio, other_pm, venues):
    """The closed 12,000 buy: 8,000 of pm's, 4,000 of other_pm's, TCA computed."""
    return closed_parent(settings, instrument=instrument, portfolio=portfolio, pm=pm, other_portfolio=other_portfolio, other_pm=other_pm)


def _mine(portfolio) -> dict[int, int]:
    out: dict[int, int] = {}
    for fill_id, qty in Allocation.objects.filter(order__portfolio=portfolio).values_list("fill_id", "quantity"):
        out[fill_id] = out.get(fill_id, 0) + qty
    return out


def test_the_parent_report_s_participation_is_the_pms_share_of_it(pool, pm, portfolio, trader):
    whole = api_for(trader).get(f"/api/tca/parent-orders/{pool.id}/").json()["parent"]
    mine = api_for(pm).get(f"/api/tca/parent-orders/{pool.id}/").json()["parent"]

    assert whole["participation"] and mine["filled_quantity"] == sum(_mine(portfolio).values()) < whole["filled_quantity"]
    assert mine["participation"] == pytest.approx(whole["participation"] * mine["filled_quantity"] / whole["filled_quantity"], rel=1e-6)


def test_the_parent_report_exports_carry_only_the_pms_share(pool, pm, portfolio):
    mine = _mine(portfolio)

    def table(name: str) -> list[dict]:
        response = api_for(pm).get(f"/api/tca/parent-orders/{pool.id}/", {"format": "csv", "table": name})
        header, *rows = csv_table(response)
        return [dict(zip(header, row, strict=True)) for row in rows]

    book = openpyxl.load_workbook(io.BytesIO(api_for(pm).get(f"/api/tca/parent-orders/{pool.id}/", {"format": "xlsx"}).content))

    (parent,) = table("summary")
    assert (parent["Quantity (shares)"], parent["Filled (shares)"]) == ("8000", str(sum(mine.values())))
    assert {int(r["ID"]): int(r["Quantity (shares)"]) for r in table("fills")} == mine
    assert table("children") == [] and table("venues") == []
    assert all("12000" not in str(r) for name in ("summary", "fills", "orders") for r in table(name))
    head, row = sheet_table(book["summary"])
    sheet = dict(zip(head, row, strict=True))
    assert (sheet["Quantity (shares)"], sheet["Filled (shares)"]) == (8000, sum(mine.values()))
    head, *rows = sheet_table(book["fills"])
    assert {int(r[head.index("ID")]): int(r[head.index("Quantity (shares)")]) for r in rows} == mine


def test_the_parent_detail_s_algorithm_parameters_carry_the_pms_quantity(pool, pm, trader):
    assert api_for(pm).get(f"/api/parent-orders/{pool.id}/").json()["params"]["qty"] == 8_000
    assert api_for(trader).get(f"/api/parent-orders/{pool.id}/").json()["params"]["qty"] == 12_000


def test_a_pm_reads_no_what_if_replay_of_a_shared_parent(pool, pm, other_pm, trader):
    run = what_if_run(parent_id=pool.pk, strategy="twap", params={}, user=trader, actor=Actor.for_user(trader, "api"))
    assert run.summary["original"]["quantity"] == 12_000  # a replay is the whole parent's

    for user in (pm, other_pm):
        assert api_for(user).get("/api/tca/what-ifs/").json()["results"] == []
        assert api_for(user).get(f"/api/tca/what-ifs/{run.pk}/").json()["code"] == "not_found"
    assert [w["id"] for w in api_for(trader).get("/api/tca/what-ifs/").json()["results"]] == [run.pk]
    assert Fill.objects.filter(parent=pool).count() == len(api_for(trader).get(f"/api/tca/what-ifs/{run.pk}/").json()["original"]["executions"])
