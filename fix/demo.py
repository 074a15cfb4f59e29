"""The FIX gateway's part of ``manage.py seed_demo``: one order-entry session for the demo API client."""

from __future__ import annotations

from fix.models import FixSession, SessionKind
from fix.services import fix_session_add
from oms.demo import API_CLIENT
from oms.roles import Actor

DEMO_OURS, DEMO_THEIRS = "SMART", "BRIDGE"  # a client logs on as SenderCompID=BRIDGE, TargetCompID=SMART


def seed_demo() -> None:
    """Add the demo session SMART<-BRIDGE (acting as the API client ``bridge``) unless it exists."""
    if not FixSession.objects.filter(sender_comp_id=DEMO_OURS, target_comp_id=DEMO_THEIRS).exists():
        fix_session_add(ours=DEMO_OURS, theirs=DEMO_THEIRS, username=API_CLIENT, kind=SessionKind.ORDER_ENTRY,
                        actor=Actor.system("seed_demo"), reason="demo data")
