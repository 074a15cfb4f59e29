"""The sealer: link committed audit events into the Merkle tree (``oms.audit_merkle``) and sign a tree head.

One seal is one transaction: under an advisory lock of its own (``SEAL_LOCK``, tried, never waited for: a
second sealer started meanwhile answers "busy"), it reads the tree's size and frontier from the stored
subtrees at ``frontier_coords(size)`` and checks them against the latest signed head, takes up to
``max_events`` committed events not yet sealed, appends their leaf hashes (``leaf_bytes``), and writes the
leaves, the perfect subtrees they completed and a head signed with Ed25519 (``oms.audit_signing``). It
commits all of that or nothing: a sealer killed mid-seal leaves the tree as the last seal left it, and the
next seal takes the same events again. The unique keys (leaf index, event, subtree, head size) are the
database's last word against sealing anything twice.

Who seals. ``audit_seal_run`` holds ``SEAL_LOCK`` at session level for a run of about ``AUDIT_SEAL_EVERY_S``
(a session holding it always gets it again per seal; every other sealer is "busy"): beat's task makes a short
run (what is pending, then return), the sealer process (``audit_sealer_serve``, ``manage.py audit_sealer``)
makes runs back to back that look again every ``AUDIT_SEAL_POLL_S``, so an event waits a poll plus a seal
instead of up to a beat period. Polling, not LISTEN/NOTIFY: PostgreSQL serialises the commits of transactions
that sent a NOTIFY, and writers must never wait for each other.

Which events, in which order. Writers take no lock (``audit_write``): an event is inserted with ``seq`` null,
and PostgreSQL keeps no commit order. So each seal takes, in this order:

1. the chained events written before the switch and not sealed yet: ``seq`` in (the last sealed event's seq,
   the chain's high-water mark] (``AuditSeqHighWater``, which only the old locked writer moved, so it is
   frozen at the chain's end); in seq order, which was their commit order;
2. then every event with ``seq`` null that its snapshot sees (committed), by ``id``, and gives each the next
   ``seq``: one above the highest seq sealed or ever handed out to the chain. An event of a transaction still
   in flight is invisible to that snapshot and is sealed by a later seal, after it commits: the log's order is
   the order the sealer saw events commit, as a transparency log's is the order its sequencer accepted them.

Why the ``seq`` column marks "sealed" rather than an ``id`` low-water mark or the transaction ids of the
writers (``pg_current_xact_id``, docs/audit.md's first sketch): with a low-water mark (the smallest id not yet
sealed), one transaction held open pins the mark and every seal scans, and anti-joins against the leaves,
everything written since; a recorded snapshot xmin has the same tail. A partial index on the events whose
``seq`` is null holds exactly the pending events, so finding them costs what is pending, whatever is open or
how long the log is; and the pages, exports and API keep showing a position (``seq``) once an event is sealed.
The price is one UPDATE per sealed event, in the sealer's transaction, which the append-only trigger allows as
exactly this move (``seq`` null -> a value, every other column as it was: ``audit_sealed_once``); the leaf
hashes the event's ``id`` and content, never its ``seq`` (``leaf_bytes``), and verification checks that the
sealed events' seqs follow their leaves.

Cost per seal: one query for the frontier (at most log2(n) subtrees), one or two for the events (index range
scans), one UPDATE of their seqs and COPYs of the new rows (fewer than two subtrees per leaf); nothing grows
with the size of the log or with a transaction kept open.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection, transaction
from django.utils import timezone

from oms.audit_merkle import append, frontier_coords, root_from_frontier
from oms.audit_proof import leaf_hash
from oms.audit_signing import signing_key
from oms.audit_tree import EVENT_LEAF_COLUMNS, TreeNodeMissing, latest_head, node_reader, sealed_tail
from oms.audit_tree_head import TreeHead, timestamp_ms, tree_head_sign
from oms.db import copy_rows
from oms.models import AuditEvent, AuditLeaf, AuditTreeHead, AuditTreeNode
from oms.services.audit_checkpoint import high_water

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


def _pending(last_seq: int, chain_end: int, limit: int) -> tuple[list[dict], list[dict]]:
    """The events to seal next: chained ones not sealed yet (seq order), then committed unsealed ones (id order)."""
    chained = []
    if last_seq < chain_end:
        rows = (AuditEvent.objects.filter(seq__gt=last_seq, seq__lte=chain_end, hash__isnull=False)
                .order_by("seq").values_list(*EVENT_LEAF_COLUMNS)[:limit])
        chained = [dict(zip(EVENT_LEAF_COLUMNS, row, strict=True)) for row in rows]
    fresh = []
    if len(chained) < limit:
        # The partial index oms_auditevent_unsealed: only the events not sealed yet.
        rows = AuditEvent.objects.filter(seq__isnull=True).order_by("id").values_list(*EVENT_LEAF_COLUMNS)[:limit - len(chained)]
        fresh = [dict(zip(EVENT_LEAF_COLUMNS, row, strict=True)) for row in rows]
    return chained, fresh


def _number(events: list[dict], first_seq: int) -> None:
    """Give the sealed events their positions: seq ``first_seq`` onwards, in leaf order (one UPDATE)."""
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {AuditEvent._meta.db_table} AS e SET seq = v.seq FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, seq) "
            "WHERE e.id = v.id AND e.seq IS NULL",
            [[e["id"] for e in events], list(range(first_seq, first_seq + len(events)))],
        )
        if cur.rowcount != len(events):
            raise AuditTreeBroken(f"{len(events) - cur.rowcount} of the events to seal already carry a position")


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
        chain_end = high_water() or 0
        chained, fresh = _pending(last_seq, chain_end, limit)
        events = chained + fresh
        if not events:
            return SealResult("idle", head=head)
        if fresh:
            _number(fresh, max(last_seq, chain_end) + 1)
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


@contextmanager
def _sealer_lease() -> Iterator[bool]:
    """Hold ``SEAL_LOCK`` at session level for a sealer run (tried, never waited for); yield whether it was won.

    The seals inside take the same lock per transaction, which a session that holds it always gets; any other
    sealer's seal answers "busy" meanwhile. A run killed with its connection frees the lock with the session."""
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [SEAL_LOCK])
        won = cur.fetchone()[0]
    try:
        yield won
    finally:
        if won:
            # Connections can be pooled: a lock left held here would stop every sealer for the connection's life.
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_unlock(%s)", [SEAL_LOCK])


def _anything_pending() -> bool:
    # The partial index oms_auditevent_unsealed: one index probe, what an idle poll costs.
    return AuditEvent.objects.filter(seq__isnull=True).exists()


def audit_seal_run(*, budget_s: float | None = None, poll_s: float = 0.0, max_events: int | None = None,
                   stop: Callable[[], bool] = lambda: False) -> list[SealResult]:
    """Seal for about ``budget_s`` (default ``AUDIT_SEAL_EVERY_S``) holding the sealer's lock; return each seal's result.

    With ``poll_s`` 0 (the beat task), seal what is pending, batch after batch, and return once a batch comes
    back short. With ``poll_s`` > 0 (the sealer process, ``manage.py audit_sealer``), keep looking every
    ``poll_s`` until the budget is spent or ``stop()``: an event then waits at most ``poll_s`` plus one seal,
    where a run per beat made it wait up to a whole period. Another sealer holding the lock: ``[busy]`` at once.
    """
    limit = max_events or settings.AUDIT_SEAL_BATCH
    deadline = time.monotonic() + (settings.AUDIT_SEAL_EVERY_S if budget_s is None else budget_s)
    results: list[SealResult] = []
    with _sealer_lease() as won:
        if not won:
            return [SealResult("busy")]
        result = audit_seal(max_events=limit)  # the first one also takes chained events left by the switch
        results.append(result)
        while True:
            if result.sealed < limit:  # nothing left just now
                if poll_s <= 0 or stop() or time.monotonic() + poll_s >= deadline:
                    return results
                time.sleep(poll_s)
                if not _anything_pending():
                    continue
            elif time.monotonic() >= deadline or stop():
                return results
            result = audit_seal(max_events=limit)
            results.append(result)


def audit_sealer_serve(*, stop: Callable[[], bool]) -> None:
    """Be the sealer until ``stop()``: sealer runs back to back, each polling every ``AUDIT_SEAL_POLL_S`` for
    ``AUDIT_SEAL_EVERY_S``. While another sealer holds the lock, stand by and try again each period (two sealers
    started together: one seals, the other takes over if the first dies). A broken tree or a database error
    (a lost connection) is logged and retried a period later; nothing is sealed meanwhile."""
    period = settings.AUDIT_SEAL_EVERY_S
    while not stop():
        try:
            results = audit_seal_run(budget_s=period, poll_s=settings.AUDIT_SEAL_POLL_S, stop=stop)
        except AuditTreeBroken as exc:
            log.error("AUDIT TREE BROKEN: %s; nothing sealed", exc)
        except (DatabaseError, InterfaceError):
            # A lost connection, or a refusal nothing here expects: each seal rolled back whole, so retry on a
            # fresh connection rather than exit (under make run, one process exiting stops them all).
            log.exception("audit sealer: database error; nothing sealed, retrying in %g s", period)
            connection.close()
        else:
            if results[-1].status != "busy":
                continue
        _sleep_unless(stop, period)


def _sleep_unless(stop: Callable[[], bool], seconds: float) -> None:
    end = time.monotonic() + seconds
    while not stop() and time.monotonic() < end:
        time.sleep(min(0.1, end - time.monotonic()))
