"""The sessions' message store and sequence numbers, kept in PostgreSQL (the gateway's ``Journal``).

The engine's Python binding takes no message store written in Python (only its ``Application`` is a
SWIG director), the store a session hands out is not usable from Python, and this build of the engine
has no PostgreSQL store compiled in. So the engine runs on its own file store (``FIX_STORE_DIR``, written
synchronously as it sends), and PostgreSQL holds the copy that is backed up with the rest of the data:

- every message the engine sends or receives is copied by the callbacks and written here by the
  gateway's worker (``FixMessage``, the session's message log, which the FIX page will search);
- the engine's next sequence numbers are saved every second and when the gateway stops (``FixSession``);
- at start, a session whose file store is behind the database (a new machine, a restore from a database
  backup, lost files) gets its file store rebuilt from here, with the engine's own ``FileStore`` class:
  what was sent in the current sequence and both sequence numbers. A client that reconnects then asks
  for what it missed with a normal ResendRequest and the engine answers from the store.

Restored from the database alone, the last worker cycle before a crash may be missing (well under a
second): the sender number is never below what was logged as sent; a received number that comes back
too low makes the engine ask the client to resend, which FIX allows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from django.db import transaction
from django.db.models import Max

from fix.engine import BEGIN_STRING, Logged, Restored, SessionKey
from fix.models import Direction, FixMessage, FixSession


class PostgresJournal:
    """The ``fix.engine.Journal`` of a gateway's sessions (``session_ids``: their keys and ``FixSession`` ids): it
    reads and writes those only, so gateways serving other sessions never meet in it."""

    def __init__(self, session_ids: dict[SessionKey, int]):
        self._ids = dict(session_ids)

    def restore(self, key: SessionKey) -> Restored:
        session = FixSession.objects.get(pk=self._ids[key])
        sent = FixMessage.objects.filter(session=session, direction=Direction.OUT, poss_dup=False)
        if session.store_reset_at is not None:
            sent = sent.filter(logged_at__gte=session.store_reset_at)
        # Every sequence starts at 1 (the first session, a reset, ResetOnLogon, a new FIX day): the store holds
        # the messages of the last one.
        start = sent.filter(seq_num=1).aggregate(m=Max("id"))["m"]
        if start is not None:
            rows = list(sent.filter(id__gte=start).order_by("id").values_list("seq_num", "raw"))
            next_sender = max(seq for seq, _ in rows) + 1
        else:
            # Nothing sent in the current sequence yet. After an operator's reset that is everything logged since
            # (the Logout the reset itself sent belongs to the old sequence): the saved number (1) stands.
            rows = []
            next_sender = session.next_sender_seq
        return Restored(
            next_sender_seq=next_sender,
            next_target_seq=session.next_target_seq,
            sent=[(seq, bytes(raw).decode("utf-8", "surrogateescape")) for seq, raw in rows],
            reset=session.reset_pending,
        )

    def append(self, logged: list[Logged]) -> None:
        FixMessage.objects.bulk_create([
            FixMessage(
                session_id=self._ids[m.key], direction=m.direction, seq_num=m.seq_num, msg_type=m.msg_type[:8],
                cl_ord_id=m.cl_ord_id, poss_dup=m.poss_dup, raw=m.raw.encode("utf-8", "surrogateescape"),
                logged_at=datetime.fromtimestamp(m.at, UTC),
            )
            for m in logged if m.key in self._ids
        ])

    def save_seqnums(self, seqnums: dict[SessionKey, tuple[int, int]]) -> None:
        with transaction.atomic():
            for key, (sender, target) in seqnums.items():
                # Not over an operator's reset the engine has not applied yet.
                FixSession.objects.filter(pk=self._ids[key], reset_pending=False) \
                    .update(next_sender_seq=sender, next_target_seq=target)

    def reset_done(self, key: SessionKey) -> None:
        FixSession.objects.filter(pk=self._ids[key]).update(reset_pending=False, next_sender_seq=1, next_target_seq=1)

    def refresh(self) -> tuple[dict[SessionKey, bool], set[SessionKey]]:
        enabled, resets = {}, set()
        for s in FixSession.objects.filter(pk__in=self._ids.values()).only("sender_comp_id", "target_comp_id", "enabled", "reset_pending"):
            key = (s.sender_comp_id, s.target_comp_id)
            enabled[key] = s.enabled
            if s.reset_pending:
                resets.add(key)
        return enabled, resets


def stored_messages(store_dir: Path, key: SessionKey) -> list[tuple[int, str]]:
    """(MsgSeqNum, message) of what the engine's file store of a session holds, read from its files.

    The binding cannot hand the store's messages to Python (``FileStore.get`` takes a C++ vector), so this reads
    the format the engine writes: ``<prefix>.header`` lists ``seq,offset,size`` entries (a later entry for the
    same number wins), ``<prefix>.body`` holds the messages one after another.
    """
    prefix = Path(store_dir) / f"{BEGIN_STRING}-{key[0]}-{key[1]}"
    try:
        header = (prefix.parent / (prefix.name + ".header")).read_text()
        body = (prefix.parent / (prefix.name + ".body")).read_bytes()
    except FileNotFoundError:
        return []
    entries = {}
    for entry in header.split():
        seq, offset, size = (int(x) for x in entry.split(","))
        entries[seq] = body[offset:offset + size].decode("utf-8", "surrogateescape")
    return sorted(entries.items())
