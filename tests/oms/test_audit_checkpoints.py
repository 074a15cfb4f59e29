"""Signed checkpoints anchor the audit chain (the events written before the switch to the sealer) outside its table: a cut or re-hashed tail, a lost or forged
checkpoint, a reused seq and an order without its creation event are each reported with a stable code."""

from __future__ import annotations

import hashlib
import hmac
import json
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from oms.models import AuditCheckpoint, AuditEvent, AuditSeqHighWater
from oms.roles import Actor
from oms.services import audit_checkpoint_write, audit_verification, audit_verify
from oms.services.audit import PendingEvent, audit_append, event_digest
from oms.services.audit_checkpoint import ChainHead, checkpoint_file, parse_line, signature_problem
from oms.tasks import audit_checkpoint_task
from tests.oms.audit_helpers import chain_append, triggers_bypassed

VERIFY_URL = "/api/audit/verify/"
SYSTEM = Actor.system("test")


def _append(n: int, reason: str = "probe") -> None:
    """``n`` events on an object type no registry cross-checks, in one transaction."""
    with transaction.atomic():
        chain_append([PendingEvent(SYSTEM, "probe.noted", "probe", i, after={"i": i}, reason=reason) for i in range(n)])


def _head() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first()


def _file_lines() -> list[dict]:
    return [json.loads(line) for line in checkpoint_file().read_text().splitlines()]


@pytest.fixture
def anchored(db):
    """200 events with two checkpoints: #1 at event 50 and #2 at event 200 (the head)."""
    _append(50)
    first = audit_checkpoint_write()
    _append(150)
    second = audit_checkpoint_write()
    assert (first.seq, second.seq) == (50, 200)
    return first, second


def _delete_newest(n: int) -> None:
    with triggers_bypassed() as cur:
        cur.execute("DELETE FROM oms_auditevent WHERE seq > %s", [_head() - n])


def _rewrite_from(seq: int, reason: str) -> None:
    """Edit event ``seq`` onwards and re-hash every link after it, as someone without the HMAC key would."""
    prev = AuditEvent.objects.get(seq=seq - 1).hash
    with triggers_bypassed() as cur:
        for event in AuditEvent.objects.filter(seq__gte=seq).order_by("seq"):
            digest = event_digest(
                prev, seq=event.seq, ts=event.ts, actor=event.actor, actor_type=event.actor_type, source=event.source,
                event_type=event.event_type, object_type=event.object_type, object_id=event.object_id,
                before=event.before, after=event.after, reason=reason,
            )
            cur.execute("UPDATE oms_auditevent SET reason = %s, prev_hash = %s, hash = %s WHERE seq = %s", [reason, prev, digest, event.seq])
            prev = digest


def _codes(result) -> list[str]:
    return [p.code for p in result.problems]


# --- a clean chain ----------------------------------------------------------------------------------


def test_clean_chain_verifies_and_is_anchored_in_the_table_and_the_file(db):
    _append(30)

    result = audit_verify()

    assert (result.ok, result.code, result.checked, result.head_seq) == (True, "", 30, 30)
    written = result.checkpoint_written
    assert (written.seq, written.event_count, written.head_hash) == (30, 30, AuditEvent.objects.get(seq=30).hash)
    row = AuditCheckpoint.objects.get()
    assert (row.id, row.seq, row.head_hash, row.signature, row.key_id) == (written.id, 30, written.head_hash, written.signature, settings.AUDIT_HMAC_KEY_ID)
    assert [parse_line(json.dumps(line)) for line in _file_lines()] == [written]
    assert signature_problem(written) == ""


def test_verification_reports_the_checkpoints_it_reached(anchored):
    first, second = anchored

    result = audit_verify()

    assert result.ok
    assert (result.checkpoints, result.last_good_checkpoint, result.checkpoint_written) == (2, second, None)


def test_empty_chain_verifies_without_a_checkpoint(db):
    result = audit_verify()

    assert (result.ok, result.checkpoint_written, result.last_good_checkpoint) == (True, None, None)
    assert not AuditCheckpoint.objects.exists()


# --- a cut tail -------------------------------------------------------------------------------------


@pytest.mark.parametrize("deleted", [1, 100])
def test_deleting_the_newest_events_is_reported_as_a_truncated_tail(deleted, anchored, compliance, api):
    first, _ = anchored
    _delete_newest(deleted)

    result = audit_verify()

    assert (result.ok, result.code, result.broken_seq) == (False, "audit.tail_truncated", 201 - deleted)
    assert result.last_good_checkpoint == first
    assert f"#{201 - deleted}" in result.problem and "#200" in result.problem
    assert result.checkpoint_written is None  # a broken chain is never signed
    body = api(compliance).get(VERIFY_URL).json()
    assert (body["ok"], body["code"], body["broken_seq"]) == (False, "audit.tail_truncated", 201 - deleted)
    assert (body["last_good_checkpoint"]["id"], body["last_good_checkpoint"]["seq"]) == (first.id, 50)
    assert body["last_good_checkpoint"]["created_at"] == first.created_at.isoformat()
    with pytest.raises(CommandError) as info:
        call_command("audit_verify", stdout=StringIO(), stderr=StringIO())
    assert "audit.tail_truncated" in str(info.value) and f"last good checkpoint #{first.id}: event #50" in str(info.value)


def test_after_a_cut_the_next_event_gets_a_fresh_seq_and_the_chain_stays_broken(anchored):
    first, _ = anchored
    _delete_newest(100)

    _append(1)

    assert _head() == 201  # not 101: seqs 101..200 were handed out once and are never reused
    result = audit_verify()
    assert (result.ok, result.code, result.broken_seq, result.last_good_checkpoint) == (False, "audit.tail_truncated", 101, first)
    assert "audit.event_missing" in _codes(result)  # the gap 101..200 stays in the chain itself
    assert AuditEvent.objects.get(seq=201).prev_hash == AuditEvent.objects.get(seq=100).hash


def test_checkpoint_task_does_not_sign_a_chain_cut_below_its_latest_checkpoint(anchored):
    _delete_newest(100)
    _append(5)

    outcome = audit_checkpoint_task()

    assert (outcome["ok"], outcome["code"], outcome["written"]) == (False, "audit.tail_truncated", None)
    assert AuditCheckpoint.objects.count() == 2 and len(_file_lines()) == 2


def test_cut_tail_is_reported_from_the_file_when_the_table_checkpoints_are_deleted_too(anchored):
    first, second = anchored
    _delete_newest(100)
    with triggers_bypassed() as cur:
        cur.execute("DELETE FROM oms_auditcheckpoint WHERE id = %s", [second.id])

    result = audit_verify()

    assert (result.code, result.last_good_checkpoint) == ("audit.tail_truncated", first)
    missing = [p for p in result.problems if p.code == "audit.checkpoint_missing"]
    assert len(missing) == 1 and f"#{second.id}" in missing[0].detail and "gone from the table" in missing[0].detail


def _lower_high_water(seq: int) -> None:
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditseqhighwater SET seq = %s", [seq])


@pytest.mark.parametrize("checkpoint_row_deleted", [False, True])
def test_cutting_the_newest_events_and_lowering_the_high_water_mark_is_reported_and_not_signed(
    checkpoint_row_deleted, anchored, compliance, api,
):
    first, second = anchored
    _delete_newest(100)
    _lower_high_water(100)  # the next event would be #101 again
    if checkpoint_row_deleted:
        with triggers_bypassed() as cur:
            cur.execute("DELETE FROM oms_auditcheckpoint WHERE id = %s", [second.id])

    result = audit_verify()

    assert (result.ok, result.code, result.broken_seq, result.last_good_checkpoint) == (False, "audit.tail_truncated", 101, first)
    lowered = [p for p in result.problems if p.code == "audit.high_water_lowered"]
    assert len(lowered) == 1 and "#100" in lowered[0].detail and f"checkpoint #{second.id}" in lowered[0].detail and "#200" in lowered[0].detail
    assert ("audit.checkpoint_missing" in _codes(result)) == checkpoint_row_deleted  # the file still holds it
    assert result.checkpoint_written is None and result.not_signed.startswith("not signed: this run found")
    assert [cp.id for cp in AuditCheckpoint.objects.order_by("id")] == [first.id] + ([] if checkpoint_row_deleted else [second.id])
    assert [line["id"] for line in _file_lines()] == [first.id, second.id]
    body = api(compliance).get(VERIFY_URL).json()
    assert "audit.high_water_lowered" in [p["code"] for p in body["problems"]]
    assert body["checkpoint_written"] is None and "audit.tail_truncated" in body["not_signed"]
    err = StringIO()
    with pytest.raises(CommandError, match="audit.tail_truncated"):
        call_command("audit_verify", stdout=StringIO(), stderr=err)
    assert "audit.high_water_lowered" in err.getvalue() and "not signed" in err.getvalue()
    assert AuditCheckpoint.objects.count() == (1 if checkpoint_row_deleted else 2) and len(_file_lines()) == 2


def test_lowered_high_water_mark_is_reported_when_only_the_checkpoint_mark_shows_the_cut(db, compliance, api):
    # A verification walked the chain to #50 while ten more events committed: its checkpoint anchors #50
    # and records the mark #60. Cutting #51..#60 and lowering the mark to #50 leaves a chain that reaches
    # every checkpoint; only the recorded mark tells.
    _append(50)
    head = ChainHead(50, AuditEvent.objects.get(seq=50).hash, 50)
    _append(10)
    cp = audit_checkpoint_write(head=head)
    assert (cp.seq, cp.high_water) == (50, 60)
    _delete_newest(10)
    _lower_high_water(50)

    result = audit_verify()

    assert (result.ok, result.code, result.broken_seq) == (False, "audit.high_water_lowered", 51)
    assert f"checkpoint #{cp.id}" in result.problem and "#60" in result.problem
    assert result.checkpoint_written is None and "audit.high_water_lowered" in result.not_signed
    assert AuditCheckpoint.objects.count() == 1
    body = api(compliance).get(VERIFY_URL).json()
    assert (body["ok"], body["code"], body["broken_seq"]) == (False, "audit.high_water_lowered", 51)
    with pytest.raises(CommandError, match=r"audit.high_water_lowered\) at event #51"):
        call_command("audit_verify", stdout=StringIO(), stderr=StringIO())
    outcome = audit_checkpoint_task()
    assert (outcome["ok"], outcome["code"], outcome["written"]) == (False, "audit.high_water_lowered", None)
    assert AuditCheckpoint.objects.count() == 1 and len(_file_lines()) == 1


def test_newest_events_cut_after_the_latest_checkpoint_are_reported_from_the_high_water_mark(anchored):
    _, second = anchored
    _append(5)
    _delete_newest(3)  # #203..#205 gone, the mark still says #205

    result = audit_verify()

    assert (result.ok, result.code, result.broken_seq) == (False, "audit.event_missing", 203)
    assert "#203..#205" in result.problem
    assert result.checkpoint_written is None
    outcome = audit_checkpoint_task()
    assert (outcome["ok"], outcome["code"], outcome["seq"], outcome["written"]) == (False, "audit.event_missing", 203, None)
    assert AuditCheckpoint.objects.latest("id").id == second.id and len(_file_lines()) == 2


def test_checkpoints_record_the_high_water_mark_and_sign_it(anchored):
    first, second = anchored

    assert [(cp.seq, cp.high_water) for cp in AuditCheckpoint.objects.order_by("id")] == [(50, 50), (200, 200)]
    assert [line["high_water"] for line in _file_lines()] == [50, 200]
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditcheckpoint SET high_water = 10 WHERE id = %s", [second.id])

    result = audit_verify()

    assert result.code == "audit.checkpoint_forged" and f"checkpoint #{second.id} in the table" in result.problem


def _v1_signature(seq: int, head_hash: str, event_count: int, created_at, key_id: str) -> str:
    """How checkpoints were signed before they recorded the mark (before migration 0008)."""
    from oms.services.audit_checkpoint import SIGNED_PREFIX_V1, _keys

    message = f"{SIGNED_PREFIX_V1}|{seq}|{head_hash}|{event_count}|{created_at.isoformat()}|{key_id}"
    return hmac.new(_keys()[key_id], message.encode(), hashlib.sha256).hexdigest()


def test_checkpoints_signed_before_the_mark_was_recorded_still_verify(db):
    _append(20)
    cp = audit_checkpoint_write()
    v1 = _v1_signature(cp.seq, cp.head_hash, cp.event_count, cp.created_at, cp.key_id)
    with triggers_bypassed() as cur:  # what 0008 leaves of a checkpoint signed before it: the mark = its head
        cur.execute("UPDATE oms_auditcheckpoint SET signature = %s WHERE id = %s", [v1, cp.id])
    line = {k: v for k, v in cp.as_dict().items() if k != "high_water"} | {"signature": v1}
    checkpoint_file().write_text(json.dumps(line) + "\n")

    assert audit_verify().ok
    with triggers_bypassed() as cur:  # a v1 signature vouches for no mark above the head
        cur.execute("UPDATE oms_auditcheckpoint SET high_water = 25 WHERE id = %s", [cp.id])
    assert audit_verify().code == "audit.checkpoint_forged"


# --- a rewritten tail -------------------------------------------------------------------------------


def test_rewritten_and_rehashed_tail_is_reported(anchored, compliance, api):
    first, second = anchored
    _rewrite_from(150, "nothing happened")

    result = audit_verify()

    assert (result.ok, result.code, result.broken_seq) == (False, "audit.tail_rewritten", 51)
    assert result.last_good_checkpoint == first
    assert result.checked == 200  # the re-hashed chain links perfectly: only the checkpoint tells
    assert _codes(result) == ["audit.tail_rewritten"]
    body = api(compliance).get(VERIFY_URL).json()
    assert (body["code"], body["last_good_checkpoint"]["seq"]) == ("audit.tail_rewritten", 50)


def test_tail_cut_and_rewritten_with_the_high_water_mark_reset_is_reported(anchored):
    first, _ = anchored
    _delete_newest(100)
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditseqhighwater SET seq = 100")
    _append(100, reason="a different story")  # seqs 101..200 again, linked to #100

    result = audit_verify()

    assert _codes(result) == ["audit.tail_rewritten"]
    assert (result.broken_seq, result.last_good_checkpoint) == (51, first)


# --- the checkpoint stores --------------------------------------------------------------------------


def test_edited_checkpoint_row_is_reported_as_forged(anchored):
    _, second = anchored
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditcheckpoint SET seq = 150, event_count = 150 WHERE id = %s", [second.id])

    result = audit_verify()

    assert (result.ok, result.code) == (False, "audit.checkpoint_forged")
    assert f"checkpoint #{second.id} in the table" in result.problem
    assert result.last_good_checkpoint == second  # the file's copy still anchors the head


def test_checkpoint_row_inserted_without_the_key_is_reported_as_forged(anchored):
    _, second = anchored
    AuditCheckpoint.objects.create(seq=200, head_hash=second.head_hash, event_count=200, high_water=200, created_at=second.created_at,
                                   key_id=settings.AUDIT_HMAC_KEY_ID, signature="0" * 64)

    assert audit_verify().code == "audit.checkpoint_forged"


def test_edited_checkpoint_line_in_the_file_is_reported_as_forged(anchored):
    path = checkpoint_file()
    lines = path.read_text().splitlines()
    edited = json.loads(lines[1]) | {"seq": 120, "event_count": 120}
    path.write_text("\n".join([lines[0], json.dumps(edited)]) + "\n")

    result = audit_verify()

    assert result.code == "audit.checkpoint_forged"
    assert "line 2 of the checkpoint file" in result.problem


def test_checkpoint_deleted_from_the_table_but_still_in_the_file_is_reported(anchored):
    first, _ = anchored
    with triggers_bypassed() as cur:
        cur.execute("DELETE FROM oms_auditcheckpoint WHERE id = %s", [first.id])

    result = audit_verify()

    assert (result.ok, result.code, result.broken_seq) == (False, "audit.checkpoint_missing", None)
    assert f"#{first.id}" in result.problem and "gone from the table" in result.problem


def test_checkpoint_removed_from_the_file_but_still_in_the_table_is_reported(anchored):
    _, second = anchored
    path = checkpoint_file()
    path.write_text(path.read_text().splitlines()[0] + "\n")

    result = audit_verify()

    assert result.code == "audit.checkpoint_missing"
    assert f"#{second.id}" in result.problem and "not in the file" in result.problem


def test_lost_checkpoint_file_is_reported(anchored):
    checkpoint_file().unlink()

    result = audit_verify()

    assert result.code == "audit.checkpoint_missing" and "the file is gone" in result.problem


def test_checkpoint_signed_with_another_key_is_reported_as_forged(anchored, settings):
    settings.AUDIT_HMAC_KEY = "a-key-nobody-used-before"

    assert audit_verify().code == "audit.checkpoint_forged"


def test_checkpoints_of_a_rotated_key_verify_while_it_is_listed_as_retired(anchored, settings):
    old_id = settings.AUDIT_HMAC_KEY_ID
    settings.AUDIT_HMAC_RETIRED_KEYS = {old_id: settings.AUDIT_HMAC_KEY or _derived_key()}
    settings.AUDIT_HMAC_KEY, settings.AUDIT_HMAC_KEY_ID = "the-new-key", "k2"
    _append(1)

    result = audit_verify()

    assert result.ok, result.problems
    assert (result.checkpoint_written.key_id, result.checkpoint_written.seq) == ("k2", 201)


def _derived_key() -> str:
    from oms.services.audit_checkpoint import _keys

    return _keys()[settings.AUDIT_HMAC_KEY_ID].decode()


def test_a_failed_file_write_leaves_no_checkpoint_row(db, settings, tmp_path):
    _append(3)
    settings.AUDIT_CHECKPOINT_FILE = tmp_path  # a directory: the append fails

    with pytest.raises(OSError):
        audit_checkpoint_write()

    assert not AuditCheckpoint.objects.exists()


# --- the beat task ----------------------------------------------------------------------------------


def test_checkpoint_task_is_scheduled_every_minute():
    entry = settings.CELERY_BEAT_SCHEDULE["audit-checkpoint-every-minute"]

    assert (entry["task"], entry["schedule"]) == ("oms.tasks.audit_checkpoint_task", 60.0)
    assert audit_checkpoint_task.name == entry["task"]


def test_checkpoint_task_anchors_the_head_only_when_it_moved(db):
    _append(10)

    first = audit_checkpoint_task()
    again = audit_checkpoint_task()
    _append(2)
    moved = audit_checkpoint_task()

    assert first["ok"] and (first["written"]["seq"], first["written"]["event_count"]) == (10, 10)
    assert again == {"ok": True, "written": None}
    assert moved["written"]["seq"] == 12
    assert [(r.seq, r.event_count) for r in AuditCheckpoint.objects.order_by("id")] == [(10, 10), (12, 12)]
    assert [line["seq"] for line in _file_lines()] == [10, 12]
    assert audit_verify().ok


def test_checkpoint_task_does_not_sign_an_altered_event_after_the_latest_checkpoint(anchored):
    _append(5)
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditevent SET reason = 'edited' WHERE seq = 203")

    outcome = audit_checkpoint_task()

    assert (outcome["ok"], outcome["code"], outcome["seq"]) == (False, "audit.event_altered", 203)


# --- seqs are never reused --------------------------------------------------------------------------


def test_seq_high_water_mark_follows_every_write(db):
    _append(3)
    _append(2)

    assert AuditSeqHighWater.objects.get().seq == 5


def test_rolled_back_write_hands_out_its_seqs_again(db):
    _append(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        _append(3)
        raise RuntimeError("the change the events record failed")

    _append(1)

    assert list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3]


@pytest.mark.parametrize("sql", ["UPDATE oms_auditseqhighwater SET seq = 1", "DELETE FROM oms_auditseqhighwater"])
def test_database_refuses_to_lower_or_drop_the_high_water_mark(sql, db):
    _append(5)

    with pytest.raises(DatabaseError, match="Cannot"), transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)

    assert AuditSeqHighWater.objects.get().seq == 5


def test_checkpoint_rows_are_append_only(anchored):
    first, _ = anchored

    with pytest.raises(DatabaseError, match="Cannot update or delete"), transaction.atomic():
        AuditCheckpoint.objects.filter(pk=first.id).delete()


# --- every object has its creation event ------------------------------------------------------------


def test_order_whose_creation_event_was_removed_is_reported_as_an_orphan(pm, submit, compliance, api):
    kept, stripped = submit(pm), submit(pm)
    with triggers_bypassed() as cur:
        cur.execute("DELETE FROM oms_auditevent WHERE object_type = 'order' AND object_id = %s AND event_type = 'order.received'", [str(stripped.id)])

    result = audit_verify()

    assert not result.ok
    assert "audit.orphan_object" in _codes(result)
    assert [o.as_dict() for o in result.orphans] == [{"object_type": "order", "count": 1, "ids": [str(stripped.id)]}]
    body = api(compliance).get(VERIFY_URL).json()
    assert body["orphans"] == [{"object_type": "order", "count": 1, "ids": [str(stripped.id)]}]
    assert str(kept.id) not in body["orphans"][0]["ids"]


def test_order_booked_past_intake_is_reported_as_an_orphan(pm, submit):
    order = submit(pm)
    order.pk, order.client_order_id = None, "SIDE-DOOR"
    order.save()  # no audit event: written straight to the table

    result = audit_verify()

    assert (result.ok, result.code, result.broken_seq) == (False, "audit.orphan_object", None)
    assert f"#{order.pk}" in result.problem
    # Any problem stops the run from signing, even one outside the chain.
    assert result.checkpoint_written is None and "audit.orphan_object" in result.not_signed
    assert not AuditCheckpoint.objects.exists()


def test_orphans_are_counted_beyond_the_listed_ids(pm, submit_many, order_payload):
    orders = submit_many(pm, [order_payload() for _ in range(audit_verification.ORPHAN_ID_CAP + 5)])
    with triggers_bypassed() as cur:
        cur.execute("DELETE FROM oms_auditevent WHERE event_type = 'order.received'")

    (orphans,) = audit_verify().orphans

    assert orphans.count == len(orders)
    assert list(orphans.ids) == [str(o.id) for o in sorted(orders, key=lambda o: o.id)][: audit_verification.ORPHAN_ID_CAP]


def test_other_apps_register_their_objects_for_the_cross_check(pm, portfolio, monkeypatch):
    # How the EMS registers parent orders, child orders and fills from its AppConfig (here: portfolios).
    monkeypatch.setattr(audit_verification, "_CREATION_EVENTS", dict(audit_verification._CREATION_EVENTS))
    audit_verification.register_creation_events(object_type="portfolio", model="oms.Portfolio", event_types=["portfolio.created"])

    result = audit_verify()

    assert [(o.object_type, o.ids) for o in result.orphans] == [("portfolio", (str(portfolio.pk),))]
    with transaction.atomic():
        audit_append([PendingEvent(SYSTEM, "portfolio.created", "portfolio", portfolio.pk)])
    assert audit_verify().ok


# --- how a person sees it ---------------------------------------------------------------------------


def test_command_prints_the_checkpoint_it_wrote(db):
    _append(4)
    out = StringIO()

    call_command("audit_verify", stdout=out)

    cp = AuditCheckpoint.objects.get()
    assert "OK: 4 audit events intact" in out.getvalue()
    assert f"checkpoint #{cp.id} written: event #4" in out.getvalue()


def test_verify_button_shows_the_code_and_the_last_good_checkpoint(anchored, compliance, client):
    first, _ = anchored
    _delete_newest(1)
    client.force_login(compliance)

    html = client.post("/audit/verify/").content.decode()

    assert "BROKEN at event #200" in html
    assert "audit.tail_truncated" in html
    assert f"last good checkpoint #{first.id}: event #50" in html
    assert "not signed: this run found" in html


def test_verify_button_shows_the_anchor_of_an_intact_chain(anchored, compliance, client):
    _, second = anchored
    client.force_login(compliance)

    html = client.post("/audit/verify/").content.decode()

    assert "OK — " in html and f"anchored by checkpoint #{second.id} (event #200" in html


@pytest.mark.django_db(transaction=True)
def test_concurrent_checkpoint_runs_anchor_one_head_once(run_concurrently):
    _append(40)

    outcomes = run_concurrently([audit_checkpoint_task] * 4)

    assert sorted(o["written"] is not None for o in outcomes) == [False, False, False, True]
    assert [(r.seq, r.event_count) for r in AuditCheckpoint.objects.all()] == [(40, 40)]
    assert [line["seq"] for line in _file_lines()] == [40]
    assert audit_verify().ok


# --- the migration that added the mark --------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_migration_fills_the_mark_of_checkpoints_signed_before_it_and_they_still_verify():
    from django.db.migrations.executor import MigrationExecutor

    before = [("oms", "0007_positions")]
    # Back to the latest migrations afterwards (every app's leaf), not only to 0008: later ones exist.
    after = MigrationExecutor(connection).loader.graph.leaf_nodes()
    _append(20)
    MigrationExecutor(connection).migrate(before)
    try:
        head, key_id = AuditEvent.objects.get(seq=20).hash, settings.AUDIT_HMAC_KEY_ID
        created_at = AuditEvent.objects.get(seq=20).ts
        v1 = _v1_signature(20, head, 20, created_at, key_id)
        with connection.cursor() as cur:  # a checkpoint as the code before 0008 wrote it
            cur.execute("INSERT INTO oms_auditcheckpoint (seq, head_hash, event_count, created_at, key_id, signature) "
                        "VALUES (20, %s, 20, %s, %s, %s) RETURNING id", [head, created_at, key_id, v1])
            (cp_id,) = cur.fetchone()
        line = {"id": cp_id, "seq": 20, "head_hash": head, "event_count": 20, "created_at": created_at.isoformat(), "key_id": key_id, "signature": v1}
        checkpoint_file().parent.mkdir(parents=True, exist_ok=True)
        checkpoint_file().write_text(json.dumps(line) + "\n")
    finally:
        MigrationExecutor(connection).migrate(after)

    assert AuditCheckpoint.objects.get().high_water == 20
    result = audit_verify()
    assert (result.ok, result.checkpoints, result.last_good_checkpoint.id) == (True, 1, cp_id)
    with pytest.raises(DatabaseError, match="Cannot update or delete"), transaction.atomic():
        AuditCheckpoint.objects.update(high_water=99)  # the append-only trigger is back
