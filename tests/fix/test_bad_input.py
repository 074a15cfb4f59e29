"""Bad input never crashes the gateway and never half-applies an order: each case is answered, and a real
client trades normally afterwards."""

from __future__ import annotations

import socket
import time

import pytest
import quickfix as qf

from fix import order_entry
from fix.engine import field_or
from fix.gateway import gateway_build
from fix.models import SessionKind
from fix.order_entry import OrderEntry
from oms.models import Order
from tests.fix.client import FixClient
from tests.fix.conftest import add_session
from tests.fix.test_order_entry import new_order
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)

SOH = b"\x01"


@pytest.fixture
def port(api_client_user, client_portfolio, instrument):
    add_session(api_client_user, "SMART", "CLIENT1")
    add_session(api_client_user, "SMART", "COPY1", kind=SessionKind.DROP_COPY)
    port = free_port()
    gw = gateway_build(port=port, handler=OrderEntry())
    gw.start()
    yield port
    gw.stop()
    assert not gw.is_running()


def fix_bytes(*fields: tuple[int, str]) -> bytes:
    body = SOH.join(f"{t}={v}".encode() for t, v in fields) + SOH
    head = b"8=FIX.4.4" + SOH + f"9={len(body)}".encode() + SOH
    checksum = sum(head + body) % 256
    return head + body + f"10={checksum:03d}".encode() + SOH


def sending_time() -> str:
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime())


def exchange(port: int, data: bytes, wait_s: float = 3.0) -> bytes:
    """Send raw bytes; return what the gateway answered before it closed the connection or ``wait_s`` passed."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        deadline = time.monotonic() + wait_s
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(4096)
                if not chunk:
                    break
                received += chunk
        except (TimeoutError, ConnectionResetError):
            pass
    return received


def a_client_still_trades(port: int, cl_ord_id: str) -> None:
    with FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        client.send(new_order(cl_ord_id))
        assert field_or(client.expect("8"), 150) == "0"


@pytest.mark.parametrize("data", [
    b"\x00" * 64,
    b"garbage that is not FIX at all\r\n" * 10,
    b"8=FIX.4.4\x019=99999999\x0135=A\x01",  # a body length far beyond what follows
    b"8=FIX.4.4\x01" + b"9=5\x01" + b"\xff\xfe\x00\x01" * 1000,
], ids=["nul-bytes", "text", "huge-body-length", "binary"])
def test_garbage_on_the_socket_is_dropped_and_the_gateway_goes_on(port, data):
    exchange(port, data, wait_s=1.0)
    a_client_still_trades(port, "AFTER-GARBAGE")


def test_a_logon_with_unknown_comp_ids_is_refused(port):
    logon = fix_bytes((35, "A"), (34, "1"), (49, "STRANGER"), (52, sending_time()), (56, "SMART"), (98, "0"), (108, "30"))
    answer = exchange(port, logon)
    assert b"35=A" not in answer  # no session for STRANGER: no Logon back
    a_client_still_trades(port, "AFTER-STRANGER")


def test_a_logon_with_a_negative_heartbeat_is_refused(port):
    logon = fix_bytes((35, "A"), (34, "1"), (49, "CLIENT1"), (52, sending_time()), (56, "SMART"), (98, "0"), (108, "-5"),
                      (141, "Y"))
    answer = exchange(port, logon)
    assert b"35=5" in answer and b"HeartBtInt(108)" in answer
    assert b"35=A" not in answer
    a_client_still_trades(port, "AFTER-NEGATIVE-HB")


def test_a_nul_byte_in_a_client_order_id_is_rejected_and_nothing_is_recorded(port):
    with FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        client.send(new_order("A\x00B"))
        er = client.expect("8")
    assert field_or(er, 150) == "8"
    assert field_or(er, 58).startswith("validation_error client_order_id=")
    assert not Order.objects.exists()


def test_an_order_on_a_drop_copy_session_gets_a_business_message_reject(port):
    with FixClient(port, "COPY1", "SMART") as client:
        assert client.wait_logon()
        client.send(new_order("DC-1"))
        reject = client.expect("j")
    assert field_or(reject, 58).startswith("fix.not_order_entry:")
    assert not Order.objects.exists()


def test_an_exception_in_order_entry_is_answered_and_the_gateway_goes_on(port, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(order_entry, "orders_submit", broken)
    with FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        client.send(new_order("FAULT-1"))
        reject = client.expect("j")
        assert field_or(reject, 58).startswith("fix.internal_error:")
        assert tags_of(reject) == {"372": "D", "380": "0"}
        monkeypatch.undo()
        client.send(new_order("FAULT-2"))
        assert field_or(client.expect("8"), 150) == "0"
    assert list(Order.objects.values_list("client_order_id", flat=True)) == ["FAULT-2"]


def tags_of(message: qf.Message) -> dict[str, str]:
    return {"372": field_or(message, 372), "380": field_or(message, 380)}


def test_a_nul_byte_in_a_replaces_new_clordid_is_an_order_cancel_reject(port):
    from tests.fix.test_replace import replace_request

    with FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        client.send(new_order("NR-1"))
        client.expect("8")
        client.send(replace_request("NR-1", "NR\x001", qty="50"))
        reject = client.expect("9")
    assert (field_or(reject, 434), field_or(reject, 102)) == ("2", "99")
    assert field_or(reject, 58).startswith("validation_error client_order_id=")
    assert Order.objects.get().quantity == 100


def test_a_replace_on_a_drop_copy_session_gets_a_business_message_reject(port):
    from tests.fix.test_replace import replace_request

    with FixClient(port, "COPY1", "SMART") as client:
        assert client.wait_logon()
        client.send(replace_request("X", "Y"))
        assert field_or(client.expect("j"), 58).startswith("fix.not_order_entry:")


def test_a_report_that_cannot_be_written_leaves_no_order_behind(port, monkeypatch):
    """The outbox row is written in the intake's transaction: if it fails, the order is not recorded either."""
    from fix import outbox

    def broken(*args, **kwargs):
        raise RuntimeError("injected fault in the outbox")

    with FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        monkeypatch.setattr(outbox, "write_rows", broken)
        client.send(new_order("OB-1"))
        assert field_or(client.expect("j"), 58).startswith("fix.internal_error:")
        monkeypatch.undo()
        client.send(new_order("OB-2"))
        assert field_or(client.expect("8"), 150) == "0"
    assert list(Order.objects.values_list("client_order_id", flat=True)) == ["OB-2"]


def test_a_nul_byte_in_an_orig_clordid_is_an_unknown_order(port):
    from tests.fix.test_order_entry import cancel_request

    with FixClient(port, "CLIENT1", "SMART") as client:
        assert client.wait_logon()
        client.send(cancel_request("A\x00B", "C-1"))
        reject = client.expect("9")
    assert (field_or(reject, 434), field_or(reject, 102)) == ("1", "1")
