"""Verify the audit trail: the hash chain, the signed checkpoints that anchor it, and that nothing is unrecorded.

Three questions, answered in one streaming pass over the chain plus a few queries:

1. Does every event link to the one before it, from genesis, with no seq missing? (``audit.event_missing``,
   ``audit.link_broken``, ``audit.event_altered``)
2. Does the chain still reach every signed checkpoint, in the table and in the file? A checkpoint whose
   event is gone means the tail was cut (``audit.tail_truncated``); one whose event now carries another
   hash, or whose count differs, means the tail was rewritten and re-hashed (``audit.tail_rewritten``).
   The two stores must agree (``audit.checkpoint_missing``) and every entry must carry a valid signature
   (``audit.checkpoint_forged``). The seq high-water mark must not be below the mark any checkpoint
   recorded (``audit.high_water_lowered``), nor above the chain's head (``audit.event_missing``: the
   newest events are gone).
3. Does every object that must have been recorded have its creation event? (``audit.orphan_object``;
   apps register their objects with ``register_creation_events``.)
4. Does the Merkle tree still hold every sealed event as it was sealed, hash to every signed head, and
   does it hold every event written more than AUDIT_SEAL_BOUND_S ago? (``audit_tree_verification``:
   ``audit.leaf_*``, ``audit.tree_*``, ``audit.event_unsealed``.)

A run that finds any problem signs nothing (``VerifyResult.not_signed`` says why).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from django.apps import apps
from django.db.models import CharField, Exists, Max, OuterRef
from django.db.models.functions import Cast

from oms.audit_events import CREATION_EVENTS
from oms.audit_tree_head import TreeHead
from oms.error_codes import AuditProblemCode
from oms.models import AuditEvent
from oms.services.audit import Problem, chain_rows, chain_walk
from oms.services.audit_checkpoint import (
    ChainHead,
    Checkpoint,
    audit_checkpoint_write,
    checkpoint_file,
    checkpoints_read,
    high_water,
    high_water_problem,
    signature_problem,
    unissued_problem,
)
from oms.services.audit_tree_verification import tree_verify

PROBLEM_CAP = 50  # problems listed in full; the rest are counted
ORPHAN_ID_CAP = 20  # ids listed per object type; the rest are counted
# The primary problem is the first found in this order: a cut or rewritten tail explains the chain breaks
# it causes, and either says more than a store disagreement or an unrecorded object.
# The tree's problems rank as the chain's: a head the tree no longer reaches as a rewritten tail, a changed
# leaf or subtree as a chain break, a forged or lost head as a checkpoint; an unsealed event last.
_RANK = {AuditProblemCode.TAIL_TRUNCATED: 0, AuditProblemCode.TAIL_REWRITTEN: 0, AuditProblemCode.HIGH_WATER_LOWERED: 0, AuditProblemCode.EVENT_MISSING: 1, AuditProblemCode.LINK_BROKEN: 1,
         AuditProblemCode.EVENT_ALTERED: 1, AuditProblemCode.CHECKPOINT_FORGED: 2, AuditProblemCode.CHECKPOINT_MISSING: 2, AuditProblemCode.ORPHAN_OBJECT: 3,
         AuditProblemCode.TREE_HEAD_MISMATCH: 0, AuditProblemCode.LEAF_ALTERED: 1, AuditProblemCode.LEAF_MISSING: 1,
         AuditProblemCode.LEAF_EVENT_MISSING: 1, AuditProblemCode.TREE_NODE_MISSING: 1, AuditProblemCode.TREE_NODE_ALTERED: 1,
         AuditProblemCode.TREE_HEAD_FORGED: 2, AuditProblemCode.TREE_HEAD_MISSING: 2, AuditProblemCode.EVENT_UNSEALED: 4}


@dataclass(frozen=True)
class CreationEvents:
    """Every row of ``model`` must have an event of one of ``event_types`` on ``object_type`` with its pk."""

    object_type: str
    model: str  # "app_label.ModelName", resolved when verifying: the registering app is not imported here
    event_types: tuple[str, ...]


_CREATION_EVENTS: dict[str, CreationEvents] = {}


def register_creation_events(*, object_type: str, model: str, event_types=None) -> None:
    """Have verification report each ``model`` row that lacks its creation event (call from AppConfig.ready);
    the creation events are the catalogue's (``oms.audit_events.CREATION_EVENTS``) unless ``event_types`` says."""
    events = CREATION_EVENTS[object_type] if event_types is None else event_types
    _CREATION_EVENTS[object_type] = CreationEvents(object_type, model, tuple(events))


# Intake writes its creation event (order.received) for every order it books, accepted or denied, in the order's transaction.
register_creation_events(object_type="order", model="oms.Order")


@dataclass(frozen=True)
class Orphans:
    object_type: str
    count: int
    ids: tuple[str, ...]  # the first ORPHAN_ID_CAP, by pk

    def as_dict(self) -> dict:
        return {"object_type": self.object_type, "count": self.count, "ids": list(self.ids)}


@dataclass(frozen=True)
class VerifyResult:
    """What ``audit_verify`` found. ``code``/``problem``/``broken_seq`` describe the primary problem."""

    ok: bool
    checked: int  # events that link from genesis before the first chain break
    broken_seq: int | None = None
    problem: str = ""
    code: str = ""
    head_seq: int | None = None
    checkpoints: int = 0  # distinct validly signed checkpoints the chain was checked against
    last_good_checkpoint: Checkpoint | None = None
    problems: tuple[Problem, ...] = ()
    problem_count: int = 0
    orphans: tuple[Orphans, ...] = ()
    checkpoint_written: Checkpoint | None = None
    not_signed: str = ""  # why this run wrote no checkpoint ("" when it wrote one)
    tree_size: int = 0  # leaves of the Merkle tree (sealed events)
    tree_heads: int = 0  # signed heads checked
    latest_head: TreeHead | None = None
    unsealed: int = 0  # events not sealed yet (a problem only past AUDIT_SEAL_BOUND_S)

    @property
    def events(self) -> int:
        """Every event of the trail: sealed in the tree, or committed and awaiting the sealer."""
        return self.tree_size + self.unsealed

    def as_dict(self) -> dict:
        def cp(c):
            return None if c is None else {k: v for k, v in c.as_dict().items() if k not in ("key_id", "signature")}

        return {
            "ok": self.ok, "checked": self.checked, "broken_seq": self.broken_seq, "code": self.code,
            "problem": self.problem, "head_seq": self.head_seq, "checkpoints": self.checkpoints,
            "last_good_checkpoint": cp(self.last_good_checkpoint),
            "problems": [p.as_dict() for p in self.problems], "problem_count": self.problem_count,
            "orphans": [o.as_dict() for o in self.orphans], "checkpoint_written": cp(self.checkpoint_written),
            "not_signed": self.not_signed, "tree_size": self.tree_size, "tree_heads": self.tree_heads,
            "latest_head": None if self.latest_head is None else self.latest_head.as_dict(), "unsealed": self.unsealed,
            "events": self.events,
        }


def _when(cp: Checkpoint) -> str:
    return f"checkpoint #{cp.id} of {cp.created_at:%Y-%m-%d %H:%M:%S} UTC"


def _store_problems(table: list[Checkpoint], file_entries: list) -> tuple[list[Problem], list[Checkpoint]]:
    """Signature and agreement checks of the two stores; the validly signed checkpoints, by seq."""
    problems, anchors = [], {}
    for cp in table:
        if why := signature_problem(cp):
            problems.append(Problem(AuditProblemCode.CHECKPOINT_FORGED, cp.seq, f"checkpoint #{cp.id} in the table {why}"))
        else:
            anchors[cp.signature] = cp
    file_ids = set()
    for number, cp in file_entries:
        if cp is None:
            problems.append(Problem(AuditProblemCode.CHECKPOINT_FORGED, None, f"line {number} of the checkpoint file is not a checkpoint"))
            continue
        file_ids.add(cp.id)
        if why := signature_problem(cp):
            problems.append(Problem(AuditProblemCode.CHECKPOINT_FORGED, cp.seq, f"checkpoint #{cp.id} on line {number} of the checkpoint file {why}"))
        else:
            anchors.setdefault(cp.signature, cp)
    table_ids = {cp.id for cp in table}
    if only_file := sorted(file_ids - table_ids):
        problems.append(Problem(AuditProblemCode.CHECKPOINT_MISSING, None,
                                f"{len(only_file)} checkpoint(s) of the file are gone from the table: {_listed(only_file)}"))
    if only_table := sorted(table_ids - file_ids):
        where = checkpoint_file()
        problems.append(Problem(AuditProblemCode.CHECKPOINT_MISSING, None, f"{len(only_table)} checkpoint(s) of the table are not in the file "
                                f"{where}{'' if where.exists() else ' (the file is gone)'}: {_listed(only_table)}"))
    return problems, sorted(anchors.values(), key=lambda cp: (cp.seq, cp.created_at))


def _listed(ids, total: int | None = None) -> str:
    shown = list(ids)[:ORPHAN_ID_CAP]
    total = len(ids) if total is None else total
    return ", ".join(f"#{i}" for i in shown) + (f" and {total - len(shown)} more" if total > len(shown) else "")


def _tail_problem(anchors: list[Checkpoint], seen: dict) -> tuple[Problem | None, Checkpoint | None]:
    """The first checkpoint the chain no longer reaches, as a problem, and the last one before it that it does."""
    last_good, first_bad, missed = None, None, 0
    for cp in anchors:
        got = seen.get(cp.seq)  # (hash, events up to it, linked from genesis) of the event at cp.seq
        if got is not None and got[0] == cp.head_hash and got[1] == cp.event_count and got[2]:
            if first_bad is None:
                last_good = cp
            continue
        if got is not None and got[0] == cp.head_hash and not got[2]:
            # Its event is intact but an earlier break (reported with the chain) cut it off from genesis.
            continue
        missed += 1
        first_bad = first_bad or (cp, got)
    if first_bad is None:
        return None, last_good
    cp, got = first_bad
    anchored = f"{_when(cp)} anchors {cp.event_count} events up to #{cp.seq}"
    later = f"; {missed} checkpoints are no longer reached" if missed > 1 else ""
    if got is None:
        end = AuditEvent.objects.filter(seq__lt=cp.seq).aggregate(end=Max("seq"))["end"] or 0
        gone = f"event #{cp.seq} is gone" if end + 1 == cp.seq else f"events #{end + 1}..#{cp.seq} are gone"
        return Problem(AuditProblemCode.TAIL_TRUNCATED, end + 1, f"the chain was cut: {gone}, but {anchored}{later}"), last_good
    since = last_good.seq if last_good else 0
    differs = "carries another hash" if got[0] != cp.head_hash else f"is event {got[1]} of the chain, not {cp.event_count}"
    return Problem(AuditProblemCode.TAIL_REWRITTEN, since + 1, f"events after #{since} were rewritten: {anchored}, "
                   f"and event #{cp.seq} now {differs}{later}"), last_good


def _orphans() -> list[Orphans]:
    found = []
    for reg in _CREATION_EVENTS.values():
        model = apps.get_model(reg.model)
        created = AuditEvent.objects.filter(
            object_type=reg.object_type, event_type__in=reg.event_types, object_id=Cast(OuterRef("pk"), CharField()),
        )
        missing = model._base_manager.filter(~Exists(created)).order_by("pk")
        if count := missing.count():
            found.append(Orphans(reg.object_type, count, tuple(str(pk) for pk in missing.values_list("pk", flat=True)[:ORPHAN_ID_CAP])))
    return found


def audit_verify(*, write_checkpoint: bool = True) -> VerifyResult:
    """Verify the chain against every checkpoint and cross-check creation events; report OK or what broke.

    With ``write_checkpoint``, a run that found no problem at all anchors the head it reached in a new
    checkpoint; one that found any signs nothing, and ``not_signed`` says why.
    """
    table, file_entries = checkpoints_read()  # before the walk: every checkpoint read names a committed event
    issued = high_water()  # after the checkpoints (the mark only rises) and before the walk (see unissued_problem)
    store_problems, anchors = _store_problems(table, file_entries)
    # Checked against the highest mark any signed checkpoint recorded.
    top = max(anchors, key=lambda cp: cp.high_water, default=None)
    mark_problems = [p for p in [top and high_water_problem(issued, top)] if p]
    at_checkpoint = {cp.seq for cp in anchors}

    chain_problems, chain_problem_count, seen, checked, count, head, intact = [], 0, {}, 0, 0, None, True
    for seq, digest, problems in chain_walk(chain_rows()):
        count += 1
        if problems:
            intact = False
            chain_problem_count += len(problems)
            if len(chain_problems) < PROBLEM_CAP:
                chain_problems.extend(problems)
        elif intact:
            checked += 1
        if seq in at_checkpoint:
            seen[seq] = (digest, count, intact)
        head = ChainHead(seq, digest, count)
    if unissued := unissued_problem(issued, head.seq if head else 0):
        chain_problem_count += 1
        chain_problems.append(unissued)

    tail, last_good = _tail_problem(anchors, seen)
    tree = tree_verify()
    orphans = _orphans()
    orphan_problems = [
        Problem(AuditProblemCode.ORPHAN_OBJECT, None, f"{o.count} {o.object_type}(s) have no creation event "
                f"({', '.join(_CREATION_EVENTS[o.object_type].event_types)}): {_listed(o.ids, o.count)}")
        for o in orphans
    ]
    problems = sorted([*([tail] if tail else []), *mark_problems, *chain_problems, *store_problems, *orphan_problems, *tree.problem_list()],
                      key=lambda p: _RANK[p.code])
    primary = problems[0] if problems else None
    result = VerifyResult(
        ok=primary is None, checked=checked,
        # The event where the chain breaks: none for a store disagreement or an unrecorded object.
        broken_seq=primary.seq if primary and _RANK[primary.code] <= 1 else None,
        problem=primary.detail if primary else "", code=primary.code if primary else "",
        head_seq=head.seq if head else None, checkpoints=len(anchors), last_good_checkpoint=last_good,
        problems=tuple(problems[:PROBLEM_CAP]),
        problem_count=len(problems) - len(chain_problems) + chain_problem_count - len(tree.problem_list()) + tree.problem_count,
        orphans=tuple(orphans), tree_size=tree.size, tree_heads=tree.heads, latest_head=tree.latest_head, unsealed=tree.unsealed,
    )
    if primary is not None:
        n = result.problem_count
        listed = f"{n} problem(s)" + (f", first {primary.code}" if n > 1 else f": {primary.code}")
        return replace(result, not_signed=f"not signed: this run found {listed}, and a chain with a problem is never anchored")
    if not write_checkpoint:
        return replace(result, not_signed="not signed: checkpoint writing was not asked for")
    if head is None:
        return replace(result, not_signed="not signed: the chain is empty")
    written = audit_checkpoint_write(head=head)
    return replace(result, checkpoint_written=written,
                   not_signed="" if written else f"not signed: event #{head.seq} is already anchored by a checkpoint")
