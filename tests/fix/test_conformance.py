"""The FIX 4.4 server session tests the QuickFIX engine is tested with (tests/fix/conformance, 59 scripts)
against the gateway's session layer and configuration, with the engine's test application (echo) in place
of order entry: every script passes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fix.gateway import gateway_build
from fix.models import ResetPolicy
from tests.fix.conftest import add_session
from tests.fix.echo_app import EchoApplication
from tests.servers import free_port

HERE = Path(__file__).resolve().parent / "conformance"
SCRIPTS = sorted((HERE / "server" / "fix44").glob("*.def"))


@pytest.mark.django_db(transaction=True)
def test_all_59_fix44_server_scripts_pass(api_client_user):
    assert len(SCRIPTS) == 59
    # As the engine's own test acceptor is configured (conformance/README.md).
    for theirs in ("TW44", "TW", "NO_CHECK_FIELDS_HAVE_VALUES"):
        add_session(api_client_user, "ISLD", theirs, reset_policy=ResetPolicy.LOGON)
    port = free_port()
    gateway = gateway_build(port=port, handler=EchoApplication(),
                            extra={("ISLD", "NO_CHECK_FIELDS_HAVE_VALUES"): {"ValidateFieldsHaveValues": "N"}})
    gateway.start()
    try:
        run = subprocess.run(
            [sys.executable, str(HERE / "at_runner.py"), "127.0.0.1", str(port), *map(str, SCRIPTS),
             "--fmt", str(HERE / "fields.fmt"), "--timeout", "10"],
            capture_output=True, text=True, timeout=600,
        )
    finally:
        gateway.stop()
    assert not gateway.is_running()
    failures = "\n".join(line for line in run.stdout.splitlines() if not line.startswith("PASS"))
    assert run.returncode == 0, failures
    assert run.stdout.splitlines()[-1] == "59 passed, 0 failed"
