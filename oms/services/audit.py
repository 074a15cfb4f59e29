"""The audit trail: append-only, written inside the caller's transaction, sealed into a Merkle tree.

Writers take no lock (issue 18): ``audit_write`` inserts the events with no position in the log (``seq``,
``prev_hash``, ``hash`` null) and the sealer (``audit_seal``) links them into the tree once it sees them
committed, handing out their ``seq``. Events written before that switch form a hash chain, recomputed by
``chain_walk`` here; ``audit_checkpoint`` anchors that chain's head outside the table and
``audit_verification`` checks the chain against those anchors and the tree against its signed heads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from oms.db import insert_rows
from oms.error_codes import AuditProblemCode
from oms.models import AuditEvent
from oms.roles import Actor

# pg_advisory_xact_lock key that serialised appends to the chain ("AUDIT" in ASCII) before the switch to the
# sealer; ``oms_audit_head`` (migration 0006) still takes it. No writer takes it any more.
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
    if value is None:  # most events' "before": the text json.dumps gives, without an encoder's round
        return "null"
    return _CANONICAL.encode(value)


# One encoder for every event (json.dumps would build one per call): the same options, so the same text.
_CANONICAL = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_body(*, actor, actor_type, source, event_type, object_type, object_id, before, after, reason) -> str:
    """Canonical JSON of what a chained event says (everything but its place in the chain and its time)."""
    return canonical_json([actor, actor_type, source, event_type, object_type, str(object_id), before, after, reason])


def chain_digest(prev_hash: str, seq: int, ts, body: str) -> str:
    """sha256(prev_hash | seq | ts | body): each event seals the one before it."""
    return hashlib.sha256(f"{prev_hash}|{seq}|{ts.isoformat()}|{body}".encode()).hexdigest()


def event_digest(prev_hash: str, *, seq, ts, **fields) -> str:
    """The hash an event with these fields must carry after ``prev_hash``."""
    return chain_digest(prev_hash, seq, ts, event_body(**fields))


def audit_prepare(events: Iterable[PendingEvent]) -> list[tuple]:
    """Encode events ahead of ``audit_write`` (outside the transaction if the caller likes): the row's columns."""
    prepared = []
    for ev in events:
        head = [ev.actor.name, ev.actor.type, ev.actor.source, ev.event_type, ev.object_type, str(ev.object_id)]
        prepared.append((head, canonical_json(ev.before), canonical_json(ev.after), ev.reason[:255]))
    return prepared


def audit_write(prepared: list[tuple]) -> list[dict]:
    """Write prepared events. Must run inside the transaction of the change they record.

    One INSERT, no lock: writers never wait for each other here. The events carry no position yet (``seq``,
    ``prev_hash``, ``hash`` null); the sealer gives them one after they commit (``audit_seal``).
    """
    if not prepared:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("the audit trail is written inside the transaction of the change it records")
    ts = timezone.now()
    # JSON null is stored as SQL NULL (what the JSONField reads back as None).
    rows = [[ts, *head, _or_null(before_text), _or_null(after_text), reason] for head, before_text, after_text, reason in prepared]
    ids = insert_rows(AuditEvent._meta.db_table, "id", list(_COLUMNS), rows)
    return [{"id": pk, **dict(zip(_COLUMNS, row, strict=True))} for pk, row in zip(ids, rows, strict=True)]


def audit_append(events: Iterable[PendingEvent]) -> list[dict]:
    """Append events to the trail, inside the transaction of the change they record."""
    return audit_write(audit_prepare(events))


_COLUMNS = ("ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id", "before", "after", "reason")


def _or_null(text: str) -> str | None:
    return None if text == "null" else text


def audit_record(*, actor: Actor, event_type: str, object_type: str, object_id, before=None, after=None, reason: str = "") -> AuditEvent:
    """Append one event (see ``audit_append``)."""
    row = audit_append([PendingEvent(actor, event_type, object_type, object_id, before, after, reason)])[0]
    return AuditEvent.objects.get(pk=row["id"])


# What the chain walk reads of each event, in this order.
CHAIN_FIELDS = (
    "seq", "ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id",
    "before", "after", "reason", "prev_hash", "hash",
)


class Problem(NamedTuple):
    """One thing verification found: a stable ``code``, the event seq it concerns (if any), a sentence."""

    code: str
    seq: int | None
    detail: str

    def as_dict(self) -> dict:
        return {"code": self.code, "seq": self.seq, "detail": self.detail}


NO_PROBLEMS: tuple[Problem, ...] = ()


def chain_rows(*, after_seq: int = 0):
    """The chained events (written before the switch to the sealer) after ``after_seq`` in chain order, streamed."""
    rows = AuditEvent.objects.filter(seq__gt=after_seq, hash__isnull=False).order_by("seq").values_list(*CHAIN_FIELDS)
    return rows.iterator(chunk_size=5000)


def chain_walk(rows, *, prev_hash: str = GENESIS_HASH, next_seq: int = 1):
    """Recompute the chain over ``rows`` (``CHAIN_FIELDS`` in seq order): yield ``(seq, hash, problems)``.

    ``problems`` is a tuple of ``Problem``, empty for an event that follows the one before it.
    The walk goes on past a problem, from the row as stored, so later breaks and the hashes at later
    checkpoints are still seen.
    """
    prev, expected = prev_hash, next_seq
    for seq, ts, actor, actor_type, source, event_type, object_type, object_id, before, after, reason, stored_prev, digest in rows:
        problems = NO_PROBLEMS
        if seq != expected:
            gone = f"event #{expected} is missing" if seq == expected + 1 else f"events #{expected}..#{seq - 1} are missing"
            problems = (Problem(AuditProblemCode.EVENT_MISSING, expected, f"{gone} (next is #{seq})"),)
        elif stored_prev != prev:
            problems = (Problem(AuditProblemCode.LINK_BROKEN, seq, f"event #{seq} does not link to event #{seq - 1}"),)
        # Checked against its own stored link, so an event right after a gap or a broken link is still checked.
        recomputed = event_digest(
            stored_prev, seq=seq, ts=ts, actor=actor, actor_type=actor_type, source=source, event_type=event_type,
            object_type=object_type, object_id=object_id, before=before, after=after, reason=reason,
        )
        if recomputed != digest:
            problems = (*problems, Problem(AuditProblemCode.EVENT_ALTERED, seq, f"event #{seq} was altered after it was written"))
        yield seq, digest, problems
        prev, expected = digest, seq + 1
