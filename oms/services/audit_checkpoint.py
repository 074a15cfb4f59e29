"""Signed checkpoints: the audit chain's head, anchored outside the chain's table.

A checkpoint says "at <created_at> the chain's head was event #seq with hash H, the chain held N events,
and the highest seq ever handed out was M" (the high-water mark, ``AuditSeqHighWater``), sealed with
HMAC-SHA256 under a key that lives in the settings (``AUDIT_HMAC_KEY``), never in the database. Each one
is kept twice, written under one advisory lock: a row of ``AuditCheckpoint`` (append-only in the
database) and a line of ``AUDIT_CHECKPOINT_FILE`` (opened O_APPEND and fsync'd before the row commits, so
a failed file write leaves neither). Verification (``audit_verification``) reads both and checks that the
chain still reaches every checkpoint, so cutting or re-hashing events a checkpoint covers is visible,
unless the same person also holds the key or rewrites the file as well; and that the mark was never
lowered below one a checkpoint recorded.

Only a chain that extends the latest checkpoint, with no seq handed out beyond its head, is signed: either
a full verification that found no problem just walked it, or the events since that checkpoint are walked
here first. A checkpoint is written only when the head has moved: one repeating the same (seq, hash,
count) would anchor nothing more, and at one a minute it would grow both stores by 1,440 entries a day
for nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from oms.error_codes import AuditProblemCode
from oms.models import AuditCheckpoint, AuditEvent, AuditSeqHighWater
from oms.services.audit import GENESIS_HASH, Problem, canonical_json, chain_rows, chain_walk

log = logging.getLogger("oms.audit")

# pg_advisory_xact_lock key that orders checkpoint writes and lets a reader see both stores agree ("AUDIC").
CHECKPOINT_LOCK = 0x4155444943
SIGNED_PREFIX = "smart-oms/audit-checkpoint/v2"  # v2 signs the high-water mark as well
SIGNED_PREFIX_V1 = "smart-oms/audit-checkpoint/v1"  # checkpoints signed before the mark was recorded (0008)
# How far back from the end of the file the writer looks for the latest checkpoint (lines are ~300 bytes).
FILE_TAIL_BYTES = 64 * 1024
CHECKPOINT_FIELDS = ("id", "seq", "head_hash", "event_count", "high_water", "created_at", "key_id", "signature")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as either store holds it (``id`` is the table row's, repeated in the file's line)."""

    id: int | None
    seq: int
    head_hash: str
    event_count: int
    high_water: int  # the highest seq ever handed out when it was signed (>= seq)
    created_at: datetime
    key_id: str
    signature: str

    def as_dict(self) -> dict:
        return {
            "id": self.id, "seq": self.seq, "head_hash": self.head_hash, "event_count": self.event_count,
            "high_water": self.high_water, "created_at": self.created_at.isoformat(), "key_id": self.key_id, "signature": self.signature,
        }


@dataclass(frozen=True)
class ChainHead:
    """The last event of a chain verified from genesis (or from a checkpoint), and how many events it holds."""

    seq: int
    hash: str
    count: int


class AuditChainBroken(Exception):
    """The chain does not extend the latest checkpoint, so it is not signed."""

    def __init__(self, problem: Problem):
        super().__init__(f"{problem.code}: {problem.detail}")
        self.problem = problem


def _keys() -> dict[str, bytes]:
    keys = {key_id: key.encode() for key_id, key in settings.AUDIT_HMAC_RETIRED_KEYS.items()}
    # Development only (settings.AUDIT_HMAC_KEY empty): a key derived from SECRET_KEY, never stored anywhere.
    current = settings.AUDIT_HMAC_KEY or hmac.new(settings.SECRET_KEY.encode(), b"smart-oms audit checkpoint key", hashlib.sha256).hexdigest()
    keys[settings.AUDIT_HMAC_KEY_ID] = current.encode()
    return keys


def _mac(key: bytes, seq: int, head_hash: str, event_count: int, high_water: int, created_at: datetime, key_id: str) -> str:
    message = f"{SIGNED_PREFIX}|{seq}|{head_hash}|{event_count}|{high_water}|{created_at.isoformat()}|{key_id}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def _mac_v1(key: bytes, cp: Checkpoint) -> str:
    message = f"{SIGNED_PREFIX_V1}|{cp.seq}|{cp.head_hash}|{cp.event_count}|{cp.created_at.isoformat()}|{cp.key_id}"
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def signature_problem(cp: Checkpoint) -> str:
    """Why ``cp``'s signature does not hold ("" when it does)."""
    key = _keys().get(cp.key_id)
    if key is None:
        return f"is signed with key id {cp.key_id!r}, which this installation does not know"
    if hmac.compare_digest(_mac(key, cp.seq, cp.head_hash, cp.event_count, cp.high_water, cp.created_at, cp.key_id), cp.signature):
        return ""
    # A v1 signature covers no mark: it holds only as "the mark was at least the head" (what 0008 filled in).
    if cp.high_water == cp.seq and hmac.compare_digest(_mac_v1(key, cp), cp.signature):
        return ""
    return "does not carry a valid signature"


def high_water() -> int | None:
    """The highest seq ever handed out (committed), None when the mark's row is gone."""
    return AuditSeqHighWater.objects.filter(pk=1).values_list("seq", flat=True).first()


def checkpoint_file() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_FILE)


def parse_line(text: str) -> Checkpoint | None:
    """The checkpoint one line of the file holds, or None when the line is not one."""
    try:
        data = json.loads(text)
        return Checkpoint(
            id=int(data["id"]), seq=int(data["seq"]), head_hash=str(data["head_hash"]),
            event_count=int(data["event_count"]),
            # Lines written before the mark was recorded (v1) carry none: the mark was at least the head.
            high_water=int(data.get("high_water", data["seq"])), created_at=datetime.fromisoformat(data["created_at"]),
            key_id=str(data["key_id"]), signature=str(data["signature"]),
        )
    except (ValueError, TypeError, KeyError):
        return None


def file_checkpoints():
    """Yield ``(line number, checkpoint or None)`` for each non-empty line of the checkpoint file, streamed."""
    try:
        with checkpoint_file().open(encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, start=1):
                if line.strip():
                    yield number, parse_line(line)
    except FileNotFoundError:
        return


def table_checkpoints() -> list[Checkpoint]:
    return [Checkpoint(*row) for row in AuditCheckpoint.objects.order_by("id").values_list(*CHECKPOINT_FIELDS)]


def checkpoints_read() -> tuple[list[Checkpoint], list[tuple[int, Checkpoint | None]]]:
    """Both stores, as of one moment: a checkpoint being written is in both or in neither.

    Read before the chain is walked, so every checkpoint read names an event already committed.
    """
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock_shared(%s)", [CHECKPOINT_LOCK])
        return table_checkpoints(), list(file_checkpoints())


def _file_append(line: str) -> None:
    path = checkpoint_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_APPEND: every write lands at the end, whatever anyone else did to the file's offset.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _latest_in_file() -> Checkpoint | None:
    path = checkpoint_file()
    try:
        with path.open("rb") as f:
            end = f.seek(0, os.SEEK_END)
            f.seek(max(0, end - FILE_TAIL_BYTES))
            lines = f.read().decode("utf-8", errors="replace").splitlines()
            if end > FILE_TAIL_BYTES:
                lines = lines[1:]  # the first may be cut in the middle
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        cp = parse_line(line) if line.strip() else None
        if cp is not None and not signature_problem(cp):
            return cp
    return None


def _latest_in_table() -> Checkpoint | None:
    for row in AuditCheckpoint.objects.order_by("-id").values_list(*CHECKPOINT_FIELDS)[:20]:
        cp = Checkpoint(*row)
        if not signature_problem(cp):
            return cp
    return None


def latest_checkpoint() -> Checkpoint | None:
    """The latest validly signed checkpoint either store holds (a forged or lost one is verification's to report)."""
    found = [cp for cp in (_latest_in_table(), _latest_in_file()) if cp is not None]
    return max(found, key=lambda cp: (cp.seq, cp.created_at)) if found else None


def high_water_problem(issued: int | None, cp: Checkpoint) -> Problem | None:
    """``audit.high_water_lowered`` when the mark ``issued`` is below the one ``cp`` recorded."""
    if issued is not None and issued >= cp.high_water:
        return None
    now = "is gone" if issued is None else f"is #{issued}"
    return Problem(AuditProblemCode.HIGH_WATER_LOWERED, (issued or 0) + 1,
                   f"the seq high-water mark {now}, but checkpoint #{cp.id} of {cp.created_at:%Y-%m-%d %H:%M:%S} UTC recorded "
                   f"#{cp.high_water}: it was lowered, and events up to #{cp.high_water} may have been cut with it")


def unissued_problem(issued: int | None, head_seq: int) -> Problem | None:
    """``audit.event_missing`` when seqs above the walked head ``head_seq`` were handed out (the newest events are gone).

    ``issued`` must be read before the walk: every seq it counts was committed by then.
    """
    if issued is None or issued <= head_seq:
        return None
    gone = f"event #{issued} is" if issued == head_seq + 1 else f"events #{head_seq + 1}..#{issued} are"
    return Problem(AuditProblemCode.EVENT_MISSING, head_seq + 1, f"{gone} gone: the seq high-water mark says #{issued} was handed out")


def _head_since(base: Checkpoint | None) -> ChainHead | None:
    """Walk the events after ``base``: the head they reach, None when there are none, or AuditChainBroken."""
    issued = high_water()  # before the walk (see ``unissued_problem``)
    if base is not None:
        if problem := high_water_problem(issued, base):
            raise AuditChainBroken(problem)
        stored = AuditEvent.objects.filter(seq=base.seq).values_list("hash", flat=True).first()
        when = f"checkpoint #{base.id} of {base.created_at:%Y-%m-%d %H:%M:%S} UTC"
        if stored is None:
            raise AuditChainBroken(Problem(AuditProblemCode.TAIL_TRUNCATED, base.seq, f"event #{base.seq}, anchored by {when}, is gone"))
        if stored != base.head_hash:
            raise AuditChainBroken(Problem(AuditProblemCode.TAIL_REWRITTEN, base.seq, f"event #{base.seq} no longer carries the hash {when} anchors"))
    prev, next_seq, count = (base.head_hash, base.seq + 1, base.event_count) if base else (GENESIS_HASH, 1, 0)
    head = None
    for seq, digest, problems in chain_walk(chain_rows(after_seq=next_seq - 1), prev_hash=prev, next_seq=next_seq):
        if problems:
            raise AuditChainBroken(problems[0])
        count += 1
        head = ChainHead(seq, digest, count)
    if problem := unissued_problem(issued, head.seq if head else (base.seq if base else 0)):
        raise AuditChainBroken(problem)
    return head


def audit_checkpoint_write(*, head: ChainHead | None = None) -> Checkpoint | None:
    """Sign the chain's head and append it to both stores; None when the head has not moved.

    ``head`` is what a full verification that found no problem just reached; without it the events since the
    latest checkpoint are walked first, and a chain that does not extend that checkpoint, or that lost events
    the high-water mark says were handed out, raises ``AuditChainBroken``. The mark is read and signed here.
    """
    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", [CHECKPOINT_LOCK])
        latest = latest_checkpoint()
        if head is None:
            head = _head_since(latest)
        if head is None or (latest is not None and head.seq <= latest.seq):
            return None
        # Read after the walk: at least head.seq (a writer's mark commits with its events, and is never lowered).
        created_at, key_id, issued = timezone.now(), settings.AUDIT_HMAC_KEY_ID, max(high_water() or 0, head.seq)
        signature = _mac(_keys()[key_id], head.seq, head.hash, head.count, issued, created_at, key_id)
        row = AuditCheckpoint.objects.create(
            seq=head.seq, head_hash=head.hash, event_count=head.count, high_water=issued, created_at=created_at,
            key_id=key_id, signature=signature,
        )
        cp = Checkpoint(row.id, head.seq, head.hash, head.count, issued, created_at, key_id, signature)
        line = canonical_json(cp.as_dict())
        _file_append(line)
    # A third copy wherever the logs are shipped.
    log.info("audit checkpoint %s", line)
    return cp
