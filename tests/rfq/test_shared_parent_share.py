"""One rule for a parent shared by several portfolios (``ems.selectors.parent_share`` / ``own_fills``): a PM
reads of it only their own share (their constituents' quantity, the fills allocated to them in the quantity
allocated to them) and never the providers' scorecards, on every endpoint they may read."""

from __future__ import annotations

from collections import defaultdict

import pytest

from ems.models import Allocation, Fill
from tests.conftest import api_for
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


def test_the_rfq_detail_shows_scorecards_to_the_desk_only(pooled_parent, providers, pm, trader, compliance):
    rfq = rfq_for(pooled_parent, trader)

    desk = api_for(trader).get(f"/api/rfqs/{rfq.id}/").json()
    assert desk["providers"] and all(p["score"] is not None for p in desk["providers"])
    assert api_for(compliance).get(f"/api/rfqs/{rfq.id}/").json()["providers"] == desk["providers"]
    as_pm = api_for(pm).get(f"/api/rfqs/{rfq.id}/")
    assert as_pm.status_code == 200 and as_pm.json()["providers"] == []
    assert api_for(pm).get("/api/liquidity-providers/").status_code == 403  # the same rule as the scorecards' own endpoint


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
    csv_text = api_for(pm).get("/api/tca/fills/", {"format": "csv"}).content.decode()

    assert {r["id"]: r["quantity"] for r in tca_fills} == mine
    assert {r["id"]: r["quantity"] for r in fills} == mine
    assert detail["fill_count"] == len(mine) and all(r["quantity"] == mine[r["id"]] for r in detail["fills"])
    assert (detail["quantity"], detail["filled_quantity"]) == (8_000, sum(mine.values()))
    assert (report["parent"]["quantity"], report["parent"]["filled_quantity"]) == (8_000, sum(mine.values()))
    assert {r["id"]: r["quantity"] for r in report["fills"]} == mine and report["fills_total"] == len(mine)
    assert report["children"] == [] and report["venues"] == []
    assert sum(f["qty"] for f in report["series"]["fills"]) == sum(mine.values())
    assert len(csv_text.strip().splitlines()) == len(mine) + 1
    # The desk still reads the parent whole.
    whole = api_for(trader).get(f"/api/tca/parent-orders/{closed_pool.id}/").json()
    assert whole["parent"]["quantity"] == 12_000 and whole["children"]
    assert {r["id"]: r["quantity"] for r in api_for(trader).get("/api/tca/fills/", {"page_size": 500}).json()["results"]} == dict(
        Fill.objects.filter(parent=closed_pool).values_list("id", "quantity"))
