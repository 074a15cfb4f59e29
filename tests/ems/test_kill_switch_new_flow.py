"""A kill switch also blocks new flow in its scope until a trader lifts it: new orders in scope are denied at
intake (``risk.kill_switch``, recorded with its reason), orders out of scope are accepted, an accepted order
in scope is held out of parents, and lifting is an audited action of a trader (REST and the desk)."""

from __future__ import annotations

import html

import pytest

from ems.models import Constituent, ParentOrder
from ems.services.aggregation import aggregation_cycle
from ems.services.control import kill_switch
from oms.models import AuditEvent, KillSwitch, Order
from oms.roles import Actor
from oms.states import OrderStatus
from tests.ems import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fast_password_hasher")]

KILL, LIFT, ORDERS = "/api/kill-switch/", "/api/kill-switch/lift/", "/api/orders/"
SYSTEM = Actor.system("aggregation")


@pytest.fixture
def other_order_payload(order_payload, other_portfolio):
    return lambda **kw: order_payload(portfolio=other_portfolio.code, **kw)


def _engage(trader_api, **body):
    response = trader_api.post(KILL, body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def _denied_by_kill_switch(response) -> Order:
    assert response.status_code == 422, response.json()
    body = response.json()
    assert body["code"] == "risk.kill_switch" and "Kill switch engaged on" in body["detail"] and "until a trader lifts it" in body["detail"]
    order = Order.objects.get(pk=body["order"]["id"])
    assert order.status == OrderStatus.DENIED and order.deny_code == "risk.kill_switch" and order.deny_reason == body["detail"]
    denied = AuditEvent.objects.get(object_type="order", object_id=str(order.id), event_type="order.denied")
    assert denied.after["code"] == "risk.kill_switch" and denied.reason == order.deny_reason
    return order


def test_a_portfolio_kill_switch_denies_its_new_orders_and_accepts_other_portfolios(
        api, pm, other_pm, trader_api, portfolio, order_payload, other_order_payload):
    _engage(trader_api, scope="portfolio", portfolio=portfolio.code)

    order = _denied_by_kill_switch(api(pm).post(ORDERS, order_payload(), format="json"))
    assert portfolio.code in order.deny_reason and "trader" in order.deny_reason
    other = api(other_pm).post(ORDERS, other_order_payload(), format="json")
    assert other.status_code == 201 and other.json()["status"] == OrderStatus.ACCEPTED


def test_an_instrument_kill_switch_denies_that_instrument_only(api, pm, trader_api, instrument, other_instrument, order_payload):
    _engage(trader_api, scope="instrument", instrument=instrument.symbol.lower())

    _denied_by_kill_switch(api(pm).post(ORDERS, order_payload(), format="json"))
    other = api(pm).post(ORDERS, order_payload(instrument=other_instrument.symbol, limit_price=str(other_instrument.reference_price)),
                         format="json")
    assert other.status_code == 201, other.json()


def test_kill_switch_all_denies_every_new_order(api, pm, other_pm, trader_api, order_payload, other_order_payload):
    _engage(trader_api, scope="all")

    _denied_by_kill_switch(api(pm).post(ORDERS, order_payload(), format="json"))
    _denied_by_kill_switch(api(other_pm).post(ORDERS, other_order_payload(), format="json"))


def test_lifting_is_audited_and_new_orders_are_accepted_again(api, pm, trader, trader_api, portfolio, order_payload):
    _engage(trader_api, scope="portfolio", portfolio=portfolio.code)
    engaged = trader_api.get(KILL).json()["engaged"]
    assert [(k["scope"], k["portfolio"], k["engaged_by"]) for k in engaged] == [("portfolio", portfolio.code, trader.username)]
    _denied_by_kill_switch(api(pm).post(ORDERS, order_payload(), format="json"))

    response = trader_api.post(LIFT, {"scope": "portfolio", "portfolio": portfolio.code}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["lifted_by"] == trader.username and response.json()["lifted_at"]
    lifted = AuditEvent.objects.get(event_type="kill_switch.lifted")
    assert lifted.object_id == f"portfolio:{portfolio.code}" and lifted.after["blocks_new_orders"] is False
    assert lifted.actor == trader.username and lifted.actor_type == "user"
    assert trader_api.get(KILL).json()["engaged"] == []
    again = api(pm).post(ORDERS, order_payload(), format="json")
    assert again.status_code == 201 and again.json()["status"] == OrderStatus.ACCEPTED
    assert KillSwitch.objects.get().lifted_at is not None  # the record is kept


def test_engaging_an_engaged_scope_keeps_one_switch(trader_api, portfolio):
    _engage(trader_api, scope="portfolio", portfolio=portfolio.code)
    _engage(trader_api, scope="portfolio", portfolio=portfolio.code)
    assert KillSwitch.objects.filter(lifted_at__isnull=True).count() == 1
    assert trader_api.post(LIFT, {"scope": "portfolio", "portfolio": portfolio.code}, format="json").status_code == 200
    assert trader_api.post(LIFT, {"scope": "portfolio", "portfolio": portfolio.code}, format="json").status_code == 409


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"scope": "everything"}, 400, "validation_error"),
    ({"scope": "portfolio"}, 400, "validation_error"),
    ({"scope": "portfolio", "portfolio": "NO-SUCH-BOOK"}, 400, "kill_switch.unknown_target"),
    ({"scope": "instrument", "instrument": "NOPE"}, 400, "kill_switch.unknown_target"),
    ({"scope": "all"}, 409, "kill_switch.not_engaged"),
    ({"scope": "instrument", "instrument": "ACME"}, 409, "kill_switch.not_engaged"),  # engaged on the portfolio, not ACME
])
def test_a_bad_lift_is_refused_with_a_code_and_lifts_nothing(trader_api, portfolio, instrument, body, status, code):
    _engage(trader_api, scope="portfolio", portfolio=portfolio.code)
    before = AuditEvent.objects.count()

    response = trader_api.post(LIFT, body, format="json")

    assert response.status_code == status and response.json()["code"] == code
    assert KillSwitch.objects.filter(lifted_at__isnull=True).count() == 1
    assert AuditEvent.objects.count() == before


def test_a_pm_may_not_lift_a_kill_switch(api, pm, trader_api, portfolio):
    _engage(trader_api, scope="portfolio", portfolio=portfolio.code)
    client = api(pm)
    response = client.post(LIFT, {"scope": "portfolio", "portfolio": portfolio.code}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission.trader_only"
    assert KillSwitch.objects.filter(lifted_at__isnull=True).count() == 1


def test_an_accepted_order_in_scope_is_held_out_of_parents_until_the_switch_is_lifted(
        pm, other_pm, portfolio, other_portfolio, instrument, actor, trader_api, venues, clock):
    held = f.order(portfolio=portfolio, instrument=instrument, user=pm)  # accepted before (or while) the switch engaged
    free = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, side="buy")
    kill_switch(scope="portfolio", portfolio=portfolio.code, actor=actor)

    aggregation_cycle(actor=SYSTEM)

    assert not Constituent.objects.filter(order=held).exists()
    assert Constituent.objects.filter(order=free).exists()
    held.refresh_from_db()
    assert held.status == OrderStatus.ACCEPTED

    trader_api.post(LIFT, {"scope": "portfolio", "portfolio": portfolio.code}, format="json")
    aggregation_cycle(actor=SYSTEM)
    assert Constituent.objects.filter(order=held).exists()
    assert ParentOrder.objects.count() == 2


def test_the_desk_shows_engaged_switches_and_lifts_one(client, trader, trader_api, portfolio, instrument):
    _engage(trader_api, scope="portfolio", portfolio=portfolio.code)
    client.force_login(trader)

    page = html.unescape(client.get("/desk/execution/").content.decode())
    assert 'id="kill-engaged"' in page and f"portfolio {portfolio.code}" in page and "Yes, lift" in page

    response = client.post("/desk/execution/kill-switch/lift/", {"scope": "portfolio", "portfolio": portfolio.code})
    assert response.status_code == 200 and "new orders are accepted again" in response.content.decode()
    assert not KillSwitch.objects.filter(lifted_at__isnull=True).exists()
    assert 'id="kill-engaged"' not in client.get("/desk/execution/").content.decode()

    response = client.post("/desk/execution/kill-switch/lift/", {"scope": "portfolio", "portfolio": portfolio.code})
    assert response.status_code == 409 and "kill_switch.not_engaged" in response.content.decode()
