"""The TCA pages (tca/views.py) on PostgreSQL with the real services: a parent worked to completion by the
live driver, its TCA computed, then read through the browser pages as each role reads them."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from ems.states import ExecStatus
from tca.models import ImportSet, ParentTCA, WhatIf
from tests.ems import factories as f
from tests.tca.builders import closed_parent

pytestmark = pytest.mark.django_db

GOOD_CSV = (
    "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price\n"
    "EXT-1,2026-03-02T14:31:05.250+00:00,XNYS,limit,buy,1000,100.10,100.00\n"
    "EXT-2,2026-03-02T14:32:00+01:00,ARCX,market,sell,500,99.90,100.00\n"
)


def _login(client, user):
    client.force_login(user)
    return client


def _chart_json(html: str, element_id: str) -> dict:
    m = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', html, re.S)
    assert m, f"no #{element_id} in the page"
    return json.loads(m.group(1))


@pytest.fixture
def done_parent(settings, instrument, portfolio, pm, other_portfolio, other_pm):
    """A TWAP buy of 12,000 ACME pooling two PMs' orders, worked to FILLED by the live driver, TCA computed."""
    return closed_parent(settings, instrument=instrument, portfolio=portfolio, pm=pm, other_portfolio=other_portfolio,
                         other_pm=other_pm)


@pytest.fixture
def lone_pm(db):
    from tests.factories import PortfolioFactory, UserFactory

    user = UserFactory(username="pm_c", role="pm")
    PortfolioFactory(code="PM-C-VALUE", members=[user])
    return user


# --- one parent --------------------------------------------------------------------------------------


def test_a_pm_reads_the_report_of_their_parent_with_benchmarks_waterfall_and_charts(client, pm, done_parent):
    page = _login(client, pm).get(reverse("tca-parent", args=[done_parent.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    tca = ParentTCA.objects.get(parent=done_parent)
    # The benchmarks table: every benchmark with its price, the arrival's slippage as stored.
    for key in ("arrival", "interval_vwap", "interval_twap", "open", "close", "prev_close"):
        assert f'data-benchmark="{key}"' in html
    charts = _chart_json(html, "tca-charts")
    labels = charts["waterfall"]["labels"]
    assert labels == ["Delay", "Timing", "Impact", "Opportunity", "Fees", "Total"]
    parts, total = charts["waterfall"]["bps"][:-1], charts["waterfall"]["bps"][-1]
    assert total == pytest.approx(sum(parts), abs=1e-3)  # the waterfall adds up to its total
    # The orders arrived as the parent started: decision = arrival (to the arrival's 4 decimals), no delay cost.
    assert abs(tca.decision_price - tca.arrival_price) < Decimal("0.0001")
    assert abs(tca.is_delay) < 1
    paper = float(tca.quantity * tca.decision_price)
    assert total == pytest.approx(float(tca.is_total) / paper * 1e4, abs=1e-3)
    # Fills vs the market, done vs schedule and the markout curve have their data.
    # A PM's share of the shared parent (8,000 of its 12,000): the fills allocated to them, in their quantity.
    assert len(charts["price"]["fills"]) == done_parent.fills.filter(allocations__order__portfolio__code="PM-A-GROWTH").count()
    assert sum(f["qty"] for f in charts["price"]["fills"]) == 8_000
    assert charts["price"]["market"]["mid"] and charts["price"]["vwap"]["price"]
    assert charts["progress"]["done"]["qty"][-1] == 8_000
    assert charts["markouts"]["horizons"] == [1, 10, 60, 300]
    assert charts["markouts"]["venues"]
    # The verdict a PM reads first, and the sign convention spelled out.
    assert "Bought 8,000 of 8,000 ACME" in html and "12,000" not in html
    assert "+ = better for us" in html and "+ = cost" not in html
    # A PM sees only their own order's line, and no what-if form.
    mine = done_parent.constituents.get(order__portfolio__code="PM-A-GROWTH").order_id
    theirs = done_parent.constituents.get(order__portfolio__code="PM-B-MACRO").order_id
    assert f'href="/orders/{mine}/"' in html and f'href="/orders/{theirs}/"' not in html
    assert 'id="what-if-form"' not in html


def test_each_child_order_has_its_slippage_and_the_children_add_up_to_the_parent(client, trader, done_parent):
    from django.db.models import Sum

    from ems.models import ChildOrder
    from tca.reports import parent_report

    report = parent_report(user=trader, parent_id=done_parent.pk)
    children = report["children"]
    filled = ChildOrder.objects.filter(parent=done_parent, filled_quantity__gt=0)
    assert [c["child_id"] for c in children] == sorted(filled.values_list("pk", flat=True),
                                                        key=lambda pk: (filled.get(pk=pk).sent_us, pk))
    assert sum(c["filled_quantity"] for c in children) == done_parent.filled_quantity
    assert sum(c["filled_quantity"] for c in children) == filled.aggregate(q=Sum("filled_quantity"))["q"]
    arrival = next(b for b in report["benchmarks"] if b["name"] == "arrival")
    # Currency slippage is additive: the children's saved amounts sum to the parent's (within rounding).
    assert abs(sum(c["slippage_arrival_ccy"] for c in children) - arrival["slippage_ccy"]) < Decimal("0.01")
    body = _login(client, trader).get(reverse("tca-parent", args=[done_parent.pk])).content.decode()
    table = re.search(r'<table class="grid tca-table" id="tca-children">.*?</table>', body, re.S).group(0)
    assert table.count("<tr><td class=\"mono\">") == len(children)


def test_a_pm_without_an_order_in_the_parent_gets_a_404(client, lone_pm, done_parent):
    assert _login(client, lone_pm).get(reverse("tca-parent", args=[done_parent.pk])).status_code == 404


def test_an_api_client_and_no_role_get_a_403_and_the_anonymous_the_login_page(client, api_client_user, done_parent):
    assert _login(client, api_client_user).get(reverse("tca-summary")).status_code == 403
    client.logout()
    response = client.get(reverse("tca-parent", args=[done_parent.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_trader_replays_the_parent_and_sees_both_executions_side_by_side(client, trader, done_parent):
    _login(client, trader)
    assert 'id="what-if-form"' in client.get(reverse("tca-parent", args=[done_parent.pk])).content.decode()

    response = client.post(reverse("tca-what-if", args=[done_parent.pk]),
                           {"strategy": "vwap", "urgency": "high", "max_participation": "0.3", "interval_s": "30", "dark": "on"})

    run = WhatIf.objects.get(parent=done_parent)
    assert response.status_code == 302
    assert response["Location"] == f"/tca/parents/{done_parent.pk}/?what_if={run.pk}#what-if"
    assert (run.strategy, run.requested_by_id) == ("vwap", trader.pk)
    assert run.params["urgency"] == "high" and run.params["max_participation"] == 0.3 and run.params["interval_s"] == 30.0
    html = client.get(response["Location"]).content.decode()
    assert f'data-what-if="{run.pk}"' in html
    assert "<b class=\"strat\">VWAP</b> instead of <b class=\"strat\">TWAP</b>" in html
    side = _chart_json(html, "tca-whatif")
    assert side["actual"]["done"]["qty"][-1] == 12_000
    assert side["replay"]["done"]["qty"][-1] == sum(x[3] for x in run.fills)
    assert len(side["replay"]["fills"]) == len(run.fills)


def test_a_bad_what_if_parameter_is_shown_in_the_form_and_runs_nothing(client, trader, done_parent):
    response = _login(client, trader).post(reverse("tca-what-if", args=[done_parent.pk]),
                                           {"strategy": "twap", "urgency": "medium", "max_participation": "lots", "interval_s": "60"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "tca.bad_params" in html and "Max participation" in html
    assert 'value="lots"' in html  # what was typed stays
    assert not WhatIf.objects.exists()


def test_a_pm_may_not_replay_a_parent(client, pm, done_parent):
    response = _login(client, pm).post(reverse("tca-what-if", args=[done_parent.pk]), {"strategy": "vwap"})

    assert response.status_code == 403
    assert not WhatIf.objects.exists()


def test_a_replay_of_another_parent_is_not_shown_on_this_one(client, trader, done_parent, instrument, portfolio, pm):
    other = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)])
    run = WhatIf.objects.create(parent=other, strategy="vwap", params={}, fills=[], summary={})
    html = _login(client, trader).get(f"{reverse('tca-parent', args=[done_parent.pk])}?what_if={run.pk}").content.decode()
    assert 'id="what-if-result"' not in html


def test_the_desk_parent_page_links_to_the_tca_report_once_the_parent_is_closed(client, trader, done_parent, instrument, portfolio, pm):
    _login(client, trader)
    html = client.get(reverse("parent-detail", args=[done_parent.pk])).content.decode()
    assert f'href="/tca/parents/{done_parent.pk}/"' in html
    working = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)])
    assert 'id="tca-report-link"' not in client.get(reverse("parent-detail", args=[working.pk])).content.decode()


# --- summary and best execution ------------------------------------------------------------------------


def test_the_summary_groups_by_algorithm_and_its_filters_change_the_table(client, trader, done_parent):
    _login(client, trader)
    html = client.get(reverse("tca-summary"), {"group_by": "algorithm"}).content.decode()
    assert 'data-key="twap"' in html
    chart = _chart_json(html, "tca-summary-data")
    assert chart["keys"] == ["twap"] and chart["arrival"][0] is not None
    tca = ParentTCA.objects.get(parent=done_parent)
    assert chart["arrival"][0] == pytest.approx(float(tca.slippage_arrival_bps), abs=1e-3)
    assert f'href="/tca/parents/{done_parent.pk}/"' in html
    # One parent: the All line says what its only group says (computed over the whole parents, not averaged).
    row_bps = f"{float(tca.slippage_arrival_bps):+.1f} bp".replace("+-", "-")
    assert html.count(row_bps) >= 3  # the group's row, the All line and the parent's line
    # The export links carry the same filters.
    assert 'href="/api/tca/summary/?group_by=algorithm&amp;format=csv"' in html

    sells = client.get(reverse("tca-summary"), {"group_by": "algorithm", "side": "sell"}).content.decode()
    assert 'data-key="twap"' not in sells and "No analysed parent matches these filters." in sells
    by_venue = client.get(reverse("tca-summary"), {"group_by": "venue", "strategy": "twap"}).content.decode()
    venues = set(done_parent.fills.values_list("venue__code", flat=True))
    assert {m for m in re.findall(r'<tr data-key="([A-Z]+)"', by_venue)} == venues


def test_a_bad_day_range_is_a_form_error_not_a_500(client, compliance, done_parent):
    response = _login(client, compliance).get(reverse("tca-summary"), {"day_from": "5", "day_to": "2"})
    assert response.status_code == 200
    assert "To day must not be before from day" in response.content.decode()
    assert _login(client, compliance).get(reverse("tca-summary"), {"day_from": "x"}).status_code == 200


def test_a_pm_summary_leaves_out_parents_without_their_orders(client, lone_pm, done_parent):
    html = _login(client, lone_pm).get(reverse("tca-summary")).content.decode()
    assert f'href="/tca/parents/{done_parent.pk}/"' not in html
    assert "No analysed parent matches these filters." in html


def test_the_summary_export_link_downloads_a_csv(client, trader, done_parent):
    _login(client, trader)
    html = client.get(reverse("tca-summary"), {"group_by": "venue"}).content.decode()
    url = re.search(r'href="(/api/tca/summary/\?[^"]*format=csv)"', html).group(1).replace("&amp;", "&")
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"XSM" in response.content or b"DRK" in response.content


def test_the_best_execution_report_shows_each_venue_with_its_liquidity_mix(client, compliance, done_parent):
    html = _login(client, compliance).get(reverse("tca-best-execution")).content.decode()
    venues = set(done_parent.fills.values_list("venue__code", flat=True))
    assert {m for m in re.findall(r'<tr data-venue="([A-Z]+)"', html)} == venues
    assert "Passive · aggressive · midpoint" in html
    empty = client.get(reverse("tca-best-execution"), {"day_from": str(done_parent.market_day + 1)}).content.decode()
    assert "No executions in this period." in empty


# --- imports -------------------------------------------------------------------------------------------


def _upload(client, text: str, name: str = "ext.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(reverse("tca-imports"), {"name": "", "file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")})


def test_an_uploaded_csv_goes_to_its_page_with_per_row_slippage_and_totals(client, trader):
    response = _upload(_login(client, trader), GOOD_CSV)

    s = ImportSet.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tca/imports/{s.pk}/"
    assert (s.name, s.rows, s.quantity) == ("ext.csv", 2, 1500)
    html = client.get(response["Location"]).content.decode()
    assert "EXT-1" in html and "EXT-2" in html
    # buy 1000 @ 100.10 vs 100.00: -10 bp; sell 500 @ 99.90 vs 100.00: -10 bp; so -10 bp in all, -150 in currency.
    assert html.count("-10.0 bp") >= 3
    assert "-150.00" in html
    listing = client.get(reverse("tca-imports")).content.decode()
    assert f'href="/tca/imports/{s.pk}/"' in listing


def test_a_csv_with_bad_rows_imports_nothing_and_lists_each_bad_row(client, trader):
    bad = GOOD_CSV + "EXT-3,2026-03-02T14:33:00,XNYS,limit,hold,10,abc,100\n"
    response = _upload(_login(client, trader), bad)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported." in html and "tca.import_invalid" in html
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td class="mono">([a-z_]+)</td>', html)
    assert {(line, field) for line, field in rows} >= {("4", "timestamp"), ("4", "side"), ("4", "price")}
    assert not ImportSet.objects.exists()


@pytest.mark.parametrize(("text", "code"), [
    ("", "tca.import_empty"),
    ("id,when,price\n1,2026-03-02T14:31:05+00:00,100\n", "tca.import_bad_header"),
])
def test_an_empty_file_or_wrong_columns_are_refused_with_their_code(client, trader, text, code):
    response = _upload(_login(client, trader), text)
    assert response.status_code == 400
    assert code in response.content.decode()
    assert not ImportSet.objects.exists()


def test_a_file_that_is_not_utf8_is_refused(client, trader):
    from django.core.files.uploadedfile import SimpleUploadedFile

    response = _login(client, trader).post(reverse("tca-imports"), {"file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00bad")})
    assert response.status_code == 400 and "tca.import_encoding" in response.content.decode()


def test_a_pm_reopens_only_their_own_imports_and_compliance_reads_all_without_uploading(client, pm, other_pm, compliance):
    _upload(_login(client, pm), GOOD_CSV)
    s = ImportSet.objects.get()
    assert _login(client, other_pm).get(reverse("tca-import", args=[s.pk])).status_code == 404
    html = _login(client, compliance).get(reverse("tca-imports")).content.decode()
    assert f'href="/tca/imports/{s.pk}/"' in html and 'id="tca-import-form"' not in html
    assert _login(client, compliance).get(reverse("tca-import", args=[s.pk])).status_code == 200


def test_the_nav_shows_tca_to_a_pm(client, pm):
    html = _login(client, pm).get(reverse("tca-summary")).content.decode()
    assert '<a href="/tca/" class="active">TCA</a>' in html


def test_the_summary_page_query_count_does_not_grow_with_parents(client, trader, done_parent, instrument, portfolio, pm):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _login(client, trader)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("tca-summary"), {"group_by": "portfolio"}).status_code == 200
        return len(ctx.captured_queries)

    one = queries()
    row = ParentTCA.objects.get(parent=done_parent)
    for _ in range(3):  # three more analysed parents (their TCA rows copied from the real one)
        other = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)], status=ExecStatus.FILLED)
        row.parent = other
        row.save(force_insert=True)
    assert queries() == one
