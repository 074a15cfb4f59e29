"""The audit trail: append-only, hash-chained, written inside the caller's transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from oms.db import insert_rows
from oms.models import AuditEvent
from oms.roles import Actor

# pg_advisory_xact_lock key that serialises appends to the chain ("AUDIT" in ASCII).
AUDIT_CHAIN_LOCK = 0x4155444954
GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class PendingEvent:
    """An audit event to append: built by services, written by ``audit_append``."""

    actor: Actor
    event_type: str
    object_type: str
    object_id: Any
    before: Any = None
    after: Any = None
    reason: str = ""


def canonical_json(value: Any) -> str:
    """The one JSON text of a value: sorted keys, no spaces, Decimals and datetimes as strings.

    What is stored in ``before``/``after`` is exactly this text, so the same value read back from the
    database gives the same text again.
    """
    return json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _body(head: list, before_text: str, after_text: str, reason: str) -> str:
    # == canonical_json([*head, before, after, reason]), reusing the already encoded before/after.
    return f"{canonical_json(head)[:-1]},{before_text},{after_text},{canonical_json(reason)}]"


def event_body(*, actor, actor_type, source, event_type, object_type, object_id, before, after, reason) -> str:
    """Canonical JSON of what an event says (everything but its place in the chain and its time)."""
    head = [actor, actor_type, source, event_type, object_type, str(object_id)]
    return _body(head, canonical_json(before), canonical_json(after), reason)


def chain_digest(prev_hash: str, seq: int, ts, body: str) -> str:
    """sha256(prev_hash | seq | ts | body): each event seals the one before it."""
    return hashlib.sha256(f"{prev_hash}|{seq}|{ts.isoformat()}|{body}".encode()).hexdigest()


def event_digest(prev_hash: str, *, seq, ts, **fields) -> str:
    """The hash an event with these fields must carry after ``prev_hash``."""
    return chain_digest(prev_hash, seq, ts, event_body(**fields))


def audit_prepare(events: Iterable[PendingEvent]) -> list[tuple]:
    """Encode events ahead of ``audit_write``: everything that does not depend on the chain's head."""
    prepared = []
    for ev in events:
        head = [ev.actor.name, ev.actor.type, ev.actor.source, ev.event_type, ev.object_type, str(ev.object_id)]
        before_text, after_text, reason = canonical_json(ev.before), canonical_json(ev.after), ev.reason[:255]
        prepared.append((head, _body(head, before_text, after_text, reason), before_text, after_text, reason))
    return prepared


def audit_write(prepared: list[tuple]) -> list[dict]:
    """Chain and write prepared events. Must run inside the transaction of the change they record.

    One statement takes the chain lock (held until commit) and reads the head; the rows are hashed and
    written by the next. That keeps the section every writer queues for to two statements and the commit.
    """
    if not prepared:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("the audit trail is written inside the transaction of the change it records")
    with connection.cursor() as cur:
        cur.execute("SELECT seq, hash FROM oms_audit_head(%s)", [AUDIT_CHAIN_LOCK])
        row = cur.fetchone()
    seq, prev = (row[0], row[1]) if row and row[0] is not None else (0, GENESIS_HASH)
    ts = timezone.now()
    rows = []
    for head, body, before_text, after_text, reason in prepared:
        seq += 1
        digest = chain_digest(prev, seq, ts, body)
        # JSON null is stored as SQL NULL (what the JSONField reads back as None).
        rows.append([seq, ts, *head, _or_null(before_text), _or_null(after_text), reason, prev, digest])
        prev = digest
    insert_rows(AuditEvent._meta.db_table, "id", list(_COLUMNS), rows)
    return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]


def audit_append(events: Iterable[PendingEvent]) -> list[dict]:
    """Append events to the chain, inside the transaction of the change they record."""
    return audit_write(audit_prepare(events))


_COLUMNS = ("seq", "ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id", "before", "after", "reason", "prev_hash", "hash")


def _or_null(text: str) -> str | None:
    return None if text == "null" else text


def audit_record(*, actor: Actor, event_type: str, object_type: str, object_id, before=None, after=None, reason: str = "") -> AuditEvent:
    """Append one event (see ``audit_append``)."""
    row = audit_append([PendingEvent(actor, event_type, object_type, object_id, before, after, reason)])[0]
    return AuditEvent.objects.get(seq=row["seq"])


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str = ""

    def as_dict(self) -> dict:
        return {"ok": self.ok, "checked": self.checked, "broken_seq": self.broken_seq, "problem": self.problem}


def audit_verify() -> VerifyResult:
    """Recompute the chain from the first event; report OK or the first broken link."""
    prev, expected_seq, checked = GENESIS_HASH, 1, 0
    rows = AuditEvent.objects.order_by("seq").values_list(
        "seq", "ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id",
        "before", "after", "reason", "prev_hash", "hash",
    )
    for seq, ts, actor, actor_type, source, event_type, object_type, object_id, before, after, reason, prev_hash, digest in rows.iterator(chunk_size=5000):
        if seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"event #{expected_seq} is missing (next is #{seq})")
        if prev_hash != prev:
            return VerifyResult(False, checked, seq, f"event #{seq} does not link to event #{seq - 1}")
        recomputed = event_digest(
            prev, seq=seq, ts=ts, actor=actor, actor_type=actor_type, source=source, event_type=event_type,
            object_type=object_type, object_id=object_id, before=before, after=after, reason=reason,
        )
        if recomputed != digest:
            return VerifyResult(False, checked, seq, f"event #{seq} was altered after it was written")
        prev, expected_seq, checked = digest, seq + 1, checked + 1
    return VerifyResult(True, checked)
