"""Every write to FIX sessions: ``fix_session_<action>`` under one transaction with its audit row inside."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from fix.error_codes import FixErrorCode
from fix.models import COMPID_PATTERN, FixSession, ResetPolicy, SessionKind
from fix.outbox import directory_invalidate
from oms.audit_events import AuditEventType
from oms.errors import Conflict, NotFound, ValidationFailed
from oms.roles import Actor
from oms.services.audit import PendingEvent, audit_append

_COMPID_RE = re.compile(COMPID_PATTERN)
OBJECT_TYPE = "fix_session"


def _snapshot(s: FixSession) -> dict:
    return {
        "sender_comp_id": s.sender_comp_id, "target_comp_id": s.target_comp_id, "user": s.user.get_username(),
        "kind": s.kind, "heartbeat_seconds": s.heartbeat_seconds, "reset_policy": s.reset_policy, "enabled": s.enabled,
    }


def _audit(actor: Actor, event: AuditEventType, session: FixSession, before, after, reason: str) -> None:
    audit_append([PendingEvent(actor, event, OBJECT_TYPE, session.pk, before, after, reason)])
    transaction.on_commit(directory_invalidate)  # this process's report listener sees the change at once


def _invalid(field: str, code: str, detail: str) -> ValidationFailed:
    return ValidationFailed({field: [{"code": code, "detail": detail}]})


@transaction.atomic
def fix_session_add(
    *, ours: str, theirs: str, username: str, kind: str, actor: Actor,
    heartbeat_seconds: int = 30, reset_policy: str = ResetPolicy.NEVER, reason: str = "",
) -> FixSession:
    """Add a FIX session that acts as ``username``; the gateway accepts it from its next start."""
    for field, value in (("ours", ours), ("theirs", theirs)):
        if not _COMPID_RE.fullmatch(value or ""):
            raise _invalid(field, FixErrorCode.BAD_COMP_ID, f"{field}: 1-64 letters, digits, '.', '_' or '-'")
    if kind not in SessionKind.values:
        raise _invalid("kind", FixErrorCode.UNSUPPORTED_VALUE, f"kind must be one of: {', '.join(SessionKind.values)}")
    if reset_policy not in ResetPolicy.values:
        raise _invalid("reset_policy", FixErrorCode.UNSUPPORTED_VALUE, f"reset policy must be one of: {', '.join(ResetPolicy.values)}")
    if not 1 <= heartbeat_seconds <= 3600:
        raise _invalid("heartbeat_seconds", FixErrorCode.UNSUPPORTED_VALUE, "heartbeat: 1 to 3600 seconds")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise NotFound(FixErrorCode.USER_NOT_FOUND, f"No user {username!r}", field="user")
    # Lock on the pair so that two concurrent adds answer "exists" rather than an integrity error.
    if FixSession.objects.select_for_update().filter(sender_comp_id=ours, target_comp_id=theirs).exists():
        raise Conflict(FixErrorCode.SESSION_EXISTS, f"A session {ours}->{theirs} exists already")
    session = FixSession.objects.create(
        sender_comp_id=ours, target_comp_id=theirs, user=user, kind=kind,
        heartbeat_seconds=heartbeat_seconds, reset_policy=reset_policy,
    )
    _audit(actor, AuditEventType.FIX_SESSION_ADDED, session, None, _snapshot(session), reason)
    return session


def _locked(session_id: int) -> FixSession:
    session = FixSession.objects.select_for_update().select_related("user").filter(pk=session_id).first()
    if session is None:
        raise NotFound(FixErrorCode.SESSION_NOT_FOUND, f"No FIX session {session_id}")
    return session


@transaction.atomic
def fix_session_set_enabled(*, session_id: int, enabled: bool, actor: Actor, reason: str = "") -> FixSession:
    """Enable or disable a session: a running gateway logs a disabled one out and refuses its logons."""
    session = _locked(session_id)
    if session.enabled == enabled:
        return session  # nothing changed, nothing to audit
    session.enabled = enabled
    session.save(update_fields=["enabled"])
    event = AuditEventType.FIX_SESSION_ENABLED if enabled else AuditEventType.FIX_SESSION_DISABLED
    _audit(actor, event, session, {"enabled": not enabled}, {"enabled": enabled}, reason)
    return session


@transaction.atomic
def fix_session_reset(*, session_id: int, actor: Actor, reason: str = "") -> FixSession:
    """Set both sequence numbers back to 1 and forget the stored messages (they are kept in the log)."""
    session = _locked(session_id)
    before = {"next_sender_seq": session.next_sender_seq, "next_target_seq": session.next_target_seq}
    session.next_sender_seq = session.next_target_seq = 1
    session.store_reset_at = timezone.now()
    session.reset_pending = True
    session.save(update_fields=["next_sender_seq", "next_target_seq", "store_reset_at", "reset_pending"])
    _audit(actor, AuditEventType.FIX_SESSION_RESET, session, before, {"next_sender_seq": 1, "next_target_seq": 1}, reason)
    return session
