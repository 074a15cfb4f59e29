"""Sign-ins, failed sign-ins, lockouts and sign-outs go to the audit trail (Django's and django-axes's signals).

What is recorded, and what is deliberately not (so a flood of guesses cannot flood the audit trail):

* ``auth.login_failed``: every attempt whose password was checked and wrong. The lockout bounds these to
  ``AXES_FAILURE_LIMIT`` per username and per address per cool-off.
* ``auth.locked_out``: the failure that locked a username or an address (one per lock).
* ``auth.lockout_refused``: the first attempt refused while a lock holds, per username and per address
  per cool-off; later refusals are refused (before any hashing) but not recorded.
* ``auth.throttled`` (oms.api.throttles): the first refusal of each throttle window on the token endpoint.
"""

from __future__ import annotations

import hashlib

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.core.cache import cache
from django.db import transaction
from django.dispatch import receiver

from oms.audit_events import AuditEventType
from oms.roles import Actor
from oms.services.audit import audit_record
from oms.signin import client_ip, lockout_retry_after


def _client(request) -> dict:
    if request is None:
        return {}
    return {"ip": client_ip(request), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200], "path": request.path[:200]}


def _channel(request) -> str:
    return "api" if request is not None and request.path.startswith("/api/") else "browser"


def _anonymous(username: str, request) -> Actor:
    return Actor(name=username or "unknown", type="user", source=f"{_channel(request)}:{username}")


@receiver(user_logged_in, dispatch_uid="oms_audit_login")
def audit_login(sender, request, user, **kwargs):
    with transaction.atomic():
        audit_record(actor=Actor.for_user(user, "browser"), event_type=AuditEventType.AUTH_LOGIN, object_type="user",
                     object_id=user.pk, after=_client(request), reason="signed in")


@receiver(user_logged_out, dispatch_uid="oms_audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is None:
        return
    with transaction.atomic():
        audit_record(actor=Actor.for_user(user, "browser"), event_type=AuditEventType.AUTH_LOGOUT, object_type="user",
                     object_id=user.pk, after=_client(request), reason="signed out")


@receiver(user_login_failed, dispatch_uid="oms_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    if getattr(request, "signin_refused_by_lockout", False):
        return  # no password was checked: recorded (once per window) as auth.lockout_refused below
    username = str(credentials.get("username", ""))[:150]
    with transaction.atomic():
        audit_record(actor=_anonymous(username, request), event_type=AuditEventType.AUTH_LOGIN_FAILED, object_type="user",
                     object_id=username, after=_client(request), reason="wrong username or password")


def _first_refusal_in_window(username: str, ip_address: str, lock_seconds: int) -> bool:
    # One shared flag per username and one per address (Redis cache, so across processes), each until
    # the lock lifts: a row is written only when neither was set, so neither many addresses guessing one
    # username nor one address guessing many usernames writes more than one row per lock.
    keys = [f"signin-refused:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"
            for kind, value in (("user", username), ("ip", ip_address))]
    return all([cache.add(key, 1, timeout=lock_seconds) for key in keys])  # a list: set both flags, always


@receiver(user_locked_out, dispatch_uid="oms_audit_locked_out")
def audit_locked_out(sender, request, username, ip_address, **kwargs):
    username, ip_address = str(username or "")[:150], ip_address or ""
    refused = getattr(request, "signin_refused_by_lockout", False)
    retry_after = lockout_retry_after(username, ip_address)
    if refused and not _first_refusal_in_window(username, ip_address, retry_after):
        return
    after = {**_client(request), "retry_after": retry_after}
    if refused:
        event, reason = AuditEventType.AUTH_LOCKOUT_REFUSED, "sign-in refused while locked out (later refusals in this cool-off are not recorded)"
    else:
        event, reason = AuditEventType.AUTH_LOCKED_OUT, "too many failed sign-ins for this username or from this address: locked for the cool-off"
        after["failures"] = getattr(request, "axes_failures_since_start", None)
    with transaction.atomic():
        audit_record(actor=_anonymous(username, request), event_type=event, object_type="user",
                     object_id=username, after=after, reason=reason)
