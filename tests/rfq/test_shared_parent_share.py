"""One rule for a parent shared by several portfolios (``ems.selectors.parent_share`` / ``own_fills``): a PM
reads of it only their own share (their constituents' quantity, the fills allocated to them in the quantity
allocated to them) and never the providers' scorecards, on every endpoint they may read."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from django.urls import reverse

from ems.models import Allocation, Fill
from tca.models import ParentTCA
from tests.conftest import api_for
from tests.export_files import csv_table
from tests.rfq.services_helpers import rfq_for
from tests.tca.builders import closed_parent

pytestmark = pytest.mark.django_db


def _mine(portfolio) -> dict[int, int]:
    """Fill id -> the quantity allocated to ``portfolio``."""
    out: dict[int, int] = defaultdict(int)
    for fill_id, qty in Allocation.objects.filter(order__portfolio=portfolio).values_list("fill_id", "quantity"):
        out[fill_id] += qty
    return dict(out)


def test_a_pm_reads_their_own_share_of_a_pooled_parent(pooled_parent, pm, other_pm, trader):
    for user, share in ((pm, 6_000), (other_pm, 4_000)):
        listed = api_for(user).get("/api/parent-orders/").json()["results"]
        detail = api_for(user).get(f"/api/parent-orders/{pooled_parent.id}/").json()
        assert [p["quantity"] for p in listed if p["id"] == pooled_parent.id] == [share]
        assert (detail["quantity"], detail["progress"]["quantity"]) == (share, share)
        assert sum(c["quantity"] for c in detail["constituents"]) == share
        assert detail["children"] == [] and detail["venues"] == []
    assert api_for(trader).get(f"/api/parent-orders/{pooled_parent.id}/").json()["quantity"] == 10_000


def test_the_rfq_detail_and_its_scorecards_are_the_desks_only(pooled_parent, providers, pm, trader, compliance):
    rfq = rfq_for(pooled_parent, trader)

    desk = api_for(trader).get(f"/api/rfqs/{rfq.id}/").json()
    assert desk["quantity"] == rfq.quantity and desk["providers"] and all(p["score"] is not None for p in desk["providers"])
    assert api_for(compliance).get(f"/api/rfqs/{rfq.id}/").json()["providers"] == desk["providers"]
    # An RFQ's quantity and ladder sizes are the whole parent's: a PM reads none of it (their part of what came of it is
    # in /api/fills/), as /api/liquidity-providers/ and the RFQ pages refuse them.
    as_pm = api_for(pm).get(f"/api/rfqs/{rfq.id}/")
    assert as_pm.status_code == 403 and as_pm.json()["code"] == "permission.desk_only" and "ladder" not in as_pm.json()
    assert api_for(pm).get("/api/liquidity-providers/").status_code == 403


@pytest.fixture
def closed_pool(settings, instrument, portfolio, pm, other_portfolio, other_pm, venues):
    """The closed 12,000 buy: 8,000 of pm's, 4,000 of other_pm's, fills allocated to both, TCA computed."""
    return closed_parent(settings, instrument=instrument, portfolio=portfolio, pm=pm, other_portfolio=other_portfolio, other_pm=other_pm)


def test_every_fill_a_pm_reads_is_their_allocation(closed_pool, pm, portfolio, trader):
    mine = _mine(portfolio)
    assert any(qty < Fill.objects.get(pk=fid).quantity for fid, qty in mine.items()), "no fill is shared: the test proves nothing"

    tca_fills = api_for(pm).get("/api/tca/fills/", {"page_size": 500}).json()["results"]
    fills = api_for(pm).get("/api/fills/", {"page_size": 500}).json()["results"]
    detail = api_for(pm).get(f"/api/parent-orders/{closed_pool.id}/").json()
    report = api_for(pm).get(f"/api/tca/parent-orders/{closed_pool.id}/").json()
    csv_rows = csv_table(api_for(pm).get("/api/tca/fills/", {"format": "csv"}))

    assert {r["id"]: r["quantity"] for r in tca_fills} == mine
    assert {r["id"]: r["quantity"] for r in fills} == mine
    assert detail["fill_count"] == len(mine) and all(r["quantity"] == mine[r["id"]] for r in detail["fills"])
    assert (detail["quantity"], detail["filled_quantity"]) == (8_000, sum(mine.values()))
    assert (report["parent"]["quantity"], report["parent"]["filled_quantity"]) == (8_000, sum(mine.values()))
    assert {r["id"]: r["quantity"] for r in report["fills"]} == mine and report["fills_total"] == len(mine)
    assert report["children"] == [] and report["venues"] == []
    assert sum(f["qty"] for f in report["series"]["fills"]) == sum(mine.values())
    assert len(csv_rows) == len(mine) + 1
    # The desk still reads the parent whole.
    whole = api_for(trader).get(f"/api/tca/parent-orders/{closed_pool.id}/").json()
    assert whole["parent"]["quantity"] == 12_000 and whole["children"]
    assert {r["id"]: r["quantity"] for r in api_for(trader).get("/api/tca/fills/", {"page_size": 500}).json()["results"]} == dict(
        Fill.objects.filter(parent=closed_pool).values_list("id", "quantity"))


# --- the TCA groupings: summary and best execution, as API, export and page ----------------------------------


def _mine_by_venue(portfolio) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for venue, qty in Allocation.objects.filter(order__portfolio=portfolio).values_list("fill__venue__code", "quantity"):
        out[venue] += qty
    return dict(out)


def _my_arrival_bps(parent, portfolio) -> float:
    """The PM's slippage against arrival, quantity-weighted over the fills allocated to them (a buy)."""
    arrival = ParentTCA.objects.get(parent=parent).arrival_price
    rows = Allocation.objects.filter(order__portfolio=portfolio).values_list("quantity", "fill__price")
    return float(sum(q * (arrival - p) for q, p in rows) / sum(q * arrival for q, _ in rows) * 10_000)


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    header, *rows = csv_table(response)
    return [dict(zip(header, row, strict=True)) for row in rows]


@pytest.mark.parametrize("group_by", ["venue", "algorithm", "period"])
def test_the_tca_summary_adds_up_only_a_pms_share(closed_pool, pm, portfolio, trader, group_by):
    mine = _mine(portfolio)

    rows = api_for(pm).get("/api/tca/summary/", {"group_by": group_by}).json()["rows"]

    assert sum(r["quantity"] for r in rows) == sum(mine.values()) < 12_000
    assert sum(r["fills"] for r in rows) == len(mine)
    if group_by == "venue":
        assert {r["key"]: r["quantity"] for r in rows} == _mine_by_venue(portfolio)
    else:
        (row,) = rows
        assert row["parents"] == 1 and Decimal(row["notional"]) == sum(a.quantity * a.fill.price for a in
                                                                        Allocation.objects.filter(order__portfolio=portfolio).select_related("fill"))
        assert row["slippage_arrival_bps"] == pytest.approx(_my_arrival_bps(closed_pool, portfolio), abs=6e-4)  # (3 decimals)
    desk = api_for(trader).get("/api/tca/summary/", {"group_by": group_by}).json()["rows"]
    assert sum(r["quantity"] for r in desk) == 12_000


def test_the_tca_summary_export_carries_only_a_pms_share(closed_pool, pm, portfolio):
    for group_by in ("venue", "algorithm"):
        rows = _csv(api_for(pm).get("/api/tca/summary/", {"group_by": group_by, "format": "csv"}))
        assert sum(int(r["Quantity (shares)"]) for r in rows) == sum(_mine(portfolio).values())


def test_the_tca_summary_page_shows_only_a_pms_share(client, closed_pool, pm, portfolio):
    client.force_login(pm)
    mine = sum(_mine(portfolio).values())

    for group_by in ("venue", "algorithm"):
        html = client.get(reverse("tca-summary"), {"group_by": group_by}).content.decode()
        # The groups, the All line and the parents analysed: 8,000 ordered, what was allocated to them filled.
        assert "12,000" not in html, group_by
        assert f"{mine:,}" in html and "8,000" in html
        row = html[html.index(f"P{closed_pool.id}</a>"):]
        row = row[:row.index("</tr>")]
        assert "8,000" in row and f"{mine:,}" in row


def test_the_best_execution_report_adds_up_only_a_pms_share(closed_pool, pm, portfolio, trader):
    by_venue = _mine_by_venue(portfolio)

    rows = api_for(pm).get("/api/tca/best-execution/").json()["rows"]

    assert {r["venue"]: r["volume"] for r in rows} == by_venue
    assert sum(r["fills"] for r in rows) == len(_mine(portfolio)) and {r["orders"] for r in rows} == {1}
    # The child orders are the whole parent's: the desk's figures.
    assert {(r["children"], r["child_quantity_sent"], r["fill_rate"]) for r in rows} == {(None, None, None)}
    desk = api_for(trader).get("/api/tca/best-execution/").json()["rows"]
    assert sum(r["volume"] for r in desk) == 12_000 and all(r["children"] is not None for r in desk)


def test_the_best_execution_export_carries_only_a_pms_share(closed_pool, pm, portfolio):
    rows = _csv(api_for(pm).get("/api/tca/best-execution/", {"format": "csv"}))
    assert {r["Venue"]: int(r["Volume (shares)"]) for r in rows} == _mine_by_venue(portfolio)


def test_the_best_execution_page_shows_only_a_pms_share(client, closed_pool, pm, portfolio, trader):
    whole = {r["venue"]: r["volume"] for r in api_for(trader).get("/api/tca/best-execution/").json()["rows"]}
    mine = _mine_by_venue(portfolio)
    client.force_login(pm)

    html = client.get(reverse("tca-best-execution")).content.decode()

    for venue, volume in mine.items():
        row = html[html.index(f'data-venue="{venue}"'):]
        row = row[:row.index("</tr>")]
        assert f">{volume:,}<" in row, venue
        if whole[venue] != volume:
            assert f">{whole[venue]:,}<" not in row, venue


def test_the_order_page_shows_a_pm_their_allocations_not_the_whole_fills(client, closed_pool, pm, portfolio, trader):
    order = closed_pool.constituents.get(order__portfolio=portfolio).order
    shared = [(own, Fill.objects.get(pk=fid).quantity) for fid, own in _mine(portfolio).items()]
    shared = [(own, whole) for own, whole in shared if own < whole]
    assert shared, "no fill is shared: the test proves nothing"

    def executions(user) -> str:  # the page's table of the order's executions
        client.force_login(user)
        page = client.get(reverse("order-detail", args=[order.id])).content.decode()
        table = page[page.index('id="executions"'):]
        return table[:table.index("</table>")]

    html, desk = executions(pm), executions(trader)

    for own, whole in shared:
        assert f'<td class="num">{own:,}</td>' in html and f'<td class="num muted">{whole:,}</td>' not in html
        assert f'<td class="num muted">{whole:,}</td>' in desk
