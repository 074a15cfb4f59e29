"""Reading the audit log's Merkle tree from its tables (``AuditLeaf``, ``AuditTreeNode``, ``AuditTreeHead``).

What the sealer (``oms.services.audit_seal``), the proof selectors and verification share: the signed heads,
the stored perfect subtrees fetched by their coordinates in one query, and an event's leaf data as
``oms.audit_proof.leaf_bytes`` reads it (the event's columns as the database returns them).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q

from oms.audit_merkle import NodeReader
from oms.audit_proof import LEAF_FIELDS
from oms.audit_tree_head import TreeHead
from oms.models import AuditEvent, AuditLeaf, AuditTreeHead, AuditTreeNode

HEAD_FIELDS = ("tree_size", "root_hash", "timestamp", "key_id", "signature")
# The AuditEvent columns a leaf covers: its LEAF_FIELDS are named as the columns are.
EVENT_LEAF_COLUMNS = LEAF_FIELDS


class TreeNodeMissing(LookupError):
    """A perfect subtree the tree should hold is not in ``AuditTreeNode`` (deleted, or never written)."""

    def __init__(self, level: int, index: int):
        super().__init__(f"the stored subtree ({level}, {index}) is missing")
        self.level, self.index = level, index


def head_from_row(tree_size, root_hash, timestamp, key_id, signature) -> TreeHead:
    """Build a TreeHead from ``HEAD_FIELDS`` as the database returns them (bytea comes back as memoryview)."""
    return TreeHead(tree_size, bytes(root_hash), timestamp, key_id, bytes(signature))


def latest_head() -> TreeHead | None:
    """Return the newest signed head (the largest tree), None before the first seal."""
    row = AuditTreeHead.objects.order_by("-tree_size").values_list(*HEAD_FIELDS).first()
    return head_from_row(*row) if row else None


def head_of_size(tree_size: int) -> TreeHead | None:
    """Return the signed head of the tree of ``tree_size`` leaves, None when no seal ended there."""
    row = AuditTreeHead.objects.filter(tree_size=tree_size).values_list(*HEAD_FIELDS).first()
    return head_from_row(*row) if row else None


def nodes_at(coords: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Fetch the stored subtrees at these (level, index) coordinates in one query (missing ones are absent)."""
    wanted = set(coords)
    if not wanted:
        return {}
    rows = AuditTreeNode.objects.filter(pk__in=list(wanted)).values_list("level", "index", "hash")
    return {(level, index): bytes(h) for level, index, h in rows}


def node_reader(coords: Iterable[tuple[int, int]]) -> NodeReader:
    """Prefetch ``coords`` (one query) and return ``node(level, index)``, raising TreeNodeMissing for a gap."""
    found = nodes_at(coords)

    def node(level: int, index: int) -> bytes:
        try:
            return found[level, index]
        except KeyError:
            raise TreeNodeMissing(level, index)

    return node


def completed_in(start: int, end: int, *, max_level: int) -> Q:
    """Select the interior subtrees (level >= 1) that the leaves ``[start, end)`` complete: node ``(L, j)`` is
    complete once leaf ``(j + 1) * 2**L - 1`` is in."""
    q = Q(pk__in=[])
    for level in range(1, max_level + 1):
        lo, hi = -(-(start + 1) >> level) - 1, (end >> level) - 1  # ceil((start + 1) / 2**L) - 1, floor(end / 2**L) - 1
        if lo <= hi:
            q |= Q(level=level, index__gte=lo, index__lte=hi)
    return q


def sealed_tail() -> tuple[int, int | None, int | None]:
    """Return (leaves sealed, the last leaf's event id, that event's seq): (0, None, 0) before the first seal;
    the seq is None when the last leaf's event is gone (read apart, so a deleted event cannot hide its leaf)."""
    row = AuditLeaf.objects.order_by("-leaf_index").values_list("leaf_index", "event_id").first()
    if row is None:
        return 0, None, 0
    index, event_id = row
    return index + 1, event_id, AuditEvent.objects.filter(pk=event_id).values_list("seq", flat=True).first()
