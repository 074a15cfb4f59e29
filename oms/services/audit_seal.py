"""The sealer: link committed audit events into the Merkle tree (``oms.audit_merkle``) and sign a tree head.

One seal is one transaction: under an advisory lock of its own (``SEAL_LOCK``, tried, never waited for: a
second sealer started meanwhile answers "busy"), it reads the tree's size and frontier from the stored
subtrees at ``frontier_coords(size)`` and checks them against the latest signed head, takes up to
``max_events`` committed events not yet sealed, appends their leaf hashes (``leaf_bytes``), and writes the
leaves, the perfect subtrees they completed and a head signed with Ed25519 (``oms.audit_signing``). It
commits all of that or nothing: a sealer killed mid-seal leaves the tree as the last seal left it, and the
next seal takes the same events again. The unique keys (leaf index, event, subtree, head size) are the
database's last word against sealing anything twice.

Which events, in which order. Today every writer takes the chain lock (``AUDIT_CHAIN_LOCK``) and holds it to
commit, so ``seq`` order is commit order and the events not yet sealed are exactly those after the last
sealed event's seq. When writers stop taking that lock (the next step, docs/audit.md), the sealer will take
the events in the order it sees them committed, and hand out ``seq`` itself.

Cost per seal: one query for the frontier (at most log2(n) subtrees), one for the events, and COPYs of the new
rows (fewer than two subtrees per leaf); nothing grows with the size of the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from oms.audit_merkle import append, frontier_coords, root_from_frontier
from oms.audit_proof import leaf_hash
from oms.audit_signing import signing_key
from oms.audit_tree import EVENT_LEAF_COLUMNS, TreeNodeMissing, latest_head, node_reader, sealed_tail
from oms.audit_tree_head import TreeHead, timestamp_ms, tree_head_sign
from oms.db import copy_rows
from oms.models import AuditEvent, AuditLeaf, AuditTreeHead, AuditTreeNode

log = logging.getLogger("oms.audit")

# pg_advisory_xact_lock key of the sealer ("AUDIS"); the writers' chain lock is AUDIT_CHAIN_LOCK ("AUDIT").
SEAL_LOCK = 0x4155444953


class AuditTreeBroken(Exception):
    """The stored tree does not match its latest signed head: the sealer refuses to extend (and sign) it."""


@dataclass(frozen=True)
class SealResult:
    """What one seal did: ``status`` "sealed" (``sealed`` events as leaves ``first_leaf``..), "idle" (nothing
    to seal) or "busy" (another sealer holds the lock); ``head`` is the latest signed head afterwards."""

    status: str
    sealed: int = 0
    first_leaf: int | None = None
    head: TreeHead | None = None

    def as_dict(self) -> dict:
        return {"status": self.status, "sealed": self.sealed, "first_leaf": self.first_leaf,
                "head": None if self.head is None else self.head.as_dict()}


def _frontier(size: int, head: TreeHead | None) -> list[bytes]:
    if (head.tree_size if head else 0) != size:
        raise AuditTreeBroken(f"{size} leaves are sealed but the latest signed head covers {head.tree_size if head else 0}")
    coords = frontier_coords(size)
    node = node_reader(coords)
    try:
        frontier = [node(level, index) for level, index in coords]
    except TreeNodeMissing as exc:
        raise AuditTreeBroken(f"the tree of {size} leaves cannot be extended: {exc}")
    if head is not None and root_from_frontier(frontier) != head.root_hash:
        raise AuditTreeBroken(f"the stored tree of {size} leaves no longer hashes to its signed head's root")
    return frontier


def _pending(after_seq: int, limit: int) -> list[dict]:
    rows = AuditEvent.objects.filter(seq__gt=after_seq).order_by("seq").values_list(*EVENT_LEAF_COLUMNS)[:limit]
    return [dict(zip(EVENT_LEAF_COLUMNS, row, strict=True)) for row in rows]


def _fault_point(stage: str) -> None:
    """Where tests inject a failure (a sealer dying mid-seal); does nothing otherwise."""


def audit_seal(*, max_events: int | None = None) -> SealResult:
    """Seal up to ``max_events`` committed events into the tree and sign its new head, in one transaction."""
    limit = max_events or settings.AUDIT_SEAL_BATCH
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [SEAL_LOCK])
            if not cur.fetchone()[0]:
                return SealResult("busy")
        size, last_event, last_seq = sealed_tail()
        if last_seq is None:
            raise AuditTreeBroken(f"leaf {size - 1}'s event #{last_event} is gone")
        head = latest_head()
        frontier = _frontier(size, head)
        events = _pending(last_seq, limit)
        if not events:
            return SealResult("idle", head=head)
        appended = append(frontier, size, [leaf_hash(e) for e in events])
        copy_rows(AuditLeaf._meta.db_table, ["leaf_index", "event_id"], ([size + i, e["id"]] for i, e in enumerate(events)))
        copy_rows(AuditTreeNode._meta.db_table, ["level", "index", "hash"], appended.nodes)
        _fault_point("nodes written")
        now = timezone.now()
        key_id, key = signing_key()
        signed = tree_head_sign(key, tree_size=appended.size, root_hash=appended.root, timestamp=timestamp_ms(now), key_id=key_id)
        AuditTreeHead.objects.create(
            tree_size=signed.tree_size, root_hash=signed.root_hash, timestamp=signed.timestamp, key_id=key_id,
            signature=signed.signature, prev_size=size, created_at=now,
        )
        return SealResult("sealed", len(events), size, signed)


def audit_seal_pending(*, max_events: int | None = None, budget_s: float | None = None) -> list[SealResult]:
    """Seal until nothing is left (a batch came back short), another sealer is busy, or ``budget_s`` is spent."""
    limit = max_events or settings.AUDIT_SEAL_BATCH
    deadline = time.monotonic() + (settings.AUDIT_SEAL_EVERY_S if budget_s is None else budget_s)
    results = []
    while True:
        result = audit_seal(max_events=limit)
        results.append(result)
        if result.sealed < limit or time.monotonic() >= deadline:
            return results
