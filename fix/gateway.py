"""The gateway as the product runs it: its sessions from the database, its journal in PostgreSQL, and a lease on
each of them so that no other gateway serves them meanwhile (``fix.lease``)."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from fix.engine import Gateway, GatewayError, Handler, SessionConfig, SessionKey
from fix.lease import SessionLease, lease_label
from fix.models import COMPID_PATTERN, FixSession, ResetPolicy
from fix.store import PostgresJournal

DEFAULT_PORT = 9878
_COMPID_RE = re.compile(COMPID_PATTERN)


def session_keys_parse(text: str) -> list[SessionKey]:
    """``OURS:THEIRS[,OURS:THEIRS...]`` (``fix_gateway --sessions``) as session keys, in order, each once; raise
    GatewayError naming the first one that is not two CompIDs joined by a colon."""
    keys: list[SessionKey] = []
    for item in text.split(","):
        ours, colon, theirs = item.strip().partition(":")
        if not (colon and _COMPID_RE.fullmatch(ours) and _COMPID_RE.fullmatch(theirs)):
            raise GatewayError(f"--sessions: {item.strip()!r} is not OURS:THEIRS (two CompIDs: 1-64 letters, digits, '.', '_' or '-')")
        if (ours, theirs) not in keys:
            keys.append((ours, theirs))
    return keys


def _rows(only: list[SessionKey] | None) -> list[FixSession]:
    rows = list(FixSession.objects.all())
    if only is None:
        return rows
    by_key = {(s.sender_comp_id, s.target_comp_id): s for s in rows}
    unknown = [f"{ours}->{theirs}" for ours, theirs in only if (ours, theirs) not in by_key]
    if unknown:
        raise GatewayError(f"--sessions: no FIX session {', '.join(unknown)} (see `manage.py fix_session list`)")
    return [by_key[key] for key in only]


def session_configs(extra: dict[SessionKey, dict[str, str]] | None = None, *,
                    only: list[SessionKey] | None = None) -> list[SessionConfig]:
    """The sessions ``only`` names (every session in the database when None; GatewayError naming any unknown one).
    A disabled session is configured too: its logons are refused until it is enabled."""
    return [_config(s, extra or {}) for s in _rows(only)]


def _config(s: FixSession, extra: dict[SessionKey, dict[str, str]]) -> SessionConfig:
    return SessionConfig(
        ours=s.sender_comp_id, theirs=s.target_comp_id, heartbeat_seconds=s.heartbeat_seconds,
        reset_on_logon=s.reset_policy == ResetPolicy.LOGON, extra=extra.get((s.sender_comp_id, s.target_comp_id), {}),
    )


def gateway_build(*, port: int, handler: Handler, extra: dict[SessionKey, dict[str, str]] | None = None,
                  log_dir: Path | None = None, host: str | None = None, sessions: list[SessionKey] | None = None) -> Gateway:
    """A gateway (not started) for ``sessions`` (default: every session in the database), its file store in
    ``FIX_STORE_DIR``, listening on ``host`` (default ``FIX_GATEWAY_HOST``, 127.0.0.1). Its ``start`` takes each
    session's lease and refuses to start when another gateway serves one of them."""
    host = host or settings.FIX_GATEWAY_HOST
    rows = _rows(sessions)
    ids = {(s.sender_comp_id, s.target_comp_id): s.pk for s in rows}
    return Gateway(sessions=[_config(s, extra or {}) for s in rows], port=port, handler=handler, journal=PostgresJournal(ids), store_dir=settings.FIX_STORE_DIR,
                   log_dir=log_dir, host=host, lease=SessionLease(ids, label=lease_label(host, port)))
