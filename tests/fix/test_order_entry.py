"""Order entry over FIX from a real QuickFIX initiator to the gateway on a free port: the same intake as REST."""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from decimal import Decimal

import pytest
import quickfix as qf
import quickfix44 as fix44

from fix.engine import field_or
from fix.gateway import gateway_build
from fix.models import Direction, FixMessage, FixSession
from fix.order_entry import OrderEntry
from fix.services import fix_session_reset, fix_session_set_enabled
from oms.audit_events import AuditEventType
from oms.error_codes import FieldErrorCode, PermissionErrorCode, RiskErrorCode
from oms.models import AuditEvent, Order
from oms.states import OrderStatus
from tests.fix.client import FixClient
from tests.fix.conftest import OPERATOR, add_session
from tests.servers import free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

SOURCE = "fix:SMART:CLIENT1"


@pytest.fixture
def session(api_client_user, client_portfolio, instrument):
    return add_session(api_client_user, "SMART", "CLIENT1")


@pytest.fixture
def port():
    return free_port()


@contextmanager
def running_gateway(port: int):
    """The order-entry gateway for the sessions in the database, on ``port``, stopped on the way out."""
    gw = gateway_build(port=port, handler=OrderEntry())
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()
    assert not gw.is_running()


@pytest.fixture
def gateway(session, port):
    with running_gateway(port) as gw:
        yield gw


@pytest.fixture
def client(gateway, port):
    with FixClient(port, "CLIENT1", "SMART") as c:
        assert c.wait_logon(), "the client did not log on"
        yield c


def new_order(cl_ord_id: str, *, account="BRIDGE-BOOK", symbol="ACME", side="1", qty="100", ord_type="2",
              price="100.5", poss_resend=False) -> fix44.NewOrderSingle:
    m = fix44.NewOrderSingle()
    m.setField(qf.ClOrdID(cl_ord_id))
    if account is not None:
        m.setField(qf.Account(account))
    m.setField(qf.Symbol(symbol))
    m.setField(qf.Side(side))
    m.setField(qf.StringField(38, qty))
    m.setField(qf.OrdType(ord_type))
    if price is not None:
        m.setField(qf.StringField(44, price))
    m.setField(qf.TransactTime())
    if poss_resend:
        m.getHeader().setField(qf.PossResend(True))
    return m


def tags(message: qf.Message, *numbers: int) -> dict[int, str]:
    return {n: field_or(message, n) for n in numbers}


def test_new_order_single_is_accepted_through_the_intake_with_its_audit(client):
    client.send(new_order("C-1"))
    er = client.expect("8")

    order = Order.objects.get(source=SOURCE, client_order_id="C-1")
    assert tags(er, 150, 39, 11, 37, 1, 55, 54, 38, 14, 151) == {
        150: "0", 39: "0", 11: "C-1", 37: str(order.pk), 1: "BRIDGE-BOOK", 55: "ACME", 54: "1", 38: "100", 14: "0", 151: "100",
    }
    assert (order.status, order.quantity, order.limit_price, order.portfolio.code) == (OrderStatus.ACCEPTED, 100, Decimal("100.5"), "BRIDGE-BOOK")
    events = AuditEvent.objects.filter(object_type="order", object_id=str(order.pk)).values_list("event_type", "source")
    assert (AuditEventType.ORDER_ACCEPTED, SOURCE) in set(events)


def test_orders_sent_back_to_back_are_each_answered_in_order(client):
    for i in range(30):
        client.send(new_order(f"BURST-{i}", qty=str(100 + i)))
    answers = [client.expect("8") for _ in range(30)]

    assert [field_or(er, 11) for er in answers] == [f"BURST-{i}" for i in range(30)]
    assert {field_or(er, 150) for er in answers} == {"0"}
    assert Order.objects.filter(source=SOURCE, status=OrderStatus.ACCEPTED).count() == 30


def test_a_resent_new_order_single_is_answered_again_and_creates_no_second_order(client):
    client.send(new_order("C-2"))
    first = client.expect("8")
    client.send(new_order("C-2", poss_resend=True))
    again = client.expect("8")

    assert Order.objects.filter(source=SOURCE, client_order_id="C-2").count() == 1
    assert field_or(again, 17) == field_or(first, 17)  # FIX 17 ExecID: the same report, not a second one
    assert field_or(again, 150) == "0"


def test_same_client_order_id_with_other_content_is_rejected_as_a_duplicate(client):
    client.send(new_order("C-3"))
    client.expect("8")
    client.send(new_order("C-3", qty="200"))
    er = client.expect("8")

    assert tags(er, 150, 39, 103) == {150: "8", 39: "8", 103: "6"}
    assert field_or(er, 58).startswith("order.duplicate_client_order_id")
    assert Order.objects.get(source=SOURCE, client_order_id="C-3").quantity == 100


def test_an_order_over_a_risk_limit_is_rejected_with_the_risk_code(client, client_portfolio):
    from tests.factories import RiskLimitFactory

    RiskLimitFactory(portfolio=client_portfolio, max_order_quantity=50)
    client.send(new_order("C-4"))
    er = client.expect("8")

    order = Order.objects.get(source=SOURCE, client_order_id="C-4")
    assert order.status == OrderStatus.DENIED
    assert tags(er, 150, 39, 103, 37) == {150: "8", 39: "8", 103: "3", 37: str(order.pk)}
    assert field_or(er, 58).startswith(f"{RiskErrorCode.MAX_QUANTITY}:")


@pytest.mark.parametrize(("changes", "reason", "text"), [
    ({"symbol": "NOPE"}, "1", f"validation_error instrument={FieldErrorCode.UNKNOWN}:"),
    ({"account": "SOMEONE-ELSES"}, "15", f"validation_error portfolio={FieldErrorCode.UNKNOWN}:"),
    ({"account": None}, "15", f"validation_error portfolio={FieldErrorCode.REQUIRED}:"),
    ({"qty": "100.5"}, "13", f"validation_error quantity={FieldErrorCode.INVALID}:"),
    ({"qty": "99999999999999999999"}, "13", f"validation_error quantity={FieldErrorCode.MAX_VALUE}:"),
    ({"ord_type": "P"}, "11", "fix.unsupported_value:"),  # pegged: a valid FIX 4.4 OrdType we do not trade
    ({"side": "5"}, "11", "fix.unsupported_value:"),  # sell short
    ({"ord_type": "1"}, "99", f"validation_error limit_price={FieldErrorCode.NOT_ALLOWED}:"),  # a market order with a price
], ids=["unknown-symbol", "unknown-account", "no-account", "fractional-qty", "huge-qty", "pegged", "sell-short", "market-with-price"])
def test_bad_orders_are_rejected_with_a_code_and_never_recorded(client, changes, reason, text):
    client.send(new_order("BAD-1", **changes))
    er = client.expect("8")

    assert tags(er, 150, 39, 103, 37) == {150: "8", 39: "8", 103: reason, 37: "NONE"}
    assert field_or(er, 58).startswith(text)
    assert not Order.objects.filter(source=SOURCE).exists()


def test_a_portfolio_not_granted_is_rejected_as_an_unknown_account(client, other_portfolio):
    client.send(new_order("C-5", account=other_portfolio.code))
    er = client.expect("8")

    assert tags(er, 150, 103) == {150: "8", 103: "15"}
    assert field_or(er, 58).startswith(f"{PermissionErrorCode.PORTFOLIO_NOT_GRANTED}:")
    assert not Order.objects.filter(source=SOURCE).exists()


def test_an_unsupported_message_type_gets_a_business_message_reject(client):
    mass_cancel = fix44.OrderMassCancelRequest()
    for f in (qf.ClOrdID("MC-1"), qf.MassCancelRequestType("7"), qf.TransactTime()):  # 7: cancel all orders
        mass_cancel.setField(f)
    client.send(mass_cancel)
    reject = client.expect("j")

    assert tags(reject, 372, 380) == {372: "q", 380: "3"}  # FIX 380 BusinessRejectReason 3: unsupported message type


def cancel_request(orig_cl_ord_id: str, cl_ord_id: str) -> fix44.OrderCancelRequest:
    cancel = fix44.OrderCancelRequest()
    for f in (qf.OrigClOrdID(orig_cl_ord_id), qf.ClOrdID(cl_ord_id), qf.Side("1"), qf.TransactTime(), qf.Symbol("ACME")):
        cancel.setField(f)
    return cancel


def test_cancel_then_status(client):
    client.send(new_order("C-6"))
    client.expect("8")
    client.send(cancel_request("C-6", "C-6-X"))
    er = client.expect("8")
    assert tags(er, 150, 39, 41, 11) == {150: "4", 39: "4", 41: "C-6", 11: "C-6-X"}
    assert Order.objects.get(source=SOURCE, client_order_id="C-6").status == OrderStatus.CANCELLED

    status = fix44.OrderStatusRequest()
    for f in (qf.ClOrdID("C-6"), qf.Side("1"), qf.Symbol("ACME")):
        status.setField(f)
    client.send(status)
    er = client.expect("8")
    assert tags(er, 150, 39, 14, 151) == {150: "I", 39: "4", 14: "0", 151: "0"}


def test_cancel_of_an_unknown_order_is_an_order_cancel_reject(client):
    client.send(cancel_request("NEVER-SENT", "X-1"))
    reject = client.expect("9")

    assert tags(reject, 37, 41, 102, 434) == {37: "NONE", 41: "NEVER-SENT", 102: "1", 434: "1"}
    assert field_or(reject, 58).startswith("order.not_found:")


def test_a_disabled_session_cannot_log_on_until_enabled(session, gateway, port):
    fix_session_set_enabled(session_id=session.pk, enabled=False, actor=OPERATOR)
    time.sleep(1.5)  # the gateway reads the sessions' flags every second
    with FixClient(port, "CLIENT1", "SMART") as c:
        assert c.logged_out.wait(15)  # the engine dropped the connection: no Logon back
        assert not c.wait_logon(3)
        fix_session_set_enabled(session_id=session.pk, enabled=True, actor=OPERATOR)
        assert c.wait_logon(15), "the client (retrying every second) did not log on once enabled"
    # One Logon answered in all: the one after enabling.
    assert wait_for(lambda: FixMessage.objects.filter(session=session, direction=Direction.OUT, msg_type="A").count() == 1, 5)


def test_a_session_disabled_before_the_gateway_starts_is_refused(session, port):
    fix_session_set_enabled(session_id=session.pk, enabled=False, actor=OPERATOR)
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART") as c:
        assert c.logged_out.wait(15)
        assert not c.wait_logon(3)


def test_disabling_a_logged_on_session_logs_it_out(session, client):
    fix_session_set_enabled(session_id=session.pk, enabled=False, actor=OPERATOR)
    assert client.logged_out.wait(15), "the gateway did not log the disabled session out"
    assert AuditEvent.objects.filter(object_type="fix_session", object_id=str(session.pk),
                                     event_type=AuditEventType.FIX_SESSION_DISABLED).exists()


def test_an_operator_reset_logs_the_session_out_and_starts_its_sequence_again(session, gateway, port):
    # A client that keeps its sequence across logons: without the reset, our next Logon would not be 1.
    with FixClient(port, "CLIENT1", "SMART", reset=False) as client:
        assert client.wait_logon()
        client.send(new_order("S-1"))
        client.expect("8")
        fix_session_reset(session_id=session.pk, actor=OPERATOR)

        assert client.logged_out.wait(15), "the gateway did not log the reset session out"
        assert wait_for(lambda: not FixSession.objects.get(pk=session.pk).reset_pending, 10), "the gateway did not apply the reset"
        logons = FixMessage.objects.filter(session=session, direction=Direction.OUT, msg_type="A")
        # The client reconnects by itself; our Logon back starts the new sequence at 1.
        assert wait_for(lambda: logons.count() >= 2, 15)
        assert [m.seq_num for m in logons.order_by("id")][:2] == [1, 1]
    assert AuditEvent.objects.filter(object_type="fix_session", object_id=str(session.pk),
                                     event_type=AuditEventType.FIX_SESSION_RESET).exists()


def test_a_reset_applied_stays_applied_across_a_restart(session, port):
    # A client that does not log on again before the restart (however long the reset takes to apply).
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART", reset=False, reconnect_s=60) as client:
        assert client.wait_logon()
        client.send(new_order("RR-1"))
        client.expect("8")
        fix_session_reset(session_id=session.pk, actor=OPERATOR)
        assert client.logged_out.wait(15)
        assert wait_for(lambda: not FixSession.objects.get(pk=session.pk).reset_pending, 10)
    logons = FixMessage.objects.filter(session=session, direction=Direction.OUT, msg_type="A")
    before = logons.count()
    # A client that reset its side too.
    with running_gateway(port), FixClient(port, "CLIENT1", "SMART", reset=False) as client:
        assert client.wait_logon()
    # Our Logon after the restart is the first message of the new sequence (the reset's Logout, sent after
    # the reset was asked for, belongs to the old one and must not carry the numbers on).
    assert logons.count() == before + 1
    assert logons.order_by("id").last().seq_num == 1


@pytest.mark.parametrize("files_lost", [False, True], ids=["files-kept", "files-lost-rebuilt-from-postgresql"])
def test_sequence_numbers_and_the_store_survive_a_gateway_restart(session, port, settings, files_lost):
    gw = gateway_build(port=port, handler=OrderEntry())
    gw.start()
    try:
        with FixClient(port, "CLIENT1", "SMART", reset=False) as c:
            assert c.wait_logon()
            c.send(new_order("R-1"))
            c.expect("8")
            gw.stop()
            c.logged_on.clear()
            if files_lost:  # a new machine with the database restored: the engine's store comes from PostgreSQL
                shutil.rmtree(settings.FIX_STORE_DIR)
            gw = gateway_build(port=port, handler=OrderEntry())
            gw.start()
            assert c.wait_logon(20), "the client did not log on again after the restart"
            c.send(new_order("R-2"))
            assert field_or(c.expect("8"), 150) == "0"
    finally:
        gw.stop()

    logons = FixMessage.objects.filter(session=session, direction=Direction.OUT, msg_type="A").order_by("id")
    assert [m.seq_num for m in logons][0] == 1
    assert [m.seq_num for m in logons][1] > 2  # the second logon continued the sequence, no reset
    assert FixSession.objects.get(pk=session.pk).next_target_seq > 3
    assert Order.objects.filter(source=SOURCE).count() == 2
