"""The audit trail as a person reads it: an event's before/after as the keys that changed (old -> new), and
the table its export files (``GET /api/audit/?format=csv|xlsx``).

The stored before/after stay the evidence (hash-chained canonical JSON, shown raw on demand); this is
their reading. A creation (no before) lists what was set, a removal (no after) what was taken away; two
values that are not both objects are one change of the whole value (key "").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from oms.audit_events import label
from oms.exports import ID, INSTANT, TEXT, Column, Table
from oms.services.audit import canonical_json

ABSENT = "—"  # a key that was not there on that side


@dataclass(frozen=True)
class Change:
    key: str
    old: str  # ABSENT when the key was added
    new: str  # ABSENT when the key was removed

    @property
    def added(self) -> bool:
        return self.old == ABSENT

    def __str__(self) -> str:
        return f"{self.key + ': ' if self.key else ''}{self.old} → {self.new}"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else canonical_json(value)


def audit_changes(before: Any, after: Any) -> list[Change]:
    """The changed keys of ``before`` -> ``after``, in the after's key order, then the removed keys."""
    if before is None and after is None:
        return []
    if not isinstance(before or {}, dict) or not isinstance(after or {}, dict):
        return [] if before == after else [Change("", ABSENT if before is None else _text(before), ABSENT if after is None else _text(after))]
    old, new = before or {}, after or {}
    changes = [Change(k, _text(old[k]) if k in old else ABSENT, _text(v)) for k, v in new.items() if k not in old or old[k] != v]
    changes += [Change(k, _text(v), ABSENT) for k, v in old.items() if k not in new]
    return changes


def changes_text(before: Any, after: Any) -> str:
    """The changes on one line each (the exports' column)."""
    return "\n".join(str(c) for c in audit_changes(before, after))


# (column, value of an event): the export's columns, in words with their units (oms.exports.column_label); seq
# is the event's position in the log ("sealing…" until the sealer gives it one), and the hashes are the chain's
# for events written before the switch to the sealer (empty after it: the event's proof download covers those).
EXPORT_COLUMNS = (
    (Column("seq", "Seq", ID, "position in the log"), lambda e: "sealing…" if e.seq is None else e.seq),
    (Column("ts", "Time", INSTANT), lambda e: e.ts),
    (Column("actor", "Actor"), lambda e: e.actor),
    (Column("actor_type", "Actor type"), lambda e: e.actor_type),
    (Column("source", "Source"), lambda e: e.source),
    (Column("event", "Event", TEXT), lambda e: label(e.event_type)),
    (Column("event_type", "Event code"), lambda e: e.event_type),
    (Column("object", "Object"), lambda e: f"{e.object_type}:{e.object_id}"),
    (Column("changes", "Changes", TEXT, "old → new"), lambda e: changes_text(e.before, e.after)),
    (Column("reason", "Reason"), lambda e: e.reason),
    (Column("before", "Before", TEXT, "JSON, as hashed"), lambda e: "" if e.before is None else canonical_json(e.before)),
    (Column("after", "After", TEXT, "JSON, as hashed"), lambda e: "" if e.after is None else canonical_json(e.after)),
    (Column("prev_hash", "Previous hash", TEXT, "chain"), lambda e: e.prev_hash or ""),
    (Column("hash", "Hash", TEXT, "chain, SHA-256"), lambda e: e.hash or ""),
)


def audit_table(events: Iterable) -> Table:
    """The audit events as one table of the export."""
    return Table("audit trail", [c for c, _ in EXPORT_COLUMNS], ([value(e) for _, value in EXPORT_COLUMNS] for e in events))
