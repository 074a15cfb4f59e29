"""The TCA pages in a real browser: a parent worked to completion by the live driver (ems.services.working
.parent_tick with a moving market clock, as tests/ems/test_working.py does), its TCA computed by
tca.services.parent_tca_compute, then read as a trader and as a PM: the summary's chart and filters, an
export downloaded, the parent's report with its charts drawn (canvas pixels, legend values), a what-if
replay side by side, the best-execution report, and a CSV import with its totals.

The server is a server of this test's own, started after the parent is done, on the same market clock
(SIM_ANCHOR / SIM_SPEED), so "now" on the server is where the test left it. No Celery worker: the pages
call the TCA services in the request (a what-if replay, an import) and read what is stored.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tca.models import ImportSet, ParentTCA, WhatIf
from tests.browser.conftest import SERVER_CHECKPOINT_FILE, signed_in_at
from tests.export_files import csv_file
from tests.tca.builders import closed_parent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOD_CSV = (
    "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price\n"
    "EXT-1,2026-03-02T14:31:05.250+00:00,XNYS,limit,buy,1000,100.10,100.00\n"
    "EXT-2,2026-03-02T14:32:00+01:00,ARCX,market,sell,500,99.90,100.00\n"
    "EXT-3,2026-03-02T14:35:10Z,XNYS,limit,buy,1500,99.95,100.00\n"
)


@pytest.fixture
def done_parent(settings, instrument, portfolio, pm, other_portfolio, other_pm):
    """A TWAP buy of 12,000 ACME pooling two PMs' orders, worked to FILLED by the live driver, TCA computed."""
    return closed_parent(settings, instrument=instrument, portfolio=portfolio, pm=pm, other_portfolio=other_portfolio,
                         other_pm=other_pm, window_s=12 * 60, settle_s=6 * 60)


@pytest.fixture
def tca_server(settings, done_parent):
    """A server of this test's own on the test database and the market clock the test left; yields its URL."""
    from django.conf import settings as django_settings
    from django.db import connection

    from tests.servers import database_url, run_server

    env = {
        "DATABASE_URL": database_url(connection.settings_dict), "REDIS_URL": django_settings.REDIS_URL,
        "CHANNELS_PREFIX": f"tca-ui-{uuid.uuid4().hex[:8]}", "SIM_ANCHOR": repr(settings.SIM_ANCHOR),
        "SIM_SPEED": repr(settings.SIM_SPEED), "DB_POOL_MIN_SIZE": "0", "AUDIT_CHECKPOINT_FILE": str(SERVER_CHECKPOINT_FILE),
    }
    with run_server(env) as (url, log):
        yield url
        text = log.read_text()
    assert "Traceback" not in text, text[-4000:]


def sign_in(browser, base_url: str, user):
    return signed_in_at(browser, base_url, user, timeout_ms=20_000, accept_downloads=True)


def painted(page, selector: str) -> int:
    """How many pixels of the chart's canvas are painted (not transparent): a drawn chart has thousands."""
    return page.evaluate("""(sel) => {
        const c = document.querySelector(sel + ' canvas');
        if (!c) return 0;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
        return n;
    }""", selector)


def test_a_trader_reads_the_summary_filters_it_exports_opens_the_report_and_replays_it(browser, tca_server, trader, done_parent,
                                                                                      screenshot, tmp_path):
    context, page = sign_in(browser, tca_server, trader)
    try:
        _summary(page, done_parent, screenshot)
        _parent_report(page, done_parent, screenshot)
        _what_if(page, done_parent, screenshot)
        _best_execution(page, done_parent, screenshot)
        _imports(page, screenshot, tmp_path)
    finally:
        context.close()


def _summary(page, parent, screenshot):
    page.click("nav.nav >> text=TCA")
    page.wait_for_url("**/tca/")
    rows = page.locator("#tca-summary-table tbody tr[data-key]")
    venues = set(parent.fills.values_list("venue__code", flat=True))
    expect(rows).to_have_count(len(venues))
    expect(page.locator("#chart-summary")).to_have_attribute("data-drawn", "1")
    assert painted(page, "#chart-summary") > 2000
    expect(page.locator("#chart-summary .u-legend")).to_contain_text("vs interval VWAP")
    expect(page.locator("#tca-parents tbody tr")).to_have_count(1)
    screenshot(page, "tca_summary")

    # Group by algorithm: one row, TWAP, with the stored slippage vs arrival.
    page.locator("#tca-group-by a[data-group=algorithm]").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-key", "twap")
    bps = float(ParentTCA.objects.get(parent=parent).slippage_arrival_bps)
    expect(rows.first.locator("td").nth(5)).to_contain_text(f"{'+' if bps > 0 else ''}{bps:.1f} bp")

    # A filter that matches nothing empties the table and the list; clearing brings them back.
    page.select_option("#id_side", "sell")
    page.click("#tca-apply")
    expect(page.locator("#tca-summary-table tbody")).to_contain_text("No analysed parent matches these filters.")
    expect(page.locator("#tca-parents tbody")).to_contain_text("No parent analysed yet")
    assert "side=sell" in page.url and "group_by=algorithm" in page.url
    page.select_option("#id_side", "buy")
    page.fill("#id_day_from", str(parent.market_day))
    page.fill("#id_day_to", str(parent.market_day))
    page.click("#tca-apply")
    expect(rows).to_have_count(1)

    # The export downloads the table as it is filtered.
    with page.expect_download() as info:
        page.locator(".tca-exports").first.locator("a[data-format=csv]").click()
    download = info.value
    day = parent.market_day
    assert re.fullmatch(rf"tca-summary-algorithm-D{day}-\d{{8}}T\d{{6}}\.\d{{3}}Z\.csv", download.suggested_filename)
    meta, table = csv_file(Path(download.path()).read_bytes())
    assert meta["Period"] == f"market day {day}" and meta["Exported by"].endswith("(trader)")
    assert table[0][0] == "Algorithm"  # the grouping is the first column
    assert [r for r in table[1:] if r and "twap" in r]
    with page.expect_download() as info:
        page.locator(".tca-exports").first.locator("a[data-format=xlsx]").click()
    assert re.fullmatch(rf"tca-summary-algorithm-D{day}-\d{{8}}T\d{{6}}\.\d{{3}}Z\.xlsx", info.value.suggested_filename)
    assert Path(info.value.path()).read_bytes()[:2] == b"PK"  # a zip: the XLSX container


def _parent_report(page, parent, screenshot):
    page.locator(f"#tca-parents a[href='/tca/parents/{parent.pk}/']").click()
    page.wait_for_url(f"**/tca/parents/{parent.pk}/")
    for chart in ("#chart-waterfall", "#chart-price", "#chart-progress", "#chart-markouts"):
        expect(page.locator(chart)).to_have_attribute("data-drawn", "1")
        assert painted(page, chart) > 2000, chart
    expect(page.locator("#chart-price")).to_have_attribute("data-fills", str(parent.fills.count()))
    expect(page.locator("#chart-price .u-legend")).to_contain_text("Interval VWAP")
    expect(page.locator("#chart-progress .u-legend")).to_contain_text("Schedule")
    expect(page.locator("#chart-progress .u-legend")).to_contain_text("12,000")  # the end's values, before any hover
    # Legend values written out: each venue's markouts at 1 s .. 5 min.
    legend = page.locator("#tca-markout-legend li")
    expect(legend.first).to_contain_text("1 s")
    expect(legend.first).to_contain_text("5 min")
    assert "bp" in legend.first.inner_text()
    expect(page.locator("#tca-benchmarks tbody tr")).to_have_count(7)
    expect(page.locator("#tca-verdict")).to_contain_text("Bought 12,000 of 12,000 ACME")
    expect(page.locator("#tca-shortfall [data-component=total]")).to_contain_text("bp")
    # Hovering the price chart shows the values at that time in its legend.
    box = page.locator("#chart-price .u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    expect(page.locator("#chart-price .u-legend .u-series").nth(1)).not_to_contain_text("–")
    screenshot(page, "tca_parent")
    # The report's export: a CSV per table (one table per file) and one XLSX of them all.
    report_links = page.locator("#tca-parent-head .tca-exports").first
    expect(report_links.locator("a[data-format=csv]")).to_have_count(8)
    with page.expect_download() as info:
        report_links.locator("a[data-table=fills]").click()
    assert re.fullmatch(rf"tca-parent-{parent.pk}-fills-D{parent.market_day}-\d{{8}}T\d{{6}}\.\d{{3}}Z\.csv", info.value.suggested_filename)
    meta, fills = csv_file(Path(info.value.path()).read_bytes())
    assert meta["Table"].startswith("fills (8 of 8") and len(fills) - 1 == parent.fills.count()

    # The desk's parent page links to this report now that the parent is closed, and back.
    page.click("#tca-parent-head >> text=Parent page")
    page.wait_for_url(f"**/desk/parents/{parent.pk}/")
    page.click("#tca-report-link")
    page.wait_for_url(f"**/tca/parents/{parent.pk}/")
    expect(page.locator("#chart-waterfall")).to_have_attribute("data-drawn", "1")


def _what_if(page, parent, screenshot):
    form = page.locator("#what-if-form")
    expect(form).to_be_visible()
    page.select_option("#wi-strategy", "vwap")
    page.select_option("#wi-urgency", "high")
    page.click("#wi-submit")
    page.wait_for_url("**what_if=*")
    run = WhatIf.objects.get(parent=parent)
    result = page.locator("#what-if-result")
    expect(result).to_have_attribute("data-what-if", str(run.pk))
    expect(result).to_contain_text("VWAP instead of TWAP")
    expect(page.locator("#what-if-figures")).to_contain_text("Interval VWAP")
    for chart in ("#chart-whatif-progress", "#chart-whatif-price"):
        expect(page.locator(chart)).to_have_attribute("data-drawn", "1")
        assert painted(page, chart) > 2000, chart
    expect(page.locator("#chart-whatif-progress .u-legend")).to_contain_text("What-if · VWAP")
    replayed = f"{sum(x[3] for x in run.fills):,}"
    expect(page.locator("#chart-whatif-progress .u-legend .u-series").nth(2)).to_contain_text(replayed)
    page.locator("#what-if").scroll_into_view_if_needed()
    screenshot(page, "tca_whatif")


def _best_execution(page, parent, screenshot):
    page.click("nav.nav >> text=TCA")
    page.click(".tca-tabs >> text=Best execution")
    page.wait_for_url("**/tca/best-execution/")
    venues = set(parent.fills.values_list("venue__code", flat=True))
    expect(page.locator("#tca-bestex tbody tr[data-venue]")).to_have_count(len(venues))
    expect(page.locator("#tca-bestex .mix").first).to_be_visible()
    screenshot(page, "tca_best_execution")
    page.fill("#id_day_from", str(parent.market_day + 1))
    page.click("#tca-apply")
    expect(page.locator("#tca-bestex tbody")).to_contain_text("No executions in this period.")


def _imports(page, screenshot, tmp: Path):
    page.click(".tca-tabs >> text=Imported executions")
    page.wait_for_url("**/tca/imports/")
    bad = tmp / f"tca-bad-{uuid.uuid4().hex[:6]}.csv"
    bad.write_text(GOOD_CSV + "EXT-4,2026-03-02T14:36:00,XNYS,limit,hold,10,abc,100\n")
    page.set_input_files("#imp-file", str(bad))
    page.click("#imp-submit")
    errors = page.locator("#tca-import-error-rows tbody tr")
    expect(page.locator("#tca-import-errors")).to_contain_text("Nothing was imported.")
    expect(errors).to_have_count(3)  # line 5: timestamp without offset, side, price
    assert not ImportSet.objects.exists()
    screenshot(page, "tca_import_errors")

    good = tmp / f"tca-good-{uuid.uuid4().hex[:6]}.csv"
    good.write_text(GOOD_CSV)
    page.fill("#imp-name", "Broker X, March")
    page.set_input_files("#imp-file", str(good))
    page.click("#imp-submit")
    page.wait_for_url("**/tca/imports/*/")
    s = ImportSet.objects.get()
    # buy 1000 @ 100.10 vs 100 (-10 bp), sell 500 @ 99.90 vs 100 (-10 bp), buy 1500 @ 99.95 vs 100 (+5 bp):
    # sum s q (B - P) = -100 - 50 + 75 = -75 over sum q B = 300,000 -> -2.5 bp.
    expect(page.locator("#tca-import-bps")).to_have_text("-2.5 bp")
    expect(page.locator("#tca-import-totals")).to_contain_text("3,000")
    expect(page.locator("#tca-import-rows tbody tr")).to_have_count(3)
    assert (s.name, s.rows, s.quantity) == ("Broker X, March", 3, 3000)
    screenshot(page, "tca_import")
    page.click(".crumbs >> text=Imported executions")
    expect(page.locator(f"#tca-import-sets a[href='/tca/imports/{s.pk}/']")).to_be_visible()


def _allocated(parent, portfolio: str) -> dict[int, int]:
    from ems.models import Allocation

    out: dict[int, int] = {}
    for fill_id, qty in Allocation.objects.filter(fill__parent=parent, order__portfolio__code=portfolio).values_list("fill_id", "quantity"):
        out[fill_id] = out.get(fill_id, 0) + qty
    return out


def test_a_pm_reads_their_parent_s_report_without_the_what_if_form(browser, tca_server, pm, done_parent, screenshot):
    context, page = sign_in(browser, tca_server, pm)
    try:
        page.goto(f"/tca/parents/{done_parent.pk}/")
        expect(page.locator("#chart-waterfall")).to_have_attribute("data-drawn", "1")
        expect(page.locator("#what-if-form")).to_have_count(0)
        expect(page.locator("#tca-constituents tbody tr")).to_have_count(1)  # their own order only
        expect(page.locator("#tca-constituents")).to_contain_text("PM-A-GROWTH")
        # Their share of the shared 12,000 only: their 8,000, their fills in the quantity allocated to them, and
        # their part of the participation.
        mine = _allocated(done_parent, "PM-A-GROWTH")
        expect(page.locator("main")).to_contain_text("Bought 8,000 of 8,000 ACME")
        expect(page.locator("main")).not_to_contain_text("12,000")
        expect(page.locator("#tca-fills tbody tr")).to_have_count(len(mine))
        shown = sorted(int(t.replace(",", "")) for t in page.locator("#tca-fills tbody tr td:nth-child(4)").all_inner_texts())
        assert shown == sorted(mine.values())
        tca = ParentTCA.objects.get(parent=done_parent)
        share = float(tca.participation) * sum(mine.values()) / tca.filled_quantity
        expect(page.locator(".stat", has_text="Participation")).to_contain_text(f"{round(share * 100)}%")
        screenshot(page, "tca_parent_pm")
    finally:
        context.close()


def test_the_parent_report_states_one_sign_convention_next_to_its_figures(browser, tca_server, trader, done_parent, screenshot):
    """Issue 19 item 8: every figure of the report reads "+ = better", the shortfall's parts too, and says so."""
    context, page = sign_in(browser, tca_server, trader)
    try:
        page.goto(f"/tca/parents/{done_parent.pk}/")
        expect(page.locator("#chart-waterfall")).to_have_attribute("data-drawn", "1")
        expect(page.locator(".stat", has_text="Shortfall")).to_contain_text("+ = better")
        expect(page.locator(".tca-sign-note")).to_contain_text("+ = better for us")
        expect(page.locator("main")).not_to_contain_text("+ = cost")
        expect(page.locator("main")).not_to_contain_text("Shortfall (cost)")
        # The total reads as every score: negative (red) when it cost us, positive (green) when it saved.
        tca = ParentTCA.objects.get(parent=done_parent)
        total = page.locator("#tca-shortfall [data-component=total] .slip")
        colour = "slip-good" if tca.is_total > 0 else "slip-bad"
        expect(total).to_have_class(f"slip {colour}")
        expect(page.locator("#tca-is-total .slip")).to_have_class(f"slip {colour}")
        assert total.inner_text().startswith("+" if tca.is_total > 0 else "-")
        page.locator("#tca-shortfall").scroll_into_view_if_needed()
        screenshot(page, "tca_parent_signs")
    finally:
        context.close()
