"""API tokens: issue, rotate, revoke, each with its audit row in the same transaction; expiry by age.

A token (DRF's ``authtoken.Token``, one per user) expires ``settings.API_TOKEN_TTL`` after it was created
(None: never). Every change to the token table bumps the reference-data stamp (migration 0004), so a
rotated or revoked key is refused by every process from the next request on. The audit trail never
holds a key, only its fingerprint (the first 12 hex digits of its SHA-256), which identifies it without
letting anyone use it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from oms.audit_events import AuditEventType
from oms.error_codes import AuthErrorCode
from oms.errors import NotFound
from oms.roles import Actor
from oms.services.audit import audit_record


def token_expires_at(token: Token) -> datetime | None:
    ttl = settings.API_TOKEN_TTL
    return token.created + ttl if ttl else None


def token_is_expired(token: Token, now: datetime | None = None) -> bool:
    expires_at = token_expires_at(token)
    return expires_at is not None and expires_at <= (now or timezone.now())


def token_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _state(token: Token) -> dict:
    return {"fingerprint": token_fingerprint(token.key), "created": token.created, "expires_at": token_expires_at(token)}


def _locked_user(user):
    # One token per user: lock the user row so two requests cannot both replace an expired token.
    return get_user_model().objects.select_for_update().get(pk=user.pk)


@transaction.atomic
def api_token_issue(*, user, actor: Actor) -> Token:
    """Return the user's token; create one (audited ``auth.token_issued``) when none is valid.

    An expired token is replaced, never extended: its key stops working for good.
    """
    _locked_user(user)
    token = Token.objects.filter(user=user).first()
    if token is not None and not token_is_expired(token):
        return token
    before = None
    if token is not None:
        before = _state(token)
        token.delete()
    token = Token.objects.create(user=user)
    audit_record(actor=actor, event_type=AuditEventType.AUTH_TOKEN_ISSUED, object_type="user", object_id=user.pk,
                 before=before, after=_state(token),
                 reason="previous token expired" if before else "first token for this user")
    return token


@transaction.atomic
def api_token_rotate(*, user, actor: Actor, reason: str = "rotated by an administrator") -> Token:
    """Replace the user's token with a new key (audited ``auth.token_rotated``); the old key is refused at once."""
    _locked_user(user)
    old = Token.objects.filter(user=user).first()
    before = _state(old) if old is not None else None
    if old is not None:
        old.delete()
    token = Token.objects.create(user=user)
    audit_record(actor=actor, event_type=AuditEventType.AUTH_TOKEN_ROTATED, object_type="user", object_id=user.pk,
                 before=before, after=_state(token), reason=reason)
    return token


@transaction.atomic
def api_token_revoke(*, user, actor: Actor, reason: str = "revoked by an administrator") -> None:
    """Delete the user's token (audited ``auth.token_revoked``); the key is refused at once."""
    _locked_user(user)
    token = Token.objects.filter(user=user).first()
    if token is None:
        raise NotFound(AuthErrorCode.NO_TOKEN, f"{user.get_username()} has no API token")
    before = _state(token)
    token.delete()
    audit_record(actor=actor, event_type=AuditEventType.AUTH_TOKEN_REVOKED, object_type="user", object_id=user.pk,
                 before=before, after=None, reason=reason)
