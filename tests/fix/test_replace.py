"""OrderCancelReplaceRequest (G) on the amend service, from a real QuickFIX initiator: Replaced (150=5) with the new
ClOrdID the order answers to afterwards, and OrderCancelReject (434=2) with our code where it cannot apply."""

from __future__ import annotations

from decimal import Decimal

import pytest
import quickfix as qf
import quickfix44 as fix44

from fix.engine import field_or
from oms.audit_events import AuditEventType
from oms.models import AuditEvent, Order
from oms.states import OrderStatus
from tests.fix.client import FixClient
from tests.fix.conftest import add_session
from tests.fix.test_order_entry import cancel_request, new_order, running_gateway, tags
from tests.fix.test_reports import SOURCE, book, entered, working
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(api_client_user, client_portfolio, instrument):
    add_session(api_client_user, "SMART", "CLIENT1")
    add_session(api_client_user, "SMART", "CLIENT2")
    port = free_port()
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as c:
        assert c.wait_logon()
        c.port = port
        yield c


def replace_request(orig: str, new: str, *, qty: str | None = "100", price: str | None = None) -> fix44.OrderCancelReplaceRequest:
    g = fix44.OrderCancelReplaceRequest()
    for fld in (qf.OrigClOrdID(orig), qf.ClOrdID(new), qf.Side("1"), qf.TransactTime(), qf.OrdType("2"), qf.Symbol("ACME")):
        g.setField(fld)
    if qty is not None:
        g.setField(qf.StringField(38, qty))
    if price is not None:
        g.setField(qf.StringField(44, price))
    return g


def status_request(cl_ord_id: str) -> fix44.OrderStatusRequest:
    h = fix44.OrderStatusRequest()
    for fld in (qf.ClOrdID(cl_ord_id), qf.Side("1"), qf.Symbol("ACME")):
        h.setField(fld)
    return h


def test_a_replace_changes_quantity_and_price_and_the_new_clordid_names_the_order_afterwards(client):
    order = entered(client, "G-1", qty="300", price="100.5")
    client.send(replace_request("G-1", "G-1b", qty="200", price="100.25"))
    er = client.expect("8")

    assert tags(er, 150, 39, 11, 41, 37, 38, 44, 151) == {
        150: "5", 39: "0", 11: "G-1b", 41: "G-1", 37: str(order.pk), 38: "200", 44: "100.25", 151: "200"}
    order.refresh_from_db()
    assert (order.quantity, order.limit_price) == (200, Decimal("100.25"))
    assert AuditEvent.objects.filter(object_id=str(order.pk), event_type=AuditEventType.ORDER_REPLACED).exists()

    client.send(status_request("G-1b"))
    assert tags(client.expect("8"), 150, 37, 38) == {150: "I", 37: str(order.pk), 38: "200"}
    client.send(cancel_request("G-1b", "G-1c"))
    assert tags(client.expect("8"), 150, 11, 41) == {150: "4", 11: "G-1c", 41: "G-1b"}


def test_fills_after_a_replace_carry_the_new_clordid(client):
    order = entered(client, "G-2", qty="300", price="101")
    child = working(order, at_venue=100)
    client.send(replace_request("G-2", "G-2b", qty="200"))  # in a parent: a reduction applies
    assert tags(client.expect("8"), 150, 11, 38) == {150: "5", 11: "G-2b", 38: "200"}
    book(child, 50, "100.00")
    assert tags(client.expect("8"), 150, 11, 14, 151) == {150: "F", 11: "G-2b", 14: "50", 151: "150"}


@pytest.mark.parametrize(("request_kw", "reason", "code"), [
    ({"qty": "400"}, "2", "order.replace_in_parent"),  # larger, in a parent
    ({"qty": "300", "price": "100.75"}, "2", "order.replace_in_parent"),  # another limit, in a parent
    ({"qty": "40"}, "2", "order.replace_below_working"),  # below its fills
], ids=["larger-in-parent", "new-limit-in-parent", "below-filled"])
def test_what_cannot_apply_to_an_order_in_a_parent_is_an_order_cancel_reject(client, request_kw, reason, code):
    order = entered(client, "G-3", qty="300", price="101")
    book(working(order), 50, "100.00")
    client.expect("8")  # its fill
    client.send(replace_request("G-3", "G-3b", **request_kw))
    reject = client.expect("9")

    assert tags(reject, 434, 102, 11, 41, 39, 37) == {434: "2", 102: reason, 11: "G-3b", 41: "G-3", 39: "1", 37: str(order.pk)}
    assert field_or(reject, 58).startswith(code)
    order.refresh_from_db()
    assert (order.quantity, order.limit_price) == (300, Decimal("101"))


@pytest.mark.parametrize(("orig", "new", "kw", "reason", "text"), [
    ("NEVER-SENT", "N-1", {}, "1", "order.not_found:"),
    ("G-4", "G-4b", {"qty": "0"}, "99", "validation_error quantity="),
    ("G-4", "G-4b", {"qty": "100", "price": "-5"}, "99", "validation_error limit_price="),
    ("G-4", "G-4", {"qty": "50"}, None, None),  # the same ClOrdID again: allowed, Replaced
    ("G-4", "OTHER-ORDER", {}, "6", "order.duplicate_client_order_id:"),
], ids=["unknown-orig", "zero-qty", "negative-price", "same-id", "id-in-use"])
def test_bad_replace_requests_are_rejected_with_a_code_and_change_nothing(client, orig, new, kw, reason, text):
    entered(client, "G-4", qty="100", price="101")
    entered(client, "OTHER-ORDER", qty="100", price="101")
    client.send(replace_request(orig, new, **kw))
    if reason is None:
        assert tags(client.expect("8"), 150, 38) == {150: "5", 38: "50"}
        return
    reject = client.expect("9")
    assert tags(reject, 434, 102) == {434: "2", 102: reason}
    assert field_or(reject, 58).startswith(text)
    assert Order.objects.get(source=SOURCE, client_order_id="G-4").quantity == 100


def test_a_replace_of_another_sessions_order_is_an_unknown_order(client, api_client_user):
    with FixClient(client.port, "CLIENT2", "SMART") as other:
        assert other.wait_logon()
        entered(other, "THEIRS-1", qty="100", price="101")
    client.send(replace_request("THEIRS-1", "MINE-1", qty="50"))
    reject = client.expect("9")
    assert tags(reject, 434, 102, 37) == {434: "2", 102: "1", 37: "NONE"}
    assert Order.objects.get(client_order_id="THEIRS-1").quantity == 100


def test_a_replace_of_a_filled_order_is_too_late(client):
    order = entered(client, "G-5", qty="100", price="101")
    book(working(order), 100, "100.00")
    client.expect("8")
    client.send(replace_request("G-5", "G-5b", qty="50"))
    reject = client.expect("9")
    assert tags(reject, 434, 102, 39) == {434: "2", 102: "0", 39: "2"}
    assert field_or(reject, 58).startswith("order.not_replaceable:")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.FILLED


def test_a_replace_denied_by_risk_is_rejected_with_the_risk_code_and_audited(client, client_portfolio):
    from tests.factories import RiskLimitFactory

    order = entered(client, "G-6", qty="100", price="101")
    RiskLimitFactory(portfolio=client_portfolio, max_order_quantity=150)
    client.send(replace_request("G-6", "G-6b", qty="500"))
    reject = client.expect("9")
    assert tags(reject, 434, 102) == {434: "2", 102: "99"}
    assert field_or(reject, 58).startswith("risk.max_quantity:")
    assert AuditEvent.objects.filter(object_id=str(order.pk), event_type=AuditEventType.ORDER_REPLACE_DENIED).exists()
    assert Order.objects.get(pk=order.pk).quantity == 100
    client.send(new_order("G-7"))  # the session goes on normally
    assert field_or(client.expect("8"), 150) == "0"


def test_a_replace_with_a_garbage_quantity_is_refused_by_the_session_layer(client):
    entered(client, "G-8", qty="100", price="101")
    client.send(replace_request("G-8", "G-8b", qty="abc"))
    reject = client.admin.get(timeout=15)  # FIX 35=3: 38 is not a number (the engine's data dictionary)
    assert field_or(reject.getHeader(), 35) == "3" and field_or(reject, 371) == "38"
    assert Order.objects.get(source=SOURCE, client_order_id="G-8").quantity == 100
    client.send(status_request("G-8"))
    assert field_or(client.expect("8"), 150) == "I"
