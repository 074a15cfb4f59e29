"""TCA's currency amounts carry the option's contract multiplier (issue 22, item 1): notional, slippage in currency,
the shortfall's components, child and order lines, a PM's share, the summary and best-execution rollups and the exports
are price x quantity (contracts) x 100 for an option; bps are ratios and do not change; a rollup mixing an equity
parent and an option parent sums currency."""

from __future__ import annotations

import csv
import importlib
import io
from datetime import date
from decimal import Decimal

import pytest
from django.apps import apps as django_apps

from ems.models import Allocation, Fill
from oms.demo import seed_option_chains
from oms.models import OPTION_MULTIPLIER, Instrument
from rfq.services import quote_accept, rfq_create
from tca.models import ParentTCA
from tca.reports import parent_report
from tca.selectors import best_execution, summary, summary_share_total
from tca.services import parent_tca_compute
from tests.rfq.services_helpers import block_parent, mid_price, providers, quote

pytestmark = pytest.mark.django_db

Q6 = Decimal("0.000001")
SCALED = ("delay", "timing", "impact", "opportunity")  # the fees are currency already


@pytest.fixture
def rfq_executed(clock, pm, portfolio, other_pm, other_portfolio, actor):
    """``execute(instrument) -> parent``: a buy of 500 (300 of ``pm``'s, 200 of ``other_pm``'s) executed by RFQ at the
    better of two quotes, its TCA computed."""
    providers("MMA", "MMB")

    def execute(instrument):
        parent = block_parent(instrument=instrument, pm=pm, portfolio=portfolio, other_pm=other_pm,
                              other_portfolio=other_portfolio, quantities=(300, 200), strategy="rfq")
        rfq = rfq_create(parent_id=parent.pk, actor=actor)
        best = quote(rfq, "MMA", mid_price(rfq, 100))
        quote(rfq, "MMB", mid_price(rfq, 300))
        assert quote_accept(rfq_id=rfq.pk, quote_id=best.pk, actor=actor).executed
        parent_tca_compute(parent_id=parent.pk)
        parent.refresh_from_db()
        return parent

    return execute


@pytest.fixture
def put(instrument):
    seed_option_chains(date(2026, 12, 7), ("ACME",))
    return Instrument.objects.get(symbol="ACME270115P95")


@pytest.fixture
def option_parent(rfq_executed, put, instrument):
    assert put.multiplier == OPTION_MULTIPLIER == 100 and put.underlying == instrument
    return rfq_executed(put)


def _value(parent) -> Decimal:
    """sum price x quantity of the parent's fills (no multiplier)."""
    return sum((f.price * f.quantity for f in Fill.objects.filter(parent=parent)), Decimal(0))


def _filled(parent) -> int:
    return sum(f.quantity for f in Fill.objects.filter(parent=parent))


def test_an_option_parents_notional_and_slippage_are_in_currency(option_parent, trader):
    tca = ParentTCA.objects.get(parent=option_parent)
    value, filled = _value(option_parent), _filled(option_parent)
    assert filled == 500

    report = parent_report(user=trader, parent_id=option_parent.pk)

    assert tca.notional == (value * 100).quantize(Q6)
    p = report["parent"]
    assert (p["notional"], p["multiplier"], p["filled_quantity"]) == (tca.notional, 100, 500)  # quantities stay contracts
    b = {row["name"]: row for row in report["benchmarks"]}
    a = tca.arrival_price
    assert b["arrival"]["slippage_ccy"] == ((a * filled - value) * 100).quantize(Q6)  # a buy: sign +1
    assert b["arrival"]["slippage_bps"] == pytest.approx(float((a - value / filled) / a * 10_000), abs=1e-3)
    assert [v["notional"] for v in report["venues"]] == [tca.notional]
    for line in report["constituents"]:
        allocated = Allocation.objects.filter(order_id=line["order_id"])
        own = sum((x.price * x.quantity for x in allocated), Decimal(0))
        q = sum(x.quantity for x in allocated)
        assert line["slippage_arrival_ccy"] == ((a * q - own) * 100).quantize(Q6)
    for child in report["children"]:
        fills = Fill.objects.filter(child_id=child["child_id"])
        own = sum((x.price * x.quantity for x in fills), Decimal(0))
        q = sum(x.quantity for x in fills)
        assert child["slippage_arrival_ccy"] == ((a * q - own) * 100).quantize(Q6)


def test_the_shortfall_of_an_option_is_the_multiplier_times_the_same_parent_at_multiplier_one(option_parent, put, trader):
    as_option = ParentTCA.objects.get(parent=option_parent)
    option_report = parent_report(user=trader, parent_id=option_parent.pk)
    Instrument.objects.filter(pk=put.pk).update(multiplier=1)  # the same fills, priced as an instrument of multiplier 1

    as_one = parent_tca_compute(parent_id=option_parent.pk)
    one_report = parent_report(user=trader, parent_id=option_parent.pk)

    assert as_option.notional == as_one.notional * 100
    for k in SCALED:
        assert float(getattr(as_option, f"is_{k}")) == pytest.approx(float(getattr(as_one, f"is_{k}")) * 100, abs=1e-3)
    assert as_option.is_total - as_option.is_fees == pytest.approx((as_one.is_total - as_one.is_fees) * 100, abs=Decimal("0.001"))
    for name in ("arrival", "interval_vwap", "decision"):
        mine = next(b for b in option_report["benchmarks"] if b["name"] == name)
        theirs = next(b for b in one_report["benchmarks"] if b["name"] == name)
        assert mine["slippage_bps"] == theirs["slippage_bps"]  # bps: ratios, the multiplier cancels out
        if mine["slippage_ccy"] is not None:
            assert mine["slippage_ccy"] == pytest.approx(theirs["slippage_ccy"] * 100, abs=Decimal("0.0001"))
    for w_opt, w_one in zip(option_report["waterfall"], one_report["waterfall"], strict=True):
        if w_opt["component"] in SCALED:
            assert w_opt["bps"] == pytest.approx(w_one["bps"], rel=1e-6, abs=1e-2)  # (rounded stored components)


def test_a_pm_reads_their_share_of_an_option_parent_in_currency(option_parent, pm, trader):
    desk = parent_report(user=trader, parent_id=option_parent.pk)
    mine = parent_report(user=pm, parent_id=option_parent.pk)

    [fill] = Fill.objects.filter(parent=option_parent)
    assert mine["parent"]["filled_quantity"] == 300
    assert mine["parent"]["notional"] == (fill.price * 300 * 100).quantize(Q6)
    arrival = next(b for b in mine["benchmarks"] if b["name"] == "arrival")
    assert arrival["slippage_ccy"] == ((arrival["price"] - fill.price) * 300 * 100).quantize(Q6)
    desk_arrival = next(b for b in desk["benchmarks"] if b["name"] == "arrival")
    assert arrival["slippage_ccy"] == pytest.approx(desk_arrival["slippage_ccy"] * Decimal("0.6"), abs=Decimal("0.0001"))
    for k in SCALED:
        assert mine["shortfall"][k] == pytest.approx(desk["shortfall"][k] * Decimal("0.6"), abs=Decimal("0.0001"))


def test_a_rollup_of_an_equity_and_an_option_parent_sums_currency(rfq_executed, put, instrument, trader, pm):
    option = rfq_executed(put)
    equity = rfq_executed(instrument)
    t_opt, t_eq = ParentTCA.objects.get(parent=option), ParentTCA.objects.get(parent=equity)
    assert t_eq.notional == _value(equity).quantize(Q6)  # an equity's multiplier is 1
    total = t_opt.notional + t_eq.notional
    # The slippage of the group: the bps of the summed currency amounts.
    num = 100 * (t_opt.arrival_price * 500 - _value(option)) + (t_eq.arrival_price * 500 - _value(equity))
    den = 100 * t_opt.arrival_price * 500 + t_eq.arrival_price * 500
    paper = 100 * t_opt.decision_price * 500 + t_eq.decision_price * 500

    for group_by in ("venue", "algorithm", "period"):
        [row] = summary(user=trader, group_by=group_by)
        assert (row["parents"], row["quantity"]) == (2, 1000)
        assert row["notional"] == total
        assert row["slippage_arrival_bps"] == pytest.approx(float(num / den * 10_000), abs=1e-6)
    [by_algorithm] = summary(user=trader, group_by="algorithm")
    assert by_algorithm["is_bps"] == pytest.approx(float((t_opt.is_total + t_eq.is_total) / paper * 10_000), abs=1e-6)
    [rfq_venue] = best_execution(user=trader)
    assert rfq_venue["notional"] == total
    assert rfq_venue["cost_arrival_bps"] == pytest.approx(float(num / den * 10_000), abs=1e-6)
    # A PM's own share (300 of each 500) through the allocations, the same unit.
    mine = (_value(option) * 100 + _value(equity)) * Decimal("0.6")
    by_portfolio = {r["key"]: r for r in summary(user=pm, group_by="portfolio")}
    [own] = by_portfolio.values()
    assert own["notional"] == mine.quantize(Q6)
    assert summary_share_total(user=pm)["notional"] == mine.quantize(Q6)
    [pm_venue] = summary(user=pm, group_by="venue")
    assert pm_venue["notional"] == mine.quantize(Q6)


def test_the_summary_page_totals_sum_currency(rfq_executed, put, instrument, trader, client):
    option, equity = rfq_executed(put), rfq_executed(instrument)
    total = ParentTCA.objects.get(parent=option).notional + ParentTCA.objects.get(parent=equity).notional
    client.force_login(trader)

    response = client.get("/tca/?group_by=algorithm")

    assert response.context["totals"]["notional"] == total
    parents = {t.parent_id: t for t in response.context["parents"]}
    opt = parents[option.pk]
    assert opt.is_bps == pytest.approx(float(opt.is_total / (opt.quantity * opt.decision_price * 100) * 10_000))


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode() if response.streaming
                                           else response.content.decode())))


def test_the_exports_carry_the_currency_figures(rfq_executed, put, instrument, trader, api):
    option, equity = rfq_executed(put), rfq_executed(instrument)
    t_opt = ParentTCA.objects.get(parent=option)
    report = parent_report(user=trader, parent_id=option.pk)
    client = api(trader)

    [summary_row] = _csv(client.get(f"/api/tca/parent-orders/{option.pk}/?format=csv&table=summary&header=none"))
    benchmarks = _csv(client.get(f"/api/tca/parent-orders/{option.pk}/?format=csv&table=benchmarks&header=none"))
    [venue_row] = _csv(client.get("/api/tca/summary/?group_by=venue&format=csv&header=none"))

    assert Decimal(summary_row["Notional (USD)"]) == t_opt.notional
    assert summary_row["Contract multiplier"] == "100"
    assert summary_row["Quantity (contracts)"] == "500"  # an option's quantities are contracts
    arrival = next(r for r in benchmarks if r["Benchmark"] == "arrival")
    expected = next(b for b in report["benchmarks"] if b["name"] == "arrival")["slippage_ccy"]
    assert Decimal(arrival["Slippage vs benchmark (USD, + = better)"]) == expected
    assert Decimal(venue_row["Notional (USD)"]) == t_opt.notional + ParentTCA.objects.get(parent=equity).notional


def test_the_migration_rescales_the_option_rows_stored_before(option_parent, put, instrument, rfq_executed):
    equity = rfq_executed(instrument)
    fresh = ParentTCA.objects.get(parent=option_parent)
    equity_before = ParentTCA.objects.get(parent=equity)
    # A row as the code before this change stored it: price x quantity, no multiplier.
    Instrument.objects.filter(pk=put.pk).update(multiplier=1)
    parent_tca_compute(parent_id=option_parent.pk)
    Instrument.objects.filter(pk=put.pk).update(multiplier=100)
    migration = importlib.import_module("tca.migrations.0003_currency_amounts_times_multiplier")

    migration.forwards(django_apps, None)

    rescaled = ParentTCA.objects.get(parent=option_parent)
    assert rescaled.notional == fresh.notional
    for k in (*SCALED, "fees", "total"):
        assert getattr(rescaled, f"is_{k}") == pytest.approx(getattr(fresh, f"is_{k}"), abs=Decimal("0.001"))
    assert ParentTCA.objects.get(parent=equity).notional == equity_before.notional  # multiplier 1: untouched
    migration.backwards(django_apps, None)
    assert ParentTCA.objects.get(parent=option_parent).notional * 100 == fresh.notional


def test_the_parent_page_says_contracts_and_quotes_the_currency_of_the_option(option_parent, trader, client):
    tca = ParentTCA.objects.get(parent=option_parent)
    client.force_login(trader)

    page = client.get(f"/tca/parents/{option_parent.pk}/").content.decode()

    assert "Bought 500 of 500 contracts (x 100) ACME270115P95" in page
    assert "contracts filled" in page
    assert f"({abs(float(tca.is_total)):,.2f} USD)" in page  # the verdict quotes the shortfall in currency
