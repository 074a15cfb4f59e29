"""The gateway listens on 127.0.0.1 only unless told otherwise (the engine itself binds every interface)."""

from __future__ import annotations

import socket

import pytest

from fix.engine import GatewayError
from fix.gateway import gateway_build
from fix.order_entry import OrderEntry
from tests.fix.client import FixClient
from tests.fix.conftest import add_session
from tests.servers import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def outside_address() -> str | None:
    """This machine's address on its default route (a UDP connect sends nothing), None when it has only loopback."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
            address = s.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def connects(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False


@pytest.fixture
def session(api_client_user, client_portfolio, instrument):
    return add_session(api_client_user, "SMART", "CLIENT1")


def test_by_default_the_gateway_takes_connections_from_this_machine_only(session):
    port = free_port()
    gw = gateway_build(port=port, handler=OrderEntry())
    gw.start()
    try:
        assert gw.host == "127.0.0.1"
        with FixClient(port, "CLIENT1", "SMART") as client:
            assert client.wait_logon(), "a client on 127.0.0.1 could not log on"
        address = outside_address()
        if address is not None:  # a machine with loopback only has no other address to try
            assert not connects(address, port), f"{address}:{port} took a connection"
    finally:
        gw.stop()


def test_with_host_0_0_0_0_every_interface_takes_connections(session):
    port = free_port()
    gw = gateway_build(port=port, handler=OrderEntry(), host="0.0.0.0")
    gw.start()
    try:
        assert connects("127.0.0.1", port)
        address = outside_address()
        if address is not None:
            assert connects(address, port)
    finally:
        gw.stop()


def test_a_host_this_machine_does_not_have_is_a_start_error_and_leaves_the_sessions_free(session):
    gw = gateway_build(port=free_port(), handler=OrderEntry(), host="203.0.113.7")  # TEST-NET-3: nobody's
    with pytest.raises(GatewayError, match="did not start"):
        gw.start()
    port = free_port()
    gw = gateway_build(port=port, handler=OrderEntry())
    gw.start()
    try:
        with FixClient(port, "CLIENT1", "SMART") as client:
            assert client.wait_logon()
    finally:
        gw.stop()
