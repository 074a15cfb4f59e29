"""Sign-ins, failed sign-ins and sign-outs go to the audit trail (Django's auth signals are the interface)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.dispatch import receiver

from oms.roles import Actor
from oms.services.audit import audit_record


def _client(request) -> dict:
    if request is None:
        return {}
    return {"ip": request.META.get("REMOTE_ADDR", ""), "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}


@receiver(user_logged_in, dispatch_uid="oms_audit_login")
def audit_login(sender, request, user, **kwargs):
    with transaction.atomic():
        audit_record(actor=Actor.for_user(user, "browser"), event_type="auth.login", object_type="user",
                     object_id=user.pk, after=_client(request), reason="signed in")


@receiver(user_logged_out, dispatch_uid="oms_audit_logout")
def audit_logout(sender, request, user, **kwargs):
    if user is None:
        return
    with transaction.atomic():
        audit_record(actor=Actor.for_user(user, "browser"), event_type="auth.logout", object_type="user",
                     object_id=user.pk, after=_client(request), reason="signed out")


@receiver(user_login_failed, dispatch_uid="oms_audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:150]
    with transaction.atomic():
        audit_record(actor=Actor(name=username or "unknown", type="user", source="browser:" + username),
                     event_type="auth.login_failed", object_type="user", object_id=username,
                     after=_client(request), reason="wrong username or password")
