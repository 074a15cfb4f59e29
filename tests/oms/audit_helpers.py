"""Reading the audit trail in tests, and writing past its guards."""

from __future__ import annotations

import json
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
    return list(qs.order_by("id"))


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


def chain_append(events) -> list[dict]:
    """Write events as the product did before issue 18's switch: chained (seq, prev_hash, hash) under the chain
    lock, through ``oms_audit_head``. Tests build the chain written before the switch with it, to check that it
    stays verified and checkpointed; the product's writers no longer chain (``audit_write``)."""
    from django.db import transaction
    from django.utils import timezone

    from oms.db import insert_rows
    from oms.services.audit import AUDIT_CHAIN_LOCK, GENESIS_HASH, audit_prepare, chain_digest, event_body

    prepared = audit_prepare(events)
    assert transaction.get_connection().in_atomic_block
    with connection.cursor() as cur:
        cur.execute("SELECT seq, hash FROM oms_audit_head(%s, %s)", [AUDIT_CHAIN_LOCK, len(prepared)])
        seq, prev = cur.fetchone()
    prev, ts, rows = prev or GENESIS_HASH, timezone.now(), []
    columns = ["seq", "ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id", "before", "after", "reason", "prev_hash", "hash"]
    for head, before_text, after_text, reason in prepared:
        seq += 1
        before, after = json.loads(before_text), json.loads(after_text)
        digest = chain_digest(prev, seq, ts, event_body(**dict(zip(columns[2:8], head, strict=True)), before=before, after=after, reason=reason))
        rows.append([seq, ts, *head, None if before is None else before_text, None if after is None else after_text, reason, prev, digest])
        prev = digest
    insert_rows(AuditEvent._meta.db_table, "id", columns, rows)
    return [dict(zip(columns, row, strict=True)) for row in rows]
