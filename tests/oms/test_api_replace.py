"""Cancel/replace over the REST API (``POST /api/orders/{id}/replace/``, ``oms.services.replace``): in place before
aggregation, a reduction only inside a parent, pre-trade risk again, audited; bad input a JSON 4xx with a code."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ems.models import Constituent, ParentOrder
from oms.models import AuditEvent, Order, PortfolioDailyUsage
from oms.states import OrderStatus
from tests.ems import factories as f
from tests.oms.audit_helpers import event_types
from tests.oms.conftest import order_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def replace(api):
    def post(user, order_id, body):
        return api(user).post(order_url(order_id, "replace"), body, format="json")

    return post


def last_event(order_id, event_type="order.replaced") -> AuditEvent:
    return AuditEvent.objects.filter(object_type="order", object_id=str(order_id), event_type=event_type).latest("id")


# --- in place (not yet in a parent) ------------------------------------------------------------------


def test_replace_quantity_down_changes_the_order_in_place(pm, submit, replace):
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = replace(pm, order.id, {"quantity": 600})

    assert response.status_code == 200, response.json()
    assert response.json()["quantity"] == 600
    order.refresh_from_db()
    assert (order.quantity, order.status, order.notional) == (600, OrderStatus.ACCEPTED, Decimal("60300.00"))
    assert event_types("order", order.id) == ["order.received", "order.accepted", "order.replaced"]
    event = last_event(order.id)
    assert event.before["quantity"] == 1000 and event.after["quantity"] == 600
    assert event.actor == pm.username


def test_replace_quantity_up_and_limit_passes_risk_again(pm, submit, replace):
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = replace(pm, order.id, {"quantity": "1500", "limit_price": "100.60"})

    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert (order.quantity, order.limit_price, order.notional) == (1500, Decimal("100.60"), Decimal("150900.00"))
    assert last_event(order.id).reason.endswith("passed pre-trade risk")


def test_replace_limit_only_keeps_the_quantity(pm, submit, replace):
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = replace(pm, order.id, {"limit_price": 100.4})

    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    assert (order.quantity, order.limit_price) == (1000, Decimal("100.40"))


def test_a_replace_that_changes_nothing_answers_the_order_and_audits_nothing(pm, submit, replace):
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = replace(pm, order.id, {"quantity": 1000, "limit_price": "100.500"})

    assert response.status_code == 200
    assert event_types("order", order.id) == ["order.received", "order.accepted"]


def test_replace_denied_by_risk_is_422_with_the_code_and_leaves_the_order(pm, submit, replace, set_limits):
    set_limits(max_order_quantity=1200)
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = replace(pm, order.id, {"quantity": 2000})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "risk.max_quantity" and body["field"] == "quantity" and "1,200" in body["detail"]
    order.refresh_from_db()
    assert (order.quantity, order.status) == (1000, OrderStatus.ACCEPTED)
    denied = last_event(order.id, "order.replace_denied")
    assert denied.after == {"quantity": 2000, "limit_price": "100.500000", "code": "risk.max_quantity"}


def test_a_new_limit_outside_the_collar_is_denied(pm, submit, replace, set_limits):
    set_limits(price_collar_pct=Decimal("5"))
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = replace(pm, order.id, {"limit_price": "120.00"})

    assert response.status_code == 422 and response.json()["code"] == "risk.price_collar"
    order.refresh_from_db()
    assert order.limit_price == Decimal("100.50")


def test_a_reduction_is_admitted_even_in_an_instrument_restricted_since(pm, submit, replace, instrument):
    from tests.factories import RestrictedInstrumentFactory

    order = submit(pm, quantity=1000, limit_price="100.50")
    RestrictedInstrumentFactory(instrument=instrument)

    assert replace(pm, order.id, {"quantity": 400}).status_code == 200
    response = replace(pm, order.id, {"quantity": 500})
    assert response.status_code == 422 and response.json()["code"] == "risk.restricted_instrument"


def test_the_daily_credit_follows_the_new_terms(pm, portfolio, submit, replace, set_limits):
    set_limits(daily_notional_limit=Decimal("150000"))
    order = submit(pm, quantity=1000, limit_price="100.50")

    def used():
        return PortfolioDailyUsage.objects.get(portfolio=portfolio).gross_notional

    assert used() == Decimal("100500.00")
    too_much = replace(pm, order.id, {"quantity": 2000})
    assert too_much.status_code == 422 and too_much.json()["code"] == "risk.credit_limit"
    assert used() == Decimal("100500.00")
    assert replace(pm, order.id, {"quantity": 1200}).status_code == 200
    assert used() == Decimal("120600.00")
    assert replace(pm, order.id, {"quantity": 500}).status_code == 200
    assert used() == Decimal("50250.00")
    order.refresh_from_db()
    assert order.reserved_notional == Decimal("50250.00")


@pytest.mark.parametrize("close", ["cancel", "fill"])
def test_an_order_no_longer_open_cannot_be_replaced(pm, submit, replace, cancel_order, close):
    order = submit(pm, quantity=1000, limit_price="100.50")
    if close == "cancel":
        assert cancel_order(pm, order.id).status_code == 200
    else:
        Order.objects.filter(pk=order.pk).update(status=OrderStatus.FILLED, filled_quantity=1000)

    response = replace(pm, order.id, {"quantity": 500})

    assert response.status_code == 409 and response.json()["code"] == "order.not_replaceable"
    order.refresh_from_db()
    assert order.quantity == 1000
    assert "order.replaced" not in event_types("order", order.id)


def test_someone_elses_order_is_not_found_and_a_reader_may_not_amend(pm, other_pm, compliance, submit, replace):
    order = submit(pm, quantity=1000, limit_price="100.50")

    assert replace(other_pm, order.id, {"quantity": 500}).json()["code"] == "not_found"
    response = replace(compliance, order.id, {"quantity": 500})
    assert response.status_code == 403 and response.json()["code"] == "permission.read_only"


@pytest.mark.parametrize(("body", "field", "code"), [
    ({}, "non_field_errors", "required"),
    ({"quantity": None, "limit_price": ""}, "non_field_errors", "required"),
    ({"quantity": "5\x00"}, "quantity", "invalid_characters"),
    ({"limit_price": "\x00100"}, "limit_price", "invalid_characters"),
    ({"quan\x00tity": 5}, "quan\\x00tity", "invalid_characters"),
    ({"quantity": {"nested": {"deeper": 1}}}, "quantity", "invalid"),
    ({"quantity": [500]}, "quantity", "invalid"),
    ({"quantity": True}, "quantity", "invalid"),
    ({"quantity": 1.5}, "quantity", "invalid"),
    ({"quantity": "abc"}, "quantity", "invalid"),
    ({"quantity": -5}, "quantity", "invalid"),
    ({"quantity": 0}, "quantity", "invalid"),
    ({"quantity": 10**30}, "quantity", "max_value"),
    ({"limit_price": "1e400"}, "limit_price", "max_value"),
    ({"limit_price": "NaN"}, "limit_price", "invalid"),
    ({"limit_price": {"a": 1}}, "limit_price", "invalid"),
    ({"limit_price": "100.1234567"}, "limit_price", "max_decimals"),
    ({"limit_price": "100.505"}, "limit_price", "tick_size"),
    ({"limit_price": "-1"}, "limit_price", "invalid"),
    ({"quantity": 500, "side": "sell"}, "side", "unknown_field"),
])
def test_bad_input_is_a_400_with_the_field_and_its_code(pm, submit, replace, body, field, code):
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = replace(pm, order.id, body)

    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "validation_error"
    assert data["errors"][field][0]["code"] == code
    order.refresh_from_db()
    assert (order.quantity, order.limit_price) == (1000, Decimal("100.50"))


@pytest.mark.parametrize("body", [[{"quantity": 5}], "500", 500, None])
def test_a_body_that_is_not_an_object_is_a_400(pm, submit, api, body):
    order = submit(pm, quantity=1000, limit_price="100.50")

    response = api(pm).post(order_url(order.id, "replace"), body, format="json")

    assert response.status_code == 400 and response.json()["code"] in ("validation_error", "parse_error")


def test_a_market_order_takes_no_limit(pm, submit, replace):
    order = submit(pm, quantity=1000, order_type="market", limit_price=None)

    response = replace(pm, order.id, {"limit_price": "100.00"})

    assert response.status_code == 400 and response.json()["errors"]["limit_price"][0]["code"] == "not_allowed"


@pytest.mark.parametrize("order_id", ["999999", "9" * 18, "9" * 19, "abc", "-1"])
def test_a_wrong_id_is_a_json_404(pm, api, order_id):
    response = api(pm).post(f"/api/orders/{order_id}/replace/", {"quantity": 5}, format="json")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


# --- in a parent ---------------------------------------------------------------------------------


@pytest.fixture
def in_parent(pm, portfolio, instrument, other_pm, other_portfolio, clock):
    """pm_a's 6,000 and pm_b's 4,000 ACME limit 101 in one working parent."""
    from tests.ems.live_helpers import working_parent

    mine = f.order(portfolio=portfolio, instrument=instrument, user=pm, quantity=6000, limit_price="101.00",
                   notional=Decimal("606000.00"), reserved_notional=Decimal("606000.00"))
    theirs = f.order(portfolio=other_portfolio, instrument=instrument, user=other_pm, quantity=4000, limit_price="101.00")
    return working_parent(instrument=instrument, orders=[mine, theirs], limit_price="101.00"), mine, theirs


def test_in_a_parent_a_reduction_shrinks_the_parent_by_the_same_amount(pm, in_parent, replace):
    parent, mine, theirs = in_parent

    response = replace(pm, mine.id, {"quantity": 2500})

    assert response.status_code == 200, response.json()
    parent.refresh_from_db()
    mine.refresh_from_db()
    assert (parent.quantity, mine.quantity, Constituent.objects.get(order=mine).quantity) == (6500, 2500, 2500)
    assert Constituent.objects.get(order=theirs).quantity == 4000
    assert parent.replan.startswith(f"order {mine.id} reduced")
    assert mine.reserved_notional == Decimal("252500.00")
    reduced = AuditEvent.objects.get(object_type="parent_order", object_id=str(parent.id), event_type="parent_order.reduced")
    assert (reduced.before["quantity"], reduced.after["quantity"], reduced.after["released"]) == (10000, 6500, 3500)
    assert event_types("order", mine.id)[-1] == "order.replaced"


@pytest.mark.parametrize("body", [{"quantity": 7000}, {"limit_price": "100.90"}, {"quantity": 5000, "limit_price": "100.90"}])
def test_in_a_parent_more_quantity_or_a_new_limit_is_refused(pm, in_parent, replace, body):
    parent, mine, _ = in_parent

    response = replace(pm, mine.id, body)

    assert response.status_code == 409 and response.json()["code"] == "order.replace_in_parent"
    parent.refresh_from_db()
    assert parent.quantity == 10000


def test_in_a_parent_what_is_at_the_venues_cannot_be_taken_off(pm, in_parent, replace):
    parent, mine, _ = in_parent
    f.child(parent=parent, quantity=8000, price="101.00")  # 2,000 free

    refused = replace(pm, mine.id, {"quantity": 3000})
    assert refused.status_code == 409 and refused.json()["code"] == "order.replace_below_working"
    assert "2,000" in refused.json()["detail"]
    parent.refresh_from_db()
    assert parent.quantity == 10000

    assert replace(pm, mine.id, {"quantity": 4000}).status_code == 200
    parent.refresh_from_db()
    assert parent.quantity == 8000


def test_in_a_parent_never_below_what_is_filled_and_down_to_it_fills_the_order(pm, in_parent, replace):
    parent, mine, theirs = in_parent
    child = f.child(parent=parent, quantity=1000, price="101.00")
    f.fill(parent=parent, child=child, quantity=1000, price="100.90")
    mine.refresh_from_db()
    assert mine.filled_quantity == 600

    below = replace(pm, mine.id, {"quantity": 500})
    assert below.status_code == 409 and below.json()["code"] == "order.replace_below_working"

    response = replace(pm, mine.id, {"quantity": 600})
    assert response.status_code == 200 and response.json()["status"] == OrderStatus.FILLED
    parent.refresh_from_db()
    assert parent.quantity == 4600 and parent.is_open
    assert ParentOrder.objects.get(pk=parent.pk).filled_quantity == 1000
