"""`manage.py fix_session` (add, list, enable, disable, reset; each change audited) and `manage.py fix_gateway`
as an operator runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from fix.models import FixSession, SessionKind
from oms.audit_events import AuditEventType
from oms.models import AuditEvent, Order
from tests.fix.client import FixClient
from tests.fix.test_order_entry import new_order
from tests.servers import BASE_DIR, database_url, free_port, stop, wait_for


def fix_session(*args) -> str:
    out = StringIO()
    call_command("fix_session", *args, stdout=out)
    return out.getvalue()


def audited(session: FixSession) -> list[str]:
    return list(AuditEvent.objects.filter(object_type="fix_session", object_id=str(session.pk)).order_by("id")
                .values_list("event_type", flat=True))


@pytest.mark.django_db
def test_add_list_disable_enable_reset_each_audited(api_client_user):
    fix_session("add", "--ours", "SMART", "--theirs", "CLIENT1", "--user", "bridge_client", "--kind", "order-entry")
    fix_session("add", "--ours", "SMART", "--theirs", "COMPLY", "--user", "bridge_client", "--kind", "drop-copy")
    listing = fix_session("list")
    assert "CLIENT1" in listing and "COMPLY" in listing and "drop-copy" in listing

    fix_session("disable", "--ours", "SMART", "--theirs", "CLIENT1")
    session = FixSession.objects.get(target_comp_id="CLIENT1")
    assert not session.enabled
    fix_session("enable", "--ours", "SMART", "--theirs", "CLIENT1")
    fix_session("reset", "--ours", "SMART", "--theirs", "CLIENT1")
    session.refresh_from_db()
    assert (session.enabled, session.kind, session.user, session.reset_pending) == (True, SessionKind.ORDER_ENTRY, api_client_user, True)
    assert audited(session) == [AuditEventType.FIX_SESSION_ADDED, AuditEventType.FIX_SESSION_DISABLED,
                                AuditEventType.FIX_SESSION_ENABLED, AuditEventType.FIX_SESSION_RESET]


@pytest.mark.django_db
@pytest.mark.parametrize(("args", "code"), [
    (["--ours", "SMART", "--theirs", "CLIENT1", "--user", "nobody", "--kind", "order-entry"], "fix.user_not_found"),
    (["--ours", "SM ART", "--theirs", "CLIENT1", "--user", "bridge_client", "--kind", "order-entry"], "validation_error ours=fix.bad_comp_id"),
    (["--ours", "SMART", "--theirs", "X\x00", "--user", "bridge_client", "--kind", "order-entry"], "validation_error theirs=fix.bad_comp_id"),
    (["--ours", "SMART", "--theirs", "CLIENT1", "--user", "bridge_client", "--kind", "order-entry", "--heartbeat", "0"],
     "validation_error heartbeat_seconds=fix.unsupported_value"),
])
def test_bad_adds_are_refused_with_a_code_and_change_nothing(api_client_user, args, code):
    with pytest.raises(CommandError, match=code):
        fix_session("add", *args)
    assert not FixSession.objects.exists()


@pytest.mark.django_db
def test_a_second_session_with_the_same_comp_ids_is_refused(api_client_user):
    fix_session("add", "--ours", "SMART", "--theirs", "CLIENT1", "--user", "bridge_client", "--kind", "order-entry")
    with pytest.raises(CommandError, match="fix.session_exists"):
        fix_session("add", "--ours", "SMART", "--theirs", "CLIENT1", "--user", "bridge_client", "--kind", "drop-copy")
    with pytest.raises(CommandError, match="No FIX session SMART->NOBODY"):
        fix_session("disable", "--ours", "SMART", "--theirs", "NOBODY")


def start_gateway_command(settings, tmp_path, *args: str) -> tuple[subprocess.Popen, int, Path]:
    """`manage.py fix_gateway` on a free port against the test database (``args`` added); (process, port, its log)."""
    from django.db import connection

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATABASE_URL": database_url(connection.settings_dict),
           "REDIS_URL": settings.REDIS_URL, "FIX_STORE_DIR": str(tmp_path / "store"), "DB_POOL_MIN_SIZE": "0"}
    connection.close()
    with tempfile.NamedTemporaryFile(prefix="fix-gateway-", suffix=".log", delete=False) as log:
        proc = subprocess.Popen([sys.executable, "manage.py", "fix_gateway", "--port", str(port), *args],
                                cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, port, Path(log.name)


@pytest.mark.django_db(transaction=True)
def test_the_gateway_command_without_sessions_waits_and_stops_on_sigterm(settings, tmp_path):
    proc, _port, log = start_gateway_command(settings, tmp_path)
    try:
        # Up and waiting, not exited: `make run` stops every process when one exits.
        assert wait_for(lambda: "No FIX sessions" in log.read_text(), 60), log.read_text()
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            stop(proc)


@pytest.mark.django_db(transaction=True)
def test_the_gateway_command_takes_orders_and_stops_cleanly_on_sigterm(api_client_user, client_portfolio, instrument, settings, tmp_path):
    fix_session("add", "--ours", "SMART", "--theirs", "CLIENT1", "--user", "bridge_client", "--kind", "order-entry")
    proc, port, log = start_gateway_command(settings, tmp_path)
    try:
        assert wait_for(lambda: proc.poll() is None and "listening" in log.read_text(), 60), log.read_text()
        assert f"listening on 127.0.0.1:{port}" in log.read_text()  # this machine only, by default
        with FixClient(port, "CLIENT1", "SMART") as client:
            assert client.wait_logon()
            client.send(new_order("CMD-1"))
            assert client.expect("8").getField(150) == "0"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            stop(proc)
    assert "FIX gateway stopped" in log.read_text()
    assert Order.objects.get(client_order_id="CMD-1").source == "fix:SMART:CLIENT1"


@pytest.mark.django_db
def test_seed_demo_adds_the_demo_order_entry_session_once():
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())
    session = FixSession.objects.get()
    assert (session.sender_comp_id, session.target_comp_id, session.user.username, session.kind) == \
        ("SMART", "BRIDGE", "bridge", SessionKind.ORDER_ENTRY)
    assert audited(session) == [AuditEventType.FIX_SESSION_ADDED]
