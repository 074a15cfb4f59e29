"""The role matrix on the EMS endpoints and pages: traders act, compliance reads, PMs read their own."""

from __future__ import annotations

import pytest

from tests.ems import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PARENTS = "/api/parent-orders/"


@pytest.fixture
def part_filled_parent(pm, portfolio, instrument):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    parent = f.parent(instrument=instrument, orders=[order])
    f.child(parent=parent, quantity=200)
    f.fill(parent=parent, quantity=100, price="100.02")
    f.position(portfolio=portfolio, instrument=instrument, quantity=100, avg_cost="100.02")
    return parent


@pytest.mark.parametrize("path", [
    "{parents}{id}/pause/", "{parents}{id}/resume/", "{parents}{id}/cancel/", "{parents}{id}/strategy/", "/api/kill-switch/",
    "/api/kill-switch/lift/",
])
@pytest.mark.parametrize("who, code", [("pm", "permission.trader_only"), ("compliance", "permission.read_only"),
                                       ("api_client_user", "permission.trader_only")])
def test_only_traders_act_on_parents(request, api, part_filled_parent, path, who, code):
    user = request.getfixturevalue(who)
    body = {"strategy": "twap"} if "strategy" in path else {"scope": "all"}

    response = api(user).post(path.format(parents=PARENTS, id=part_filled_parent.id), body, format="json")

    assert response.status_code == 403, response.json()
    assert response.json()["code"] == code
    part_filled_parent.refresh_from_db()
    assert part_filled_parent.control == "running" and part_filled_parent.status != "CANCELLED"


def test_compliance_reads_everything(api, compliance, pm, part_filled_parent, other_pm, other_portfolio, instrument):
    # A second book, pm_b's: compliance reads it beside pm_a's (a PM would see only their own).
    order = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=500)
    theirs = f.parent(instrument=instrument, orders=[order], side="sell")
    f.fill(parent=theirs, quantity=50, price="100.05", venue_code="DRKA")
    f.position(portfolio=other_portfolio, instrument=instrument, quantity=-50, avg_cost="100.05")
    client = api(compliance)

    parents = client.get(PARENTS).json()["results"]
    detail = client.get(f"{PARENTS}{theirs.id}/").json()
    fills = client.get("/api/fills/").json()["results"]
    positions = client.get("/api/positions/").json()["results"]

    assert {p["id"] for p in parents} == {part_filled_parent.id, theirs.id}
    assert detail["id"] == theirs.id
    assert {x["parent"] for x in fills} == {part_filled_parent.id, theirs.id}
    assert {(p["portfolio"], p["quantity"]) for p in positions} == {("PM-A-GROWTH", 100), ("PM-B-MACRO", -50)}
    assert [p["id"] for p in api(pm).get(PARENTS).json()["results"]] == [part_filled_parent.id]  # the same list for a PM: theirs only


def test_a_user_without_a_role_reads_nothing(api, part_filled_parent):
    from tests.factories import UserFactory

    nobody = UserFactory(username="no_role_user")
    for path in (PARENTS, "/api/fills/", "/api/positions/"):
        response = api(nobody).get(path)
        assert response.status_code == 403 and response.json()["code"] == "permission.no_role"


def test_anonymous_is_told_to_authenticate(client):
    response = client.get(PARENTS)
    assert response.status_code in (401, 403) and response.json()["code"] == "auth.not_authenticated"


def test_another_pm_sees_none_of_it(api, other_pm, other_portfolio, part_filled_parent):
    assert api(other_pm).get(PARENTS).json()["count"] == 0
    assert api(other_pm).get("/api/fills/").json()["count"] == 0
    assert api(other_pm).get("/api/positions/").json()["count"] == 0
    assert api(other_pm).get(f"{PARENTS}{part_filled_parent.id}/").status_code == 404


# --- pages ------------------------------------------------------------------------------------------


def test_the_execution_desk_and_parent_page_are_for_the_desk(client, pm, trader, compliance, part_filled_parent):
    client.force_login(pm)
    assert client.get("/desk/execution/").status_code == 403
    assert client.get(f"/desk/parents/{part_filled_parent.id}/").status_code == 403
    assert client.get(f"/desk/parents/{part_filled_parent.id}/chart/").status_code == 403

    client.force_login(trader)
    page = client.get("/desk/execution/").content.decode()
    assert f"P{part_filled_parent.id}" in page and "kill-switch" in page
    parent_page = client.get(f"/desk/parents/{part_filled_parent.id}/").content.decode()
    assert "btn-pause" in parent_page and "Cancel parent" in parent_page
    chart = client.get(f"/desk/parents/{part_filled_parent.id}/chart/").json()
    assert chart["fills"][0]["qty"] == 100 and chart["market"]["mid"]

    client.force_login(compliance)
    page = client.get("/desk/execution/").content.decode()
    assert f"P{part_filled_parent.id}" in page and "kill-switch" not in page and "Read-only" in page
    assert "btn-pause" not in client.get(f"/desk/parents/{part_filled_parent.id}/").content.decode()


def test_page_controls_refuse_compliance(client, compliance, part_filled_parent):
    client.force_login(compliance)
    response = client.post(f"/desk/parents/{part_filled_parent.id}/pause/")
    assert response.status_code == 403 and "permission.trader_only" in response.content.decode()
    response = client.post("/desk/execution/kill-switch/", {"scope": "all"})
    assert response.status_code == 403


def test_positions_page_shows_a_pm_their_positions(client, pm, other_pm, part_filled_parent):
    client.force_login(pm)
    page = client.get("/positions/").content.decode()
    assert "PM-A-GROWTH" in page and "ACME" in page
    client.force_login(other_pm)
    assert "No positions yet" in client.get("/positions/").content.decode()


def test_order_page_lists_the_orders_executions(client, pm, part_filled_parent):
    order = part_filled_parent.constituents.get().order
    client.force_login(pm)
    page = client.get(f"/orders/{order.id}/").content.decode()
    assert 'id="executions"' in page and "100.02" in page and f"parent P{part_filled_parent.id}" in page


def test_ticket_estimate_names_the_strategy_and_the_cost(client, pm, instrument):
    client.force_login(pm)
    page = client.get("/orders/ticket/estimate/", {"instrument": "ACME", "quantity": "50000", "side": "buy",
                                                   "order_type": "market", "urgency": "medium", "strategy": "auto"}).content.decode()
    assert "VWAP" in page and " bp" in page and "USD" in page
    empty = client.get("/orders/ticket/estimate/", {"instrument": "ACME", "quantity": "abc"}).content.decode()
    assert "choose an instrument and a quantity" in empty
    nul = client.get("/orders/ticket/estimate/", {"instrument": "AC\x00ME", "quantity": "5"})
    assert nul.status_code in (200, 400)
