"""TCA reads: the groupings against hand-computed figures, the parent report, and who sees what."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ems.services.venues import venues_sync_from_sim
from ems.sim.clock import US
from ems.states import ExecStatus
from oms.errors import DomainError
from tca.models import ParentTCA
from tca.reports import parent_report
from tca.selectors import best_execution, fills_for_export, summary
from tca.services import parent_tca_compute
from tests.ems import factories as f

pytestmark = pytest.mark.django_db
START = 30 * 60 * US


def _parent(instrument, orders, *, side, strategy, fills):
    p = f.parent(instrument=instrument, orders=orders, side=side, strategy=strategy, arrival_price="100.00", start_us=START,
                 end_us=START + 20 * 60 * US, market_day=2)
    for qty, price, venue, child_qty in fills:
        child = f.child(parent=p, venue_code=venue, quantity=child_qty) if child_qty else None
        f.fill(parent=p, child=child, quantity=qty, price=price, t_us=START + 60 * US, venue_code=venue)
    p.refresh_from_db()
    p.status, p.last_tick_us = ExecStatus.FILLED, START + 120 * US
    p.save(update_fields=["status", "last_tick_us"])
    parent_tca_compute(parent_id=p.pk)
    return p


@pytest.fixture
def two_parents(instrument, portfolio, pm, other_portfolio, other_pm):
    """A: a TWAP buy of the PM's order, 600 @ 100.10 (XSMA, from a child of 1,000) + 400 @ 100.30 (XSMB);
    B: a VWAP sell of the other PM's order, 1,000 @ 100.20 (XSMA). Arrival 100.00 for both."""
    venues_sync_from_sim()
    a = _parent(instrument, [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)], side="buy",
                strategy="twap", fills=[(600, "100.10", "XSMA", 1000), (400, "100.30", "XSMB", 0)])
    b = _parent(instrument, [f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=1000, side="sell")],
                side="sell", strategy="vwap", fills=[(1000, "100.20", "XSMA", 0)])
    return a, b


def _by_key(rows):
    return {r["key"]: r for r in rows}


def test_summary_by_venue_is_the_quantity_weighted_slippage_of_each_venue(two_parents, trader):
    rows = _by_key(summary(user=trader, group_by="venue", filters={}))
    # XSMA: buy 600 paid 0.10 over arrival (-60), sell 1,000 got 0.20 over it (+200): 140 / 160,000 -> +8.75 bps
    assert rows["XSMA"]["slippage_arrival_bps"] == pytest.approx(8.75)
    assert rows["XSMA"]["parents"] == 2 and rows["XSMA"]["fills"] == 2 and rows["XSMA"]["quantity"] == 1600
    assert rows["XSMA"]["notional"] == Decimal("160260.000000")
    assert rows["XSMB"]["slippage_arrival_bps"] == pytest.approx(-30.0)  # bought 0.30 over 100.00
    assert rows["XSMB"]["fees"] == Decimal("0.300000")


def test_summary_by_algorithm_portfolio_and_period(two_parents, trader):
    a, b = two_parents
    algo = _by_key(summary(user=trader, group_by="algorithm", filters={}))
    assert algo["twap"]["slippage_arrival_bps"] == pytest.approx(-18.0)  # avg 100.18 vs 100.00, a buy
    assert algo["vwap"]["slippage_arrival_bps"] == pytest.approx(20.0)  # sold at 100.20
    assert algo["twap"]["fills"] == 2 and algo["vwap"]["fills"] == 1 and algo["twap"]["parents"] == 1
    ta = ParentTCA.objects.get(parent=a)
    assert algo["twap"]["is_bps"] == pytest.approx(float(ta.is_total) / float(ta.quantity * ta.decision_price) * 1e4)
    vwap_bps = float(ta.slippage_vwap_bps)
    assert algo["twap"]["slippage_vwap_bps"] == pytest.approx(vwap_bps, abs=1e-3)

    pf = _by_key(summary(user=trader, group_by="portfolio", filters={}))
    assert pf["PM-A-GROWTH"]["slippage_arrival_bps"] == pytest.approx(-18.0)
    assert pf["PM-B-MACRO"]["slippage_arrival_bps"] == pytest.approx(20.0)
    assert pf["PM-A-GROWTH"]["is_bps"] == pytest.approx(algo["twap"]["is_bps"], rel=1e-6)  # one order: the whole parent

    (day,) = summary(user=trader, group_by="period", filters={})
    assert day["key"] == 2 and day["parents"] == 2 and day["slippage_arrival_bps"] == pytest.approx(1.0)  # (-180 + 200) / 200,000


def test_summary_filters(two_parents, trader, instrument, other_instrument):
    assert [r["key"] for r in summary(user=trader, group_by="algorithm", filters={"side": "sell"})] == ["vwap"]
    assert [r["key"] for r in summary(user=trader, group_by="algorithm", filters={"strategy": "twap"})] == ["twap"]
    assert [r["key"] for r in summary(user=trader, group_by="venue", filters={"portfolio": "PM-B-MACRO"})] == ["XSMA"]
    assert summary(user=trader, group_by="venue", filters={"instrument": "BETA"}) == []
    assert len(summary(user=trader, group_by="venue", filters={"instrument": "ACME", "day_from": "2", "day_to": 2})) == 2
    assert summary(user=trader, group_by="period", filters={"day_from": 3}) == []
    for bad, code in [({"colour": "red"}, "tca.bad_filter"), ({"side": "up"}, "tca.bad_filter"),
                      ({"instrument": "NOPE"}, "tca.bad_filter"), ({"day_to": "x"}, "tca.bad_filter")]:
        with pytest.raises(DomainError) as exc:
            summary(user=trader, group_by="venue", filters=bad)
        assert exc.value.code == code and exc.value.status == 400
    with pytest.raises(DomainError) as exc:
        summary(user=trader, group_by="week", filters={})
    assert exc.value.code == "tca.bad_group_by"


def test_a_pm_sees_the_groupings_of_their_own_parents_only(two_parents, pm, other_pm, compliance):
    rows = _by_key(summary(user=pm, group_by="venue", filters={}))
    assert rows["XSMA"]["slippage_arrival_bps"] == pytest.approx(-10.0) and rows["XSMA"]["parents"] == 1
    assert list(_by_key(summary(user=pm, group_by="portfolio", filters={}))) == ["PM-A-GROWTH"]
    assert list(_by_key(summary(user=other_pm, group_by="algorithm", filters={}))) == ["vwap"]
    assert len(summary(user=compliance, group_by="algorithm", filters={})) == 2
    assert fills_for_export(user=pm).count() == 2 and fills_for_export(user=compliance).count() == 3


def test_summary_is_a_constant_number_of_queries_whatever_the_fills(two_parents, trader, instrument, portfolio, pm):
    def queries(group_by):
        summary(user=trader, group_by=group_by, filters={})  # warm the role cache
        with CaptureQueriesContext(connection) as ctx:
            summary(user=trader, group_by=group_by, filters={})
        return len(ctx.captured_queries)

    before = {g: queries(g) for g in ("venue", "algorithm", "portfolio", "period")}
    _parent(instrument, [f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)], side="buy", strategy="is",
            fills=[(100, "100.00", "XSMA", 0)] * 10)
    assert {g: queries(g) for g in before} == before
    assert max(before.values()) <= 6  # a grouping query or two, each with its SET LOCAL inside a savepoint


def test_best_execution_per_venue(two_parents, compliance):
    rows = {r["venue"]: r for r in best_execution(user=compliance, filters={})}
    xsma = rows["XSMA"]
    assert xsma["volume"] == 1600 and xsma["orders"] == 2 and xsma["children"] == 1 and xsma["fills"] == 2
    assert xsma["volume_share"] == pytest.approx(0.8)
    assert xsma["passive_share"] == 1 and xsma["aggressive_share"] == 0
    assert xsma["cost_arrival_bps"] == pytest.approx(8.75)
    assert xsma["child_quantity_sent"] == 1000 and xsma["fill_rate"] == pytest.approx(0.6)
    assert xsma["effective_spread_bps"] is not None and xsma["markout_60s_bps"] is not None
    assert rows["XSMB"]["fill_rate"] is None  # filled without a child order of ours there


def test_the_parent_report(worked_parent, pm, other_pm, trader):
    parent, mine, theirs = worked_parent
    provisional = parent_report(user=trader, parent_id=parent.pk)
    assert provisional["provisional"] is True  # not yet refreshed: computed on the fly, not stored
    assert not ParentTCA.objects.filter(parent=parent).exists()
    parent_tca_compute(parent_id=parent.pk)

    report = parent_report(user=trader, parent_id=parent.pk)

    assert report["provisional"] is False
    bench = {b["name"]: b for b in report["benchmarks"]}
    assert set(bench) == {"arrival", "decision", "interval_vwap", "interval_twap", "open", "close", "prev_close"}
    assert bench["arrival"]["slippage_bps"] == pytest.approx(provisional["benchmarks"][0]["slippage_bps"])
    w = {x["component"]: x["ccy"] for x in report["waterfall"]}
    assert abs(w["delay"] + w["timing"] + w["impact"] + w["opportunity"] + w["fees"] - w["total"]) <= Decimal("0.00001")
    assert report["fills_total"] == len(report["fills"]) > 0
    assert all(x["markout_60s_bps"] is not None and x["mid"] is not None for x in report["fills"])
    assert sum(v["quantity"] for v in report["venues"]) == parent.filled_quantity
    assert sum(v["share"] for v in report["venues"]) == pytest.approx(1.0)
    assert report["markouts"]["horizons_s"] == [1, 10, 60, 300] and len(report["markouts"]["all"]) == 4
    series = report["series"]
    assert series["market"]["t"] and series["vwap"]["price"] and series["done"]["qty"][-1] == parent.filled_quantity
    lines = {c["order_id"]: c for c in report["constituents"]}
    assert set(lines) == {mine.pk, theirs.pk}
    assert sum(c["filled_quantity"] for c in lines.values()) == parent.filled_quantity
    # A PM sees the parent, and only their own order's line in it.
    assert [c["order_id"] for c in parent_report(user=pm, parent_id=parent.pk)["constituents"]] == [mine.pk]
    assert [c["order_id"] for c in parent_report(user=other_pm, parent_id=parent.pk)["constituents"]] == [theirs.pk]


def test_a_pm_gets_no_report_of_a_parent_without_their_orders(two_parents, pm, other_pm, api_client_user):
    a, b = two_parents
    assert parent_report(user=pm, parent_id=a.pk) is not None
    assert parent_report(user=pm, parent_id=b.pk) is None
    assert parent_report(user=other_pm, parent_id=a.pk) is None
    assert parent_report(user=api_client_user, parent_id=a.pk) is None
