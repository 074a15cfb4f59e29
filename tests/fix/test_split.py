"""Sessions split between gateway processes: `fix_gateway --sessions`, each gateway with its own sessions and its
own clients, and one gateway per session at a time, held by PostgreSQL (fix.lease) against a second gateway, a
second process, and released when the first stops or dies."""

from __future__ import annotations

import signal
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from fix.engine import GatewayError
from fix.gateway import gateway_build
from fix.lease import SessionsServedElsewhere
from fix.models import FixMessage
from fix.order_entry import OrderEntry
from fix.selectors import fix_session_servers
from tests.fix.client import FixClient
from tests.fix.conftest import add_session
from tests.fix.test_commands import start_gateway_command
from tests.fix.test_reports import book, entered, trades, working
from tests.servers import free_port, stop, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

ONE, TWO = ("SMART", "CLIENT1"), ("SMART", "CLIENT2")


@pytest.fixture
def sessions(api_client_user, client_portfolio, instrument):
    return add_session(api_client_user, *ONE), add_session(api_client_user, *TWO)


@contextmanager
def serving(port: int, keys: list[tuple[str, str]] | None):
    gw = gateway_build(port=port, handler=OrderEntry(), sessions=keys)
    gw.start()
    try:
        yield gw
    finally:
        gw.stop()


def test_two_gateways_each_serve_their_own_sessions_and_send_each_client_its_own_reports(sessions):
    one, two = sessions
    port_a, port_b = free_port(), free_port()
    with serving(port_a, [ONE]) as a, serving(port_b, [TWO]) as b, \
            FixClient(port_a, "CLIENT1", "SMART") as c1, FixClient(port_b, "CLIENT2", "SMART") as c2:
        assert c1.wait_logon() and c2.wait_logon()
        assert [s.key for s in a.sessions] == [ONE] and [s.key for s in b.sessions] == [TWO]
        mine, theirs = entered(c1, "S-1", qty="100", price="101"), entered(c2, "S-1", qty="100", price="101")
        book(working(mine), 30, "100.00")
        book(working(theirs), 70, "100.00")
        got_one, got_two = trades(c1, 1)[0], trades(c2, 1)[0]
        assert c1.received.empty() and c2.received.empty()
        servers = fix_session_servers()
        assert f"127.0.0.1:{port_a} " in servers[one.pk] and f"127.0.0.1:{port_b} " in servers[two.pk]
    assert (got_one.getField(37), got_one.getField(32)) == (str(mine.pk), "30")
    assert (got_two.getField(37), got_two.getField(32)) == (str(theirs.pk), "70")
    assert not FixMessage.objects.filter(session=two, msg_type="D").exclude(cl_ord_id="S-1").exists()
    assert fix_session_servers() == {}  # both stopped: nobody serves them


def test_a_second_gateway_asked_for_a_served_session_refuses_to_start_and_takes_nothing(sessions):
    port_a, port_b = free_port(), free_port()
    with serving(port_a, [ONE]), FixClient(port_a, "CLIENT1", "SMART") as c1:
        assert c1.wait_logon()
        for keys in ([ONE, TWO], None):  # named, or every session (no --sessions)
            gw = gateway_build(port=port_b, handler=OrderEntry(), sessions=keys)
            with pytest.raises(SessionsServedElsewhere, match=rf"SMART->CLIENT1 is served by another gateway \(fix_gateway \S+ 127\.0\.0\.1:{port_a} pid"):
                gw.start()
            assert not gw.is_running()
        # It took no lease on the way: CLIENT2 is free for another gateway, and CLIENT1's client was not disturbed.
        with serving(port_b, [TWO]), FixClient(port_b, "CLIENT2", "SMART") as c2:
            assert c2.wait_logon()
        assert c1.logged_on.is_set()
        assert entered(c1, "STILL-1").status


def test_when_the_first_gateway_stops_another_serves_its_session(sessions):
    port_a, port_b = free_port(), free_port()
    with serving(port_a, [ONE]), FixClient(port_a, "CLIENT1", "SMART", reset=False) as c1:
        assert c1.wait_logon()
        order = entered(c1, "MOVE-1", qty="200", price="101")
    child = working(order)
    with serving(port_b, [ONE]), FixClient(port_b, "CLIENT1", "SMART", reset=False) as again:
        assert again.wait_logon()
        book(child, 200, "100.00")
        got = trades(again, 1)[0]
    assert got.getField(11) == "MOVE-1"


def test_a_gateway_that_loses_its_lease_stops_itself(sessions):
    port = free_port()
    gw = gateway_build(port=port, handler=OrderEntry(), sessions=[ONE])
    gw.start()
    try:
        with connection.cursor() as cur:  # as if PostgreSQL restarted or the network dropped its lease connection
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
                        [f"fix_gateway % 127.0.0.1:{port} pid %"])
        assert wait_for(lambda: not gw.is_running(), 15), "the gateway went on serving without its lease"
        assert gw.lease_lost
    finally:
        gw.stop()
    with serving(free_port(), [ONE]):  # and the session is free for another
        pass


@pytest.mark.parametrize(("value", "named"), [
    ("SMART", "'SMART' is not OURS:THEIRS"),
    ("SMART:CLIENT1,SM ART:X", "'SM ART:X' is not OURS:THEIRS"),
    ("SMART:CLIENT1,SMART:NOBODY", "no FIX session SMART->NOBODY"),
])
def test_sessions_that_are_malformed_or_unknown_are_a_start_error_naming_them(sessions, value, named):
    with pytest.raises(CommandError, match=named):
        call_command("fix_gateway", "--port", str(free_port()), "--sessions", value)
    assert fix_session_servers() == {}  # nothing started, no lease taken


def test_gateway_processes_split_the_sessions_and_a_killed_ones_sessions_are_free_at_once(sessions, settings, tmp_path):
    proc, port, log = start_gateway_command(settings, tmp_path, "--sessions", "SMART:CLIENT1")
    refused = None
    try:
        assert wait_for(lambda: proc.poll() is None and "listening" in log.read_text(), 60), log.read_text()
        assert "(1 sessions: SMART->CLIENT1)" in log.read_text()
        refused, _, refused_log = start_gateway_command(settings, tmp_path / "b", "--sessions", "SMART:CLIENT2,SMART:CLIENT1")
        assert refused.wait(timeout=60) != 0, refused_log.read_text()
        assert "SMART->CLIENT1 is served by another gateway (fix_gateway" in refused_log.read_text()
        assert f"pid {proc.pid})" in refused_log.read_text()
        with FixClient(port, "CLIENT1", "SMART") as c1:
            assert c1.wait_logon()
            assert entered(c1, "PROC-1").source == "fix:SMART:CLIENT1"
        with pytest.raises(GatewayError):
            gateway_build(port=free_port(), handler=OrderEntry(), sessions=[ONE]).start()
        proc.send_signal(signal.SIGKILL)  # dies without stopping anything: PostgreSQL ends its lease connection
        proc.wait(timeout=30)
        assert wait_for(lambda: not fix_session_servers(), 10)
        with serving(free_port(), [ONE]):
            pass
    finally:
        for p in (proc, refused):
            if p is not None and p.poll() is None:
                stop(p)


def test_the_fix_page_shows_which_gateway_serves_each_session(client, trader, sessions):
    one, two = sessions
    port = free_port()
    client.force_login(trader)
    with serving(port, [ONE]):
        page = client.get("/fix/").content.decode()
        detail = client.get(f"/fix/sessions/{one.pk}/").content.decode()
    row = page.split('data-session="SMART-CLIENT1"')[1].split("</tr>")[0]
    other = page.split('data-session="SMART-CLIENT2"')[1].split("</tr>")[0]
    assert f"127.0.0.1:{port} pid" in row and "no gateway" in other
    assert f"127.0.0.1:{port} pid" in detail
