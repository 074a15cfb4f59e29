"""The gateway as the product runs it: its sessions from the database, its journal in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from fix.engine import Gateway, Handler, SessionConfig, SessionKey
from fix.models import FixSession, ResetPolicy
from fix.store import PostgresJournal

DEFAULT_PORT = 9878


def session_configs(extra: dict[SessionKey, dict[str, str]] | None = None) -> list[SessionConfig]:
    """Every session in the database (a disabled one is configured too: its logons are refused until enabled)."""
    extra = extra or {}
    return [
        SessionConfig(
            ours=s.sender_comp_id, theirs=s.target_comp_id, heartbeat_seconds=s.heartbeat_seconds,
            reset_on_logon=s.reset_policy == ResetPolicy.LOGON,
            extra=extra.get((s.sender_comp_id, s.target_comp_id), {}),
        )
        for s in FixSession.objects.all()
    ]


def gateway_build(*, port: int, handler: Handler, extra: dict[SessionKey, dict[str, str]] | None = None,
                  log_dir: Path | None = None, host: str | None = None) -> Gateway:
    """A gateway for the sessions in the database (not started), its file store in ``FIX_STORE_DIR``, listening on
    ``host`` (default ``FIX_GATEWAY_HOST``, 127.0.0.1)."""
    return Gateway(sessions=session_configs(extra), port=port, handler=handler, journal=PostgresJournal(),
                   store_dir=settings.FIX_STORE_DIR, log_dir=log_dir, host=host or settings.FIX_GATEWAY_HOST)
