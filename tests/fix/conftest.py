"""FIX tests: real sockets on free ports, a real gateway, real QuickFIX initiators, bounded waits."""

from __future__ import annotations

import pytest

from fix.models import ResetPolicy, SessionKind
from fix.services import fix_session_add
from oms.roles import Actor

OPERATOR = Actor(name="ops", type="system", source="system:fix_session:ops")


@pytest.fixture(autouse=True)
def _fix_store_dir(settings, tmp_path):
    # Each test's gateways keep the engine's file store in the test's own folder.
    settings.FIX_STORE_DIR = tmp_path / "fix-store"


def add_session(user, ours: str, theirs: str, *, kind=SessionKind.ORDER_ENTRY, reset_policy=ResetPolicy.NEVER):
    return fix_session_add(ours=ours, theirs=theirs, username=user.username, kind=kind, reset_policy=reset_policy, actor=OPERATOR)
