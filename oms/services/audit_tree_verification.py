"""Verify the audit log's Merkle tree: the stored tree against its events, its signed heads and the seal bound.

One pass over the leaves in order, ``CHUNK`` leaves at a time (three indexed range queries per chunk: the
leaves with their events, the leaf-level subtrees, the interior subtrees those leaves complete; and the heads
ending in the chunk), keeping only the frontier in memory:

* every leaf index from 0 to the tree's size has its leaf row (``audit.leaf_missing``), whose event still
  exists (``audit.leaf_event_missing``) and still hashes, as ``leaf_bytes``, to the stored leaf
  (``audit.leaf_altered``: the event was edited after it was sealed);
* every stored subtree is there (``audit.tree_node_missing``) and hashes from its children
  (``audit.tree_node_altered``); the tree is rebuilt from the leaves with ``oms.audit_merkle.append``;
* the rebuilt tree's root at each signed head's size is that head's root (``audit.tree_head_mismatch``), so
  every head is consistent with every other (a stronger check than consistency proofs between pairs); every
  head's signature holds under the configured public keys (``audit.tree_head_forged``); each head names the
  one before it and the newest covers every sealed leaf (``audit.tree_head_missing``);
* the events sealed after the switch (no chain hash) carry the positions the sealer handed out with their
  leaves: each the seq after the previous leaf's (``audit.leaf_altered``: positions swapped or edited, with
  triggers bypassed; the leaf hashes the id and content, not the seq);
* no event written more than AUDIT_SEAL_BOUND_S ago is still unsealed (``audit.event_unsealed``), and no
  event carries a position without a leaf (``audit.leaf_missing``: inserted past the sealer, with triggers
  bypassed); one anti-join query.

Cost: linear in the log, as the chain walk beside it: one SHA-256 of each event's leaf bytes, fewer than one
interior hash per leaf, a fold of the frontier (log2 n hashes) and an Ed25519 check (~50 µs) per head, and
2n + heads rows read; memory holds one chunk and the frontier.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from oms.audit_merkle import append, hash_leaf
from oms.audit_proof import leaf_bytes
from oms.audit_signing import public_keys
from oms.audit_tree import EVENT_LEAF_COLUMNS, HEAD_FIELDS, completed_in, head_from_row
from oms.audit_tree_head import TreeHead, tree_head_problem
from oms.error_codes import AuditProblemCode
from oms.models import AuditEvent, AuditLeaf, AuditTreeHead, AuditTreeNode
from oms.services.audit import Problem
from oms.services.audit_checkpoint import high_water

CHUNK = 5000
LISTED = 20  # problems of one kind listed one by one; the rest are counted in one more


@dataclass
class TreeCheck:
    """What the tree walk found: its problems (at most LISTED per code, then one that counts the rest)."""

    size: int = 0  # leaves the tree holds (the largest of the newest head, leaf row and leaf subtree)
    heads: int = 0
    latest_head: TreeHead | None = None
    unsealed: int = 0  # events not sealed yet (within the bound or not)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, code: str, seq: int | None, detail: str) -> None:
        n = self.counts[code] = self.counts.get(code, 0) + 1
        if n <= LISTED:
            self.problems.append(Problem(code, seq, detail))

    def problem_list(self) -> list[Problem]:
        more = [Problem(code, None, f"and {n - LISTED} more {code} problems") for code, n in self.counts.items() if n > LISTED]
        return [*self.problems, *more]

    @property
    def problem_count(self) -> int:
        return sum(self.counts.values())


def _size() -> int:
    head = AuditTreeHead.objects.aggregate(m=Max("tree_size"))["m"] or 0
    leaf = AuditLeaf.objects.aggregate(m=Max("leaf_index"))["m"]
    node = AuditTreeNode.objects.filter(level=0).aggregate(m=Max("index"))["m"]
    return max(head, -1 if leaf is None else leaf + 1, -1 if node is None else node + 1)


def _chunk(start: int, end: int):
    leaves = dict(AuditLeaf.objects.filter(leaf_index__gte=start, leaf_index__lt=end).values_list("leaf_index", "event_id"))
    events = {row[0]: (dict(zip(EVENT_LEAF_COLUMNS, row[:-2], strict=True)), row[-2], row[-1] is not None)
              for row in AuditEvent.objects.filter(pk__in=list(leaves.values())).values_list(*EVENT_LEAF_COLUMNS, "seq", "hash")}
    stored = {(lvl, i): bytes(h) for lvl, i, h in AuditTreeNode.objects.filter(level=0, index__gte=start, index__lt=end).values_list("level", "index", "hash")}
    interior = AuditTreeNode.objects.filter(completed_in(start, end, max_level=end.bit_length())).values_list("level", "index", "hash")
    stored.update({(lvl, i): bytes(h) for lvl, i, h in interior})
    heads = [head_from_row(*row) for row in AuditTreeHead.objects.filter(tree_size__gt=start, tree_size__lte=end)
             .order_by("tree_size").values_list(*HEAD_FIELDS)]
    prev = dict(AuditTreeHead.objects.filter(tree_size__gt=start, tree_size__lte=end).values_list("tree_size", "prev_size"))
    return leaves, events, stored, heads, prev


def _check_nodes(check: TreeCheck, nodes, stored: dict) -> None:
    for level, index, h in nodes:
        if level == 0:
            continue  # the leaf level is checked against the events
        got = stored.get((level, index))
        if got is None:
            check.add(AuditProblemCode.TREE_NODE_MISSING, None, f"the stored subtree ({level}, {index}) is gone")
        elif got != h:
            check.add(AuditProblemCode.TREE_NODE_ALTERED, None, f"the stored subtree ({level}, {index}) does not hash from its children")


def _check_heads(check: TreeCheck, heads: list[TreeHead], prev_sizes: dict, keys, last_size: int) -> int:
    for head in heads:
        check.heads += 1
        check.latest_head = head
        if why := tree_head_problem(head, keys):
            check.add(AuditProblemCode.TREE_HEAD_FORGED, None, f"the tree head of {head.tree_size} events {why}")
        if prev_sizes[head.tree_size] != last_size:
            check.add(AuditProblemCode.TREE_HEAD_MISSING, None, f"the tree head of {head.tree_size} events follows the head of "
                      f"{prev_sizes[head.tree_size]}, which is gone (the previous head left is of {last_size})")
        last_size = head.tree_size
    return last_size


def tree_verify(*, now=None) -> TreeCheck:
    """Walk the stored tree from leaf 0 and check it against the events and the signed heads (module docstring)."""
    check = TreeCheck(size=_size())
    keys = public_keys()
    frontier, size, last_head_size, rebuilt, prev_seq = (), 0, 0, True, 0
    chain_end = high_water() or 0
    for start in range(0, check.size, CHUNK):
        end = min(start + CHUNK, check.size)
        leaves, events, stored, heads, prev_sizes = _chunk(start, end)
        hashes = []
        for i in range(start, end):
            event_id = leaves.get(i)
            event = events.get(event_id)
            stored_leaf = stored.get((0, i))
            recomputed = hash_leaf(leaf_bytes(event[0])) if event is not None else None
            if event_id is None:
                check.add(AuditProblemCode.LEAF_MISSING, None, f"leaf {i} of the tree has no leaf row: which event it seals is lost")
            elif event is None:
                check.add(AuditProblemCode.LEAF_EVENT_MISSING, None, f"leaf {i} seals event id {event_id}, which is gone")
            if stored_leaf is None:
                check.add(AuditProblemCode.TREE_NODE_MISSING, None, f"the stored hash of leaf {i} is gone")
            elif recomputed is not None and recomputed != stored_leaf:
                check.add(AuditProblemCode.LEAF_ALTERED, event[1], f"event #{event[1]} (id {event_id}) was altered after it was sealed as leaf {i}")
            if event is not None:
                prev_seq = _check_position(check, i, event_id, event, prev_seq, chain_end)
            leaf = stored_leaf or recomputed
            if leaf is None:
                rebuilt = False
                break
            hashes.append(leaf)
        if not rebuilt:
            check.add(AuditProblemCode.TREE_NODE_MISSING, None, f"the tree cannot be rebuilt past leaf {start + len(hashes)}: "
                      "both its stored hash and its event are gone; the heads after it are not checked")
            break
        # Appended in runs that end at each head's size, so each head's root is the fold of the frontier there.
        for run_end, head in [*((h.tree_size, h) for h in heads), (end, None)]:
            run = hashes[size - start:run_end - start]
            if run:
                result = append(frontier, size, run)
                frontier, size = result.frontier, result.size
                _check_nodes(check, result.nodes, stored)
            if head is not None and result.root != head.root_hash:
                check.add(AuditProblemCode.TREE_HEAD_MISMATCH, None, f"the tree of {head.tree_size} events no longer hashes to the root its signed head carries")
        last_head_size = _check_heads(check, heads, prev_sizes, keys, last_head_size)
    if check.latest_head is not None and rebuilt and check.latest_head.tree_size < check.size:
        check.add(AuditProblemCode.TREE_HEAD_MISSING, None, f"leaves {check.latest_head.tree_size}..{check.size - 1} are sealed, "
                  f"but no signed head covers them: the newest head is gone")
    _unsealed(check, now or timezone.now())
    return check


def _check_position(check: TreeCheck, leaf: int, event_id: int, event: tuple, prev_seq: int, chain_end: int) -> int:
    """An event sealed after the switch must carry the seq after the previous leaf's event (the first one: after the
    chain's high-water mark, as the sealer numbers it); return the seq the next leaf's event follows."""
    _data, seq, chained = event
    expected = max(prev_seq, chain_end) + 1
    if seq is None or (not chained and seq != expected):
        check.add(AuditProblemCode.LEAF_ALTERED, seq, f"event id {event_id}, sealed as leaf {leaf}, carries position "
                  f"{'none' if seq is None else f'#{seq}'}, not #{expected}: its position was changed after it was sealed")
        return expected
    return seq


def _unsealed(check: TreeCheck, now) -> None:
    pending = AuditEvent.objects.filter(leaf__isnull=True)
    check.unsealed = pending.count()
    if not check.unsealed:
        return
    for event_id, seq in pending.filter(seq__isnull=False, hash__isnull=True).order_by("seq").values_list("id", "seq")[:LISTED]:
        check.add(AuditProblemCode.LEAF_MISSING, seq, f"event #{seq} (id {event_id}) carries a position in the log but no leaf "
                  "seals it: it was written past the sealer")
    late = pending.filter(ts__lt=now - timedelta(seconds=settings.AUDIT_SEAL_BOUND_S)).order_by("id")
    count = late.count()
    if count:
        first_id, first_seq, first_ts = late.values_list("id", "seq", "ts").first()
        which = f"#{first_seq}" if first_seq else f"id {first_id}"
        check.counts[AuditProblemCode.EVENT_UNSEALED] = 1  # one problem, however many events
        check.problems.append(Problem(AuditProblemCode.EVENT_UNSEALED, first_seq, f"{count} event(s) written more than "
                                      f"{settings.AUDIT_SEAL_BOUND_S:g} s ago are not sealed in the tree, the first {which} "
                                      f"at {first_ts:%Y-%m-%d %H:%M:%S} UTC: is the sealer running?"))
