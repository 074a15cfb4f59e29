"""Reading the audit trail in tests, and writing past its guards."""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection

from oms.models import AuditEvent


def audit_events(*, object_type: str | None = None, object_id=None, event_type: str | None = None) -> list[AuditEvent]:
    """The audit rows matching every filter given, oldest first (``object_id``: one id, or a list of ids)."""
    qs = AuditEvent.objects.all()
    if object_type is not None:
        qs = qs.filter(object_type=object_type)
    if isinstance(object_id, list | tuple | set):
        qs = qs.filter(object_id__in=[str(i) for i in object_id])
    elif object_id is not None:
        qs = qs.filter(object_id=str(object_id))
    if event_type is not None:
        qs = qs.filter(event_type=event_type)
    return list(qs.order_by("seq"))


def event_types(object_type: str, object_id) -> list[str]:
    """The event types of one object's audit trail (or of a list of objects'), oldest first."""
    return [e.event_type for e in audit_events(object_type=object_type, object_id=object_id)]


@contextmanager
def triggers_bypassed():
    """What an attacker with database superuser rights can do: write past the append-only triggers."""
    with connection.cursor() as cur:
        cur.execute("SET session_replication_role = replica")
        try:
            yield cur
        finally:
            cur.execute("SET session_replication_role = DEFAULT")
