"""GET /api/parent-orders/ and /{id}/, /api/fills/, /api/positions/: what the desk and the PMs read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ems import selectors
from ems.states import ExecStatus
from tests.ems import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

PARENTS = "/api/parent-orders/"


@pytest.fixture
def shared_parent(pm, other_pm, portfolio, other_portfolio, instrument):
    """A buy parent of 3,000 ACME holding pm_a's 1,000 and pm_b's 2,000, 600 filled on two venues."""
    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=2000)
    parent = f.parent(instrument=instrument, orders=[mine, theirs], arrival_price="100.00", start_us=0, end_us=3_600_000_000)
    c1 = f.child(parent=parent, venue_code="XSMA", quantity=400)
    c2 = f.child(parent=parent, venue_code="DRKB", quantity=300, kind="dark")
    f.fill(parent=parent, child=c1, quantity=300, price="99.90", t_us=60_000_000)
    f.fill(parent=parent, child=c2, quantity=300, price="100.00", t_us=120_000_000, venue_code="DRKB")
    parent.refresh_from_db()
    return parent, mine, theirs


def test_list_shows_strategy_reason_arrival_avg_slippage_and_progress(api, trader, shared_parent):
    parent, _, _ = shared_parent

    body = api(trader).get(PARENTS).json()

    assert body["count"] == 1
    row = body["results"][0]
    assert row["id"] == parent.id and row["instrument"] == "ACME" and row["side"] == "buy"
    assert row["strategy"] == "vwap" and "VWAP" in row["selection_reason"]
    assert Decimal(row["arrival_price"]) == Decimal("100") and Decimal(row["avg_price"]) == Decimal("99.95")
    # Bought 5 bp under the arrival mid: positive = better.
    assert row["slippage_bps"] == pytest.approx(5.0)
    assert row["progress"]["done"] == 600 and row["progress"]["quantity"] == 3000
    assert row["progress"]["expected"] is not None and 0 <= row["progress"]["expected"] <= 3000
    assert row["status"] == ExecStatus.PARTIALLY_FILLED and row["control"] == "running"


def test_slippage_of_a_sell_flips_the_sign(instrument, pm, portfolio):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, side="sell", quantity=100)
    parent = f.parent(instrument=instrument, orders=[order], side="sell", arrival_price="100.00")
    f.fill(parent=parent, quantity=100, price="99.90")
    parent.refresh_from_db()
    assert selectors.slippage_bps(parent) == Decimal("-10.00")  # sold 10 bp under arrival: worse


def test_progress_follows_the_algorithms_schedule_once_it_has_one(instrument, pm, portfolio):
    order = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=1000)
    parent = f.parent(instrument=instrument, orders=[order], start_us=0, end_us=1000)
    assert selectors.parent_progress(parent, t_us=500).expected == 500  # no plan yet: a straight line
    parent.algo_state = {"state": {"sched": [[0, 0], [100, 800], [1000, 1000]], "filled": 0}}
    assert selectors.parent_progress(parent, t_us=100).expected == 800
    assert selectors.parent_progress(parent, t_us=550).expected == 900
    # A re-plan for what is left: what was done before the plan counts on top of the plan's target.
    parent.filled_quantity = 300
    parent.algo_state = {"state": {"sched": [[500, 0], [1000, 700]], "filled": 100}}
    assert selectors.parent_progress(parent, t_us=750).expected == 200 + 350


def test_detail_carries_constituents_children_by_venue_fills_and_chart_free_fields(api, trader, shared_parent):
    parent, mine, theirs = shared_parent

    body = api(trader).get(f"{PARENTS}{parent.id}/").json()

    assert [c["order"] for c in body["constituents"]] == [mine.id, theirs.id]
    assert {c["allocated_quantity"] for c in body["constituents"]} == {200, 400}
    assert len(body["children"]) == 2
    venues = {v["venue"]: v for v in body["venues"]}
    assert venues["XSMA"]["filled"] == 300 and Decimal(venues["XSMA"]["avg_price"]) == Decimal("99.9")
    assert body["fill_count"] == 2 and [x["price"] for x in body["fills"]] == ["100.000000", "99.900000"]
    assert body["params"]["qty"] == 3000


def test_a_pm_sees_only_their_own_constituent_of_a_shared_parent(api, pm, shared_parent):
    parent, mine, _ = shared_parent

    listed = api(pm).get(PARENTS).json()
    detail = api(pm).get(f"{PARENTS}{parent.id}/").json()

    assert [p["id"] for p in listed["results"]] == [parent.id]
    assert [c["order"] for c in detail["constituents"]] == [mine.id]


def test_a_pm_does_not_see_parents_without_their_orders(api, pm, portfolio, other_pm, other_portfolio, instrument):
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm)
    parent = f.parent(instrument=instrument, orders=[theirs])

    assert api(pm).get(PARENTS).json()["count"] == 0
    response = api(pm).get(f"{PARENTS}{parent.id}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_filters_by_status_instrument_strategy_and_control(api, trader, instrument, other_instrument, pm, portfolio):
    a = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)], strategy="twap")
    b = f.parent(instrument=other_instrument, orders=[f.order(portfolio=portfolio, instrument=other_instrument, user=pm)],
                 strategy="pov", control="paused")
    c = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)], status=ExecStatus.CANCELLED)
    client = api(trader)

    def ids(query):
        return [p["id"] for p in client.get(f"{PARENTS}?{query}").json()["results"]]

    assert ids("instrument=beta") == [b.id]
    assert ids("strategy=twap") == [a.id]
    assert ids("strategy=vwap") == [c.id]
    assert ids("control=paused") == [b.id]
    assert ids("status=CANCELLED") == [c.id]
    assert ids("status=ACCEPTED&status=CANCELLED") == [c.id, b.id, a.id]


def test_parent_list_queries_do_not_grow_with_rows(api, trader, instrument, pm, portfolio, django_assert_max_num_queries):
    client = api(trader)
    client.get(PARENTS)  # warm the role and token caches
    for _ in range(3):
        f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)])
    with django_assert_max_num_queries(3) as few:  # count, page, reference-data stamp
        assert client.get(PARENTS).json()["count"] == 3
    for _ in range(10):
        f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)])
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(PARENTS).json()["count"] == 13


def test_fills_list_filters_and_shows_a_pm_only_their_allocations(api, pm, trader, shared_parent):
    parent, mine, theirs = shared_parent

    everything = api(trader).get("/api/fills/").json()
    for_pm = api(pm).get("/api/fills/").json()
    on_drkb = api(trader).get("/api/fills/?venue=drkb").json()
    of_order = api(trader).get(f"/api/fills/?order={mine.id}").json()

    assert everything["count"] == 2
    assert sorted(a["order"] for a in everything["results"][0]["allocations"]) == [mine.id, theirs.id]
    assert for_pm["count"] == 2
    assert all([a["order"] for a in fill["allocations"]] == [mine.id] for fill in for_pm["results"])
    assert [x["venue"] for x in on_drkb["results"]] == ["DRKB"]
    assert of_order["count"] == 2


def test_fills_list_queries_do_not_grow_with_rows(api, trader, shared_parent, django_assert_max_num_queries):
    parent, _, _ = shared_parent
    client = api(trader)
    client.get("/api/fills/")
    with django_assert_max_num_queries(4) as few:  # count, page, allocations, reference-data stamp
        client.get("/api/fills/")
    for _ in range(5):
        f.fill(parent=parent, quantity=10, price="100.01")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/fills/").json()["count"] == 7


def test_positions_per_portfolio_and_instrument_a_pm_sees_only_theirs(api, pm, trader, portfolio, other_portfolio, instrument):
    f.position(portfolio=portfolio, instrument=instrument, quantity=600, avg_cost="99.95", realized="12.50")
    f.position(portfolio=other_portfolio, instrument=instrument, quantity=-200, avg_cost="101.00")

    for_pm = api(pm).get("/api/positions/").json()
    for_trader = api(trader).get("/api/positions/?instrument=acme").json()

    assert for_pm["count"] == 1
    row = for_pm["results"][0]
    assert (row["portfolio"], row["instrument"], row["quantity"]) == ("PM-A-GROWTH", "ACME", 600)
    assert Decimal(row["avg_cost"]) == Decimal("99.95") and Decimal(row["realized_pnl"]) == Decimal("12.5")
    assert for_trader["count"] == 2


def test_order_detail_carries_its_fills_and_allocations(api, pm, shared_parent):
    parent, mine, _ = shared_parent

    body = api(pm).get(f"/api/orders/{mine.id}/").json()

    assert body["parent"] == parent.id
    assert sum(a["quantity"] for a in body["allocations"]) == 200
    assert {x["venue"] for x in body["fills"]} == {"XSMA", "DRKB"}
    assert all(x["quantity"] <= 150 for x in body["fills"])  # the PM's share of each fill, not the parent's fill


# --- trader controls -------------------------------------------------------------------------------------


def _events(parent_id) -> list[tuple[str, str]]:
    """The parent's audit trail as (event type, actor) pairs, oldest first."""
    from tests.oms.audit_helpers import audit_events

    return [(e.event_type, e.actor) for e in audit_events(object_type="parent_order", object_id=parent_id)]


def test_trader_pauses_and_resumes_a_parent_each_audited(api, trader, shared_parent):
    parent, _, _ = shared_parent
    client = api(trader)

    paused = client.post(f"{PARENTS}{parent.id}/pause/", format="json")
    again = client.post(f"{PARENTS}{parent.id}/pause/", format="json")
    resumed = client.post(f"{PARENTS}{parent.id}/resume/", format="json")

    assert paused.status_code == 200 and paused.json()["control"] == "paused"
    assert again.status_code == 409 and again.json()["code"] == "parent_control.illegal_transition"
    assert resumed.status_code == 200 and resumed.json()["control"] == "running"
    assert parent.children.filter(status=ExecStatus.PENDING_CANCEL).count() == 1  # its open child (the other is filled)
    assert _events(parent.id) == [("parent_order.paused", trader.username), ("parent_order.resumed", trader.username)]


def test_trader_cancels_a_parent(api, trader, shared_parent):
    parent, _, _ = shared_parent

    response = api(trader).post(f"{PARENTS}{parent.id}/cancel/", format="json")
    twice = api(trader).post(f"{PARENTS}{parent.id}/cancel/", format="json")

    assert response.status_code == 200 and response.json()["status"] == ExecStatus.PENDING_CANCEL
    assert twice.status_code == 409 and twice.json()["code"] == "parent_order.not_open"
    assert _events(parent.id) == [("parent_order.cancel_requested", trader.username)]


def test_trader_changes_strategy_and_urgency(api, trader, shared_parent):
    parent, _, _ = shared_parent

    response = api(trader).post(f"{PARENTS}{parent.id}/strategy/", {"strategy": "twap", "urgency": "high"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["strategy"] == "twap" and body["urgency"] == "high" and "trader override" in body["selection_reason"]
    assert _events(parent.id) == [("parent_order.strategy_changed", trader.username)]


def test_kill_switch_halts_only_the_parents_in_scope(api, trader, pm, portfolio, instrument, other_instrument):
    acme = f.parent(instrument=instrument, orders=[f.order(portfolio=portfolio, instrument=instrument, user=pm)])
    beta = f.parent(instrument=other_instrument, orders=[f.order(portfolio=portfolio, instrument=other_instrument, user=pm)])
    f.child(parent=acme)
    f.child(parent=beta)

    response = api(trader).post("/api/kill-switch/", {"scope": "instrument", "instrument": "ACME"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json() == {"scope": "instrument", "portfolio": None, "instrument": "ACME", "parent_ids": [acme.id],
                               "parents_halted": 1, "children_cancelled": 1}
    acme.refresh_from_db()
    beta.refresh_from_db()
    assert (acme.control, beta.control) == ("halted", "running")
    assert _events(acme.id) == [("parent_order.halted", trader.username)] and _events(beta.id) == []

    everything = api(trader).post("/api/kill-switch/", {"scope": "all"}, format="json").json()
    assert everything["parent_ids"] == [acme.id, beta.id] and everything["parents_halted"] == 1
    resumed = api(trader).post(f"{PARENTS}{acme.id}/resume/", format="json")
    assert resumed.status_code == 200 and resumed.json()["control"] == "running"
