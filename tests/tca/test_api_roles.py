"""The role matrix on the TCA API: a PM (or an API client) sees the TCA of the parents holding their orders
and the reports of their portfolios only; traders and compliance see everything; what-if replays are the
desk's (a PM gets 403 ``permission.desk_only``); compliance imports nothing; the reconciliation is the desk's."""

from __future__ import annotations

import pytest

from ems.sim.clock import US
from tca.models import ImportSet, WhatIf
from tca.services import parent_tca_compute
from tests.ems import factories as f
from tests.export_files import csv_table

pytestmark = [pytest.mark.django_db]

HEADER = "child_order_id,timestamp,venue,order_type,side,quantity,price,benchmark_price"
CSV = f"{HEADER}\nEXT-1,2026-03-02T14:31:05+00:00,XNYS,limit,buy,100,10.00,10.05\n"


def _closed(instrument, orders, *, price: str, t_s: int, venue: str = "XSMA"):
    qty = sum(o.quantity for o in orders)
    parent = f.parent(instrument=instrument, orders=orders, strategy="vwap", market_day=2, start_us=3600 * US, end_us=4200 * US)
    f.fill(parent=parent, child=f.child(parent=parent, quantity=qty, venue_code=venue), quantity=qty, price=price, t_us=t_s * US)
    parent_tca_compute(parent_id=parent.pk)
    return parent


@pytest.fixture
def books(clock, instrument, portfolio, pm, other_portfolio, other_pm, client_portfolio, api_client_user):
    """Three closed VWAP parents: one of pm_a's order (XSMA), one of pm_b's (DRKA), one of the API client's (XSMB)."""
    def order(p, u, q):
        return f.order(portfolio=p, instrument=instrument, user=u, quantity=q)

    return {
        "mine": _closed(instrument, [order(portfolio, pm, 1000)], price="100.01", t_s=3660),
        "theirs": _closed(instrument, [order(other_portfolio, other_pm, 3000)], price="100.03", t_s=3700, venue="DRKA"),
        "client": _closed(instrument, [order(client_portfolio, api_client_user, 500)], price="100.02", t_s=3720, venue="XSMB"),
    }


def _parents_in(client, path: str) -> set[int]:
    return {r["parent"] for r in client.get(path).json()["results"]}


def test_a_pm_reads_the_tca_of_their_parents_only(api, pm, books):
    client = api(pm)
    mine, theirs = books["mine"], books["theirs"]

    assert client.get(f"/api/tca/parent-orders/{mine.pk}/").json()["parent"]["id"] == mine.pk
    hidden = client.get(f"/api/tca/parent-orders/{theirs.pk}/")
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert client.get(f"/api/tca/parent-orders/{theirs.pk}/?format=xlsx").status_code == 404
    assert _parents_in(client, "/api/tca/fills/?page_size=500") == {mine.pk}
    assert client.get(f"/api/tca/fills/?parent={theirs.pk}").json()["count"] == 0


def test_a_pm_summary_and_best_execution_cover_their_portfolios_only(api, pm, trader, books):
    pm_summary = api(pm).get("/api/tca/summary/?group_by=venue").json()["rows"]
    desk_summary = api(trader).get("/api/tca/summary/?group_by=venue").json()["rows"]
    pm_best = api(pm).get("/api/tca/best-execution/").json()["rows"]

    assert [(r["key"], r["quantity"]) for r in pm_summary] == [("XSMA", 1000)]
    assert {r["key"]: r["quantity"] for r in desk_summary} == {"XSMA": 1000, "DRKA": 3000, "XSMB": 500}
    assert [(r["venue"], r["volume"]) for r in pm_best] == [("XSMA", 1000)]
    by_portfolio = api(pm).get("/api/tca/summary/?group_by=portfolio").json()["rows"]
    assert [r["key"] for r in by_portfolio] == ["PM-A-GROWTH"]
    # Filtering on another PM's portfolio shows nothing of it.
    assert api(pm).get("/api/tca/summary/?portfolio=PM-B-MACRO").json()["rows"] == []


def test_a_pm_export_of_the_fills_leaves_out_other_parents(api, pm, books):
    header, *rows = csv_table(api(pm).get("/api/tca/fills/?format=csv"))
    assert [row[header.index("Parent order")] for row in rows] == [str(books["mine"].pk)]


def test_an_api_client_sees_the_tca_of_its_own_portfolio(api, api_client_user, books):
    client = api(api_client_user)
    assert client.get(f"/api/tca/parent-orders/{books['client'].pk}/").json()["parent"]["id"] == books["client"].pk
    assert client.get(f"/api/tca/parent-orders/{books['mine'].pk}/").status_code == 404
    assert [r["key"] for r in client.get("/api/tca/summary/").json()["rows"]] == ["XSMB"]


@pytest.mark.parametrize("who", ["trader", "compliance", "admin_user"])
def test_the_desk_sees_every_parent(request, api, books, who):
    client = api(request.getfixturevalue(who))
    for parent in books.values():
        assert client.get(f"/api/tca/parent-orders/{parent.pk}/").json()["parent"]["id"] == parent.pk
    assert _parents_in(client, "/api/tca/fills/") == {p.pk for p in books.values()}


def test_a_pm_reads_only_their_own_orders_lines_of_a_shared_parent(api, pm, trader, clock, instrument, portfolio,
                                                                   other_portfolio, other_pm):
    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=600)
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=400)
    shared = _closed(instrument, [mine, theirs], price="100.01", t_s=3660)

    pm_lines = api(pm).get(f"/api/tca/parent-orders/{shared.pk}/").json()["constituents"]
    desk_lines = api(trader).get(f"/api/tca/parent-orders/{shared.pk}/").json()["constituents"]

    assert [line["order_id"] for line in pm_lines] == [mine.pk]
    assert sorted(line["order_id"] for line in desk_lines) == sorted([mine.pk, theirs.pk])


# --- what-if ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["pm", "api_client_user"])
def test_a_pm_or_an_api_client_may_not_run_a_what_if(request, api, books, who):
    user = request.getfixturevalue(who)
    parent = books["mine"] if who == "pm" else books["client"]

    response = api(user).post(f"/api/tca/parent-orders/{parent.pk}/what-if/", {"strategy": "twap"}, format="json")

    assert response.status_code == 403 and response.json()["code"] == "permission.desk_only"
    assert not WhatIf.objects.exists()


@pytest.mark.parametrize("who", ["trader", "compliance", "admin_user"])
def test_the_desk_and_compliance_run_a_what_if_which_changes_no_order(request, api, books, who):
    from ems.models import Allocation, Fill, ParentOrder
    from oms.models import Order

    parent = books["theirs"]
    before = (list(Order.objects.order_by("pk").values()), list(ParentOrder.objects.order_by("pk").values("pk", "status", "filled_quantity")),
              Fill.objects.count(), Allocation.objects.count())

    response = api(request.getfixturevalue(who)).post(f"/api/tca/parent-orders/{parent.pk}/what-if/", {"strategy": "twap"}, format="json")

    assert response.status_code == 201, response.json()
    assert WhatIf.objects.get().parent_id == parent.pk
    after = (list(Order.objects.order_by("pk").values()), list(ParentOrder.objects.order_by("pk").values("pk", "status", "filled_quantity")),
             Fill.objects.count(), Allocation.objects.count())
    assert after == before


def test_a_pm_reads_the_replays_of_their_parents_only(api, pm, trader, books):
    desk = api(trader)
    mine = desk.post(f"/api/tca/parent-orders/{books['mine'].pk}/what-if/", {"strategy": "vwap"}, format="json").json()["id"]
    theirs = desk.post(f"/api/tca/parent-orders/{books['theirs'].pk}/what-if/", {"strategy": "vwap"}, format="json").json()["id"]

    assert [w["id"] for w in api(pm).get("/api/tca/what-ifs/").json()["results"]] == [mine]
    assert api(pm).get(f"/api/tca/what-ifs/{mine}/").json()["id"] == mine
    assert api(pm).get(f"/api/tca/what-ifs/{theirs}/").json()["code"] == "not_found"
    assert {w["id"] for w in desk.get("/api/tca/what-ifs/").json()["results"]} == {mine, theirs}


# --- imports and reconciliation -------------------------------------------------------------------------------


def test_compliance_reads_every_import_but_imports_nothing(api, pm, other_pm, compliance):
    set_id = api(pm).post("/api/tca/executions/import/", data=CSV.encode(), content_type="text/csv").json()["id"]

    refused = api(compliance).post("/api/tca/executions/import/", data=CSV.encode(), content_type="text/csv")

    assert refused.status_code == 403 and refused.json()["code"] == "permission.read_only"
    assert ImportSet.objects.count() == 1
    assert api(compliance).get(f"/api/tca/executions/imports/{set_id}/").json()["id"] == set_id
    assert [s["id"] for s in api(compliance).get("/api/tca/executions/imports/").json()["results"]] == [set_id]
    assert api(other_pm).get(f"/api/tca/executions/imports/{set_id}/").status_code == 404
    assert api(other_pm).get("/api/tca/executions/imports/").json()["count"] == 0
    assert api(pm).get("/api/tca/executions/imports/").json()["count"] == 1


@pytest.mark.parametrize("who", ["pm", "api_client_user"])
def test_the_reconciliation_is_for_the_desk(request, api, who):
    response = api(request.getfixturevalue(who)).get("/api/tca/reconciliation/")
    assert response.status_code == 403 and response.json()["code"] == "permission.desk_only"


@pytest.mark.parametrize("who", ["trader", "compliance"])
def test_traders_and_compliance_read_the_reconciliation(request, api, system_actor, who):
    from tca.services import reconciliation_run

    run = reconciliation_run(actor=system_actor)

    runs = api(request.getfixturevalue(who)).get("/api/tca/reconciliation/").json()["results"]

    assert [(r["id"], r["ok"]) for r in runs] == [(run.pk, run.ok)]


def test_a_user_without_a_role_reads_nothing(api, books):
    from tests.factories import UserFactory

    nobody = UserFactory(username="no_role_tca")
    client = api(nobody)
    parent = books["mine"]
    for path in (f"/api/tca/parent-orders/{parent.pk}/", "/api/tca/summary/", "/api/tca/best-execution/", "/api/tca/fills/",
                 "/api/tca/what-ifs/", "/api/tca/executions/imports/", "/api/tca/reconciliation/", "/api/tca/summary/?format=csv"):
        response = client.get(path)
        assert response.status_code == 403 and response.json()["code"] == "permission.no_role", path
    for path, body in ((f"/api/tca/parent-orders/{parent.pk}/what-if/", {"strategy": "twap"}), ("/api/tca/executions/import/", {})):
        response = client.post(path, body, format="json")
        assert response.status_code == 403 and response.json()["code"] == "permission.no_role", path


def test_anonymous_is_told_to_authenticate(client, books):
    parent = books["mine"]
    for response in (client.get(f"/api/tca/parent-orders/{parent.pk}/"), client.get("/api/tca/summary/?format=xlsx"),
                     client.post(f"/api/tca/parent-orders/{parent.pk}/what-if/", {"strategy": "twap"}, content_type="application/json"),
                     client.post("/api/tca/executions/import/", data=CSV, content_type="text/csv")):
        assert response.status_code == 401 and response.json()["code"] == "auth.not_authenticated"
    assert not ImportSet.objects.exists()
