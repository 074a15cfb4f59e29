"""Who may see and do what (oms.roles + oms.api.permissions): PM, trader, compliance, API client, admin."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from oms.errors import NotPermitted
from oms.models import Order
from oms.roles import Actor
from oms.services import order_cancel, order_submit
from oms.states import OrderStatus
from tests.factories import UserFactory
from tests.oms.audit_helpers import event_types
from tests.oms.conftest import BULK_URL, ORDERS_URL, order_url


@pytest.fixture
def books(pm, other_pm, api_client_user, portfolio, other_portfolio, client_portfolio, submit):
    """One open order in each book: the PM's, the other PM's and the API client's."""
    return {
        "mine": submit(pm),
        "theirs": submit(other_pm, portfolio=other_portfolio.code),
        "client": submit(api_client_user, portfolio=client_portfolio.code),
    }


def _listed_ids(response) -> set[int]:
    assert response.status_code == 200, response.json()
    return {row["id"] for row in response.json()["results"]}


def _assert_error(response, status, code):
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert response.json()["detail"]


# --- portfolio manager ----------------------------------------------------------------------------


def test_pm_lists_only_orders_of_own_portfolios(pm, books, api):
    assert _listed_ids(api(pm).get(ORDERS_URL)) == {books["mine"].id}


def test_pm_gets_404_for_another_pms_order(pm, books, api):
    _assert_error(api(pm).get(order_url(books["theirs"].id)), 404, "not_found")


def test_pm_cannot_cancel_another_pms_order(pm, books, cancel_order):
    response = cancel_order(pm, books["theirs"].id)

    _assert_error(response, 404, "not_found")
    assert Order.objects.get(pk=books["theirs"].id).status == OrderStatus.ACCEPTED


def test_pm_cancels_own_order(pm, books, cancel_order):
    assert cancel_order(pm, books["mine"].id).json()["status"] == OrderStatus.CANCELLED


def test_pm_filter_by_another_portfolio_shows_nothing(pm, books, other_portfolio, api):
    assert _listed_ids(api(pm).get(ORDERS_URL, {"portfolio": other_portfolio.code})) == set()


# --- trader ---------------------------------------------------------------------------------------


def test_trader_lists_every_order(trader, books, api):
    assert _listed_ids(api(trader).get(ORDERS_URL)) == {o.id for o in books.values()}


def test_trader_reads_any_order(trader, books, api):
    assert api(trader).get(order_url(books["theirs"].id)).json()["id"] == books["theirs"].id


def test_trader_cancels_any_order(trader, books, cancel_order):
    response = cancel_order(trader, books["theirs"].id)

    assert response.json()["status"] == OrderStatus.CANCELLED
    assert event_types("order", books["theirs"].id)[-1] == "order.cancelled"


def test_trader_submits_for_any_portfolio(trader, other_portfolio, post_order, order_payload):
    assert post_order(trader, order_payload(portfolio=other_portfolio.code)).status_code == 201


# --- compliance -----------------------------------------------------------------------------------


def test_compliance_lists_and_reads_every_order(compliance, books, api):
    client = api(compliance)

    assert _listed_ids(client.get(ORDERS_URL)) == {o.id for o in books.values()}
    assert client.get(order_url(books["theirs"].id)).json()["id"] == books["theirs"].id


def test_compliance_sees_every_portfolio(compliance, books, api):
    codes = {r["code"] for r in api(compliance).get("/api/portfolios/").json()["results"]}

    assert codes == {"PM-A-GROWTH", "PM-B-MACRO", "BRIDGE-BOOK"}


def test_compliance_cannot_submit_an_order(compliance, post_order, order_payload):
    _assert_error(post_order(compliance, order_payload()), 403, "permission.read_only")
    assert not Order.objects.exists()


def test_compliance_cannot_submit_a_bulk(compliance, post_bulk, order_payload):
    _assert_error(post_bulk(compliance, [order_payload()]), 403, "permission.read_only")
    assert not Order.objects.exists()


def test_compliance_cannot_cancel(compliance, books, cancel_order):
    _assert_error(cancel_order(compliance, books["mine"].id), 403, "permission.read_only")
    assert Order.objects.get(pk=books["mine"].id).status == OrderStatus.ACCEPTED


def test_compliance_is_refused_by_the_services_too(compliance, books, order_payload):
    # The pages call the services directly, so the services refuse as well, not just the API.
    actor = Actor.for_user(compliance, "browser")

    submitted = order_submit(user=compliance, actor=actor, data=order_payload())
    with pytest.raises(NotPermitted) as cancel:
        order_cancel(user=compliance, actor=actor, order_id=books["mine"].id)

    assert (submitted.http_status, submitted.error.code) == (403, "permission.portfolio_not_granted")
    assert cancel.value.code == "permission.read_only"
    assert Order.objects.get(pk=books["mine"].id).status == OrderStatus.ACCEPTED


# --- the audit trail ------------------------------------------------------------------------------


@pytest.mark.parametrize("user_fixture", ["compliance", "admin_user"])
def test_compliance_and_admin_read_the_audit_trail(user_fixture, request, books, api):
    client = api(request.getfixturevalue(user_fixture))

    trail = client.get("/api/audit/", {"object_type": "order"}).json()["results"]
    verified = client.get("/api/audit/verify/").json()

    # Every book's orders, not only those of a portfolio the reader is a member of (they are of none).
    assert {(e["object_id"], e["event_type"]) for e in trail} == {
        (str(o.id), t) for o in books.values() for t in ("order.received", "order.accepted")
    }
    assert verified["ok"] is True and verified["unsealed"] + verified["tree_size"] >= len(trail)


@pytest.mark.parametrize("url", ["/api/audit/", "/api/audit/verify/"])
@pytest.mark.parametrize("user_fixture", ["pm", "trader", "api_client_user"])
def test_others_are_refused_the_audit_trail(user_fixture, url, request, api):
    _assert_error(api(request.getfixturevalue(user_fixture)).get(url), 403, "permission.compliance_only")


# --- API client -----------------------------------------------------------------------------------


def test_api_client_submits_to_a_granted_portfolio(api_client_user, client_portfolio, post_order, order_payload):
    response = post_order(api_client_user, order_payload(portfolio=client_portfolio.code))

    assert response.status_code == 201
    assert response.json()["source"] == "api:bridge_client"


def test_api_client_is_refused_a_portfolio_not_granted(api_client_user, client_portfolio, portfolio, post_order, order_payload):
    response = post_order(api_client_user, order_payload(portfolio=portfolio.code))

    _assert_error(response, 403, "permission.portfolio_not_granted")


def test_api_client_lists_only_its_orders(api_client_user, books, api):
    assert _listed_ids(api(api_client_user).get(ORDERS_URL)) == {books["client"].id}


@pytest.mark.parametrize("book", ["mine", "theirs"])
def test_api_client_gets_404_for_other_orders(book, api_client_user, books, api, cancel_order):
    order_id = books[book].id

    _assert_error(api(api_client_user).get(order_url(order_id)), 404, "not_found")
    _assert_error(cancel_order(api_client_user, order_id), 404, "not_found")
    assert Order.objects.get(pk=order_id).status == OrderStatus.ACCEPTED


def test_api_client_cancels_its_own_order(api_client_user, books, cancel_order):
    assert cancel_order(api_client_user, books["client"].id).json()["status"] == OrderStatus.CANCELLED


def test_api_client_is_recorded_as_an_api_client(api_client_user, books):
    from oms.models import AuditEvent

    event = AuditEvent.objects.get(object_id=str(books["client"].id), event_type="order.received")

    assert (event.actor, event.actor_type, event.source) == ("bridge_client", "api_client", "api:bridge_client")


# --- admin ----------------------------------------------------------------------------------------


def test_admin_sees_and_acts_on_every_portfolio(admin_user, books, api, cancel_order):
    assert _listed_ids(api(admin_user).get(ORDERS_URL)) == {o.id for o in books.values()}
    assert cancel_order(admin_user, books["theirs"].id).json()["status"] == OrderStatus.CANCELLED


# --- no role --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", ORDERS_URL), ("post", ORDERS_URL), ("post", BULK_URL), ("get", "/api/instruments/"),
        ("get", "/api/portfolios/"), ("get", "/api/audit/"), ("get", "/api/audit/verify/"),
    ],
)
def test_user_without_a_role_is_refused_everywhere(method, url, db, api, order_payload):
    nobody = UserFactory(username="no_role_user")

    response = getattr(api(nobody), method)(url, [order_payload()] if method == "post" else None, format="json")

    _assert_error(response, 403, "permission.no_role")
    assert not Order.objects.exists()


def test_user_without_a_role_cannot_cancel(db, books, api, cancel_order):
    nobody = UserFactory(username="no_role_user")

    _assert_error(cancel_order(nobody, books["mine"].id), 403, "permission.no_role")


def test_user_with_an_unknown_group_has_no_role(db, api):
    stranger = UserFactory(username="guest_user", role="guests")

    _assert_error(api(stranger).get(ORDERS_URL), 403, "permission.no_role")


def test_session_login_works_like_a_token(pm, books):
    client = APIClient()
    client.force_login(pm)

    assert _listed_ids(client.get(ORDERS_URL)) == {books["mine"].id}
