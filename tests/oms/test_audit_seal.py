"""The sealer links committed audit events into the Merkle tree and signs a head per seal; verification checks the
tree against the events and the heads; compliance downloads proofs that verify offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.db import connection, connections, transaction

from oms.audit_merkle import hash_leaf, mth
from oms.audit_proof import leaf_bytes
from oms.audit_signing import public_keys
from oms.audit_tree import EVENT_LEAF_COLUMNS, latest_head
from oms.audit_tree_head import tree_head_problem
from oms.models import AuditEvent, AuditLeaf, AuditTreeHead, AuditTreeNode
from oms.roles import Actor
from oms.services import audit_seal as seal_module
from oms.services import audit_verify
from oms.services.audit import PendingEvent, audit_append
from oms.services.audit_seal import AuditTreeBroken, audit_seal, audit_seal_run
from oms.tasks import audit_seal_task
from tests.oms.audit_helpers import chain_append, triggers_bypassed
from tests.servers import database_url, wait_for

ROOT = Path(__file__).resolve().parents[2]
SYSTEM = Actor.system("test")
VERIFY_URL = "/api/audit/verify/"
HEADS_URL = "/api/audit/tree-heads/"


def _append(n: int, reason: str = "probe") -> None:
    with transaction.atomic():
        audit_append([PendingEvent(SYSTEM, "probe.noted", "probe", i, after={"i": i, "px": 1.25}, reason=reason) for i in range(n)])


def _leaf_hashes() -> list[bytes]:
    rows = AuditEvent.objects.order_by("seq").values_list(*EVENT_LEAF_COLUMNS)
    return [hash_leaf(leaf_bytes(dict(zip(EVENT_LEAF_COLUMNS, row, strict=True)))) for row in rows]


def _proof_url(event_id, **params) -> str:
    return f"/api/audit/{event_id}/proof/" + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")


def _codes(result) -> set[str]:
    return {p.code for p in result.problems}


def _verify_cli(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "oms.audit_proof", "verify", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=60)


# --- sealing ------------------------------------------------------------------------------------------------


def test_sealing_in_batches_gives_the_root_of_all_the_leaves(db):
    _append(45)
    batches = [audit_seal(max_events=n).sealed for n in (1, 7, 16, 3)]
    _append(30)
    batches.append(audit_seal().sealed)

    assert batches == [1, 7, 16, 3, 48]
    head = latest_head()
    assert (head.tree_size, head.root_hash) == (75, mth(_leaf_hashes()))
    assert list(AuditLeaf.objects.order_by("leaf_index").values_list("event__seq", flat=True)) == list(range(1, 76))
    assert AuditTreeNode.objects.count() == 2 * 75 - bin(75).count("1")  # every perfect subtree, once
    assert list(AuditTreeHead.objects.order_by("tree_size").values_list("tree_size", "prev_size")) == [
        (1, 0), (8, 1), (24, 8), (27, 24), (75, 27)]
    assert tree_head_problem(head, public_keys()) == ""
    assert audit_seal().status == "idle"
    result = audit_verify()
    assert (result.ok, result.tree_size, result.tree_heads, result.unsealed) == (True, 75, 5, 0)


def test_seal_task_seals_everything_pending_and_is_on_the_beat_schedule(db, settings):
    _append(12)
    settings.AUDIT_SEAL_BATCH = 5

    out = audit_seal_task()

    assert (out["ok"], out["sealed"], out["head"]["tree_size"]) == (True, 12, 12)
    entry = settings.CELERY_BEAT_SCHEDULE["audit-seal"]
    assert (entry["task"], entry["schedule"]) == ("oms.tasks.audit_seal_task", settings.AUDIT_SEAL_EVERY_S)


def test_sealer_refuses_to_extend_a_tree_whose_frontier_was_altered(db):
    _append(6)
    audit_seal()
    _append(2)
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_audittreenode SET hash = sha256('x') WHERE level = 1 AND index = 2")

    with pytest.raises(AuditTreeBroken):
        audit_seal()
    assert audit_seal_task()["ok"] is False
    assert AuditLeaf.objects.count() == 6


def test_tree_tables_are_append_only(db):
    _append(3)
    audit_seal()
    for sql in ("UPDATE oms_audittreenode SET hash = sha256('x')", "DELETE FROM oms_auditleaf",
                "UPDATE oms_audittreehead SET tree_size = 9", "DELETE FROM oms_audittreehead"):
        with pytest.raises(Exception, match="Cannot update or delete"), transaction.atomic(), connection.cursor() as cur:
            cur.execute(sql)
    assert (AuditLeaf.objects.count(), AuditTreeHead.objects.count()) == (3, 1)


# --- a sealer that dies, two sealers at once ------------------------------------------------------------------


def test_a_seal_killed_after_writing_its_nodes_leaves_nothing_and_the_next_seals_everything_once(db, monkeypatch):
    _append(10)
    audit_seal(max_events=4)
    _append(10)

    def die(stage):
        raise RuntimeError(f"sealer killed: {stage}")

    monkeypatch.setattr(seal_module, "_fault_point", die)
    with pytest.raises(RuntimeError, match="nodes written"):
        audit_seal()
    assert (AuditLeaf.objects.count(), AuditTreeNode.objects.count(), AuditTreeHead.objects.count()) == (4, 7, 1)

    monkeypatch.undo()
    assert audit_seal().sealed == 16
    assert latest_head().root_hash == mth(_leaf_hashes())
    assert AuditLeaf.objects.values("event").distinct().count() == AuditLeaf.objects.count() == 20
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_a_sealer_process_killed_while_holding_its_transaction_loses_nothing():
    _append(50)
    # A second connection plays the sealer that dies: it takes the seal lock and writes a leaf, never commits.
    victim = connections.create_connection("default")
    try:
        with victim.cursor() as cur:
            cur.execute("BEGIN")
            cur.execute("SELECT pg_try_advisory_xact_lock(%s)", [seal_module.SEAL_LOCK])
            assert cur.fetchone()[0]
            cur.execute("INSERT INTO oms_auditleaf (leaf_index, event_id) VALUES (0, %s)", [AuditEvent.objects.order_by("seq")[0].id])
            assert audit_seal().status == "busy"  # the other one holds the lock: no waiting
    finally:
        victim.close()  # the process dies: PostgreSQL rolls its transaction back and frees its lock

    # The server ends the dead session a moment after its socket closes; the next beat run finds the lock free.
    runs = []
    assert wait_for(lambda: runs.append(audit_seal()) or runs[-1].status != "busy", 10)
    assert (runs[-1].status, runs[-1].sealed) == ("sealed", 50)
    assert latest_head().root_hash == mth(_leaf_hashes())
    assert audit_verify().ok


@pytest.mark.django_db(transaction=True)
def test_two_sealers_started_at_once_one_seals_and_nothing_is_sealed_twice(run_concurrently):
    _append(3000)

    results = run_concurrently([lambda: audit_seal(max_events=5000), lambda: audit_seal(max_events=5000)])

    statuses = sorted(r.status for r in results)
    assert statuses in (["busy", "sealed"], ["idle", "sealed"]), statuses
    assert sum(r.sealed for r in results) == 3000
    assert AuditTreeHead.objects.count() == 1
    assert latest_head().root_hash == mth(_leaf_hashes())


def _sealer_lock_holders() -> list[str]:
    """The application names of the sessions holding the sealer's lock (an advisory lock on a bigint key is
    shown as classid = its high 32 bits, objid = its low 32 bits)."""
    with connection.cursor() as cur:
        cur.execute("""SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s AND l.objsubid = 1
                       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())""",
                    [seal_module.SEAL_LOCK >> 32, seal_module.SEAL_LOCK & 0xFFFFFFFF])
        return [r[0] for r in cur.fetchall()]


def _run_in_thread(fn, out: list) -> threading.Thread:
    def target():
        try:
            out.append(fn())
        except Exception as exc:  # pragma: no cover - reported by the test
            out.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


@pytest.mark.django_db(transaction=True)
def test_a_polling_run_seals_what_is_written_while_it_runs_and_holds_the_lock_meanwhile():
    _append(5)
    out = []
    run = _run_in_thread(lambda: audit_seal_run(budget_s=3, poll_s=0.05), out)
    try:
        assert wait_for(lambda: AuditLeaf.objects.count() == 5, 10)
        # The run holds the sealer's lock between its seals: a second run, a single seal and beat's task stand aside.
        assert [r.status for r in audit_seal_run(budget_s=1, poll_s=0.05)] == ["busy"]
        assert audit_seal().status == "busy"
        assert audit_seal_task()["status"] == "busy"
        for n in (3, 4):
            _append(n)
            assert wait_for(lambda n=n: not AuditEvent.objects.filter(seq__isnull=True).exists(), 10), "not sealed within the run"
    finally:
        run.join()

    results = out[0]
    assert [r.sealed for r in results if r.status == "sealed"] == [5, 3, 4]
    assert list(AuditLeaf.objects.order_by("leaf_index").values_list("event__seq", flat=True)) == list(range(1, 13))
    assert _sealer_lock_holders() == []  # released at the end of the run
    assert audit_seal_run(poll_s=0)[-1].status == "idle"  # the next run takes the lock
    assert audit_verify().ok


def _sealer_process(name: str, log: Path):
    env = {**os.environ, "DATABASE_URL": database_url(connection.settings_dict), "PGAPPNAME": name,
           "AUDIT_SEAL_EVERY_S": "0.5", "AUDIT_SEAL_POLL_S": "0.05", "LOG_CONSOLE_LEVEL": "INFO"}
    return subprocess.Popen([sys.executable, "manage.py", "audit_sealer"], cwd=ROOT, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)


@pytest.mark.django_db(transaction=True)
def test_two_sealer_processes_one_seals_the_other_takes_over_when_it_is_killed_and_a_lost_connection_is_survived(tmp_path):
    def all_sealed(n):
        return lambda: AuditLeaf.objects.count() == n and not AuditEvent.objects.filter(seq__isnull=True).exists()

    _append(20)
    procs = {name: _sealer_process(name, tmp_path / f"{name}.log") for name in ("sealer-a", "sealer-b")}
    logs = lambda: "\n".join(f"{n}: {(tmp_path / f'{n}.log').read_text()[-2000:]}" for n in procs)  # noqa: E731
    try:
        assert wait_for(all_sealed(20), 30), logs()
        leader = wait_for(lambda: _sealer_lock_holders(), 10)
        assert len(leader) == 1, leader  # one sealer; the other stands by
        _append(15)
        assert wait_for(all_sealed(35), 10), logs()

        procs[leader[0]].kill()  # dies mid-run, holding the lock: its session ends, the lock goes with it
        procs[leader[0]].wait()
        _append(25)
        assert wait_for(all_sealed(60), 30), logs()
        survivor = next(n for n in procs if n != leader[0])
        assert wait_for(lambda: _sealer_lock_holders() == [survivor], 10)

        with connection.cursor() as cur:  # the database drops the survivor's connection: it reconnects and goes on
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", [survivor])
        _append(10)
        assert wait_for(all_sealed(70), 30), logs()
        assert procs[survivor].poll() is None and "database error" in (tmp_path / f"{survivor}.log").read_text(), logs()

        procs[survivor].terminate()  # SIGTERM: finishes the seal under way and exits
        assert procs[survivor].wait(timeout=15) == 0, logs()
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    assert wait_for(lambda: _sealer_lock_holders() == [], 10)
    assert list(AuditLeaf.objects.order_by("leaf_index").values_list("event__seq", flat=True)) == list(range(1, 71))
    assert AuditLeaf.objects.values("event").distinct().count() == 70
    assert latest_head().root_hash == mth(_leaf_hashes())
    assert audit_verify().ok


def _sealing(stop: threading.Event, errors: list, batch: int) -> None:
    """A sealer thread: seal ``batch`` at a time until ``stop`` (on its own connection)."""
    try:
        while not stop.is_set():
            audit_seal(max_events=batch)
    except Exception as exc:  # pragma: no cover - reported by the test
        errors.append(exc)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_many_sealers_racing_with_writers_seal_every_event_once_in_order():
    stop = threading.Event()
    errors = []

    def writer():
        try:
            for _ in range(40):
                _append(5)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=writer) for _ in range(2)]
    sealers = [threading.Thread(target=_sealing, args=(stop, errors, 17)) for _ in range(2)]
    for t in writers + sealers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in sealers:
        t.join()
    audit_seal_run(budget_s=30)

    assert not errors, errors
    assert list(AuditLeaf.objects.order_by("leaf_index").values_list("event__seq", flat=True)) == list(range(1, 401))
    assert latest_head().root_hash == mth(_leaf_hashes())
    assert audit_verify().ok


# --- verification: tampering with the tree, and the bound ---------------------------------------------------


@pytest.fixture
def sealed(db):
    """40 events sealed in three seals (heads of 10, 25 and 40 leaves)."""
    for n in (10, 15, 15):
        _append(n)
        audit_seal()
    assert audit_verify(write_checkpoint=False).ok  # no checkpoint: the tree alone must show what follows
    return AuditEvent.objects.order_by("seq")


def test_an_event_edited_after_it_was_sealed_is_reported(sealed, compliance, api):
    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditevent SET reason = 'nothing to see' WHERE seq = 12")

    result = audit_verify()

    assert not result.ok and _codes(result) == {"audit.leaf_altered"}  # no chain after the switch: the leaf sees it
    leaf = next(p for p in result.problems if p.code == "audit.leaf_altered")
    assert leaf.seq == 12 and "leaf 11" in leaf.detail
    assert result.checkpoint_written is None
    body = api(compliance).get(VERIFY_URL).json()
    assert "audit.leaf_altered" in {p["code"] for p in body["problems"]}


def test_an_event_edited_and_rehashed_in_the_chain_is_still_caught_by_its_leaf(db):
    from oms.services.audit import event_digest

    with transaction.atomic():
        chain_append([PendingEvent(SYSTEM, "probe.noted", "probe", i, after={"i": i}) for i in range(5)])  # before the switch
    audit_seal()
    last = AuditEvent.objects.order_by("seq").last()
    forged = event_digest(last.prev_hash, seq=last.seq, ts=last.ts, actor=last.actor, actor_type=last.actor_type, source=last.source,
                          event_type=last.event_type, object_type=last.object_type, object_id=last.object_id, before=last.before,
                          after=last.after, reason="forged")
    with triggers_bypassed() as cur:  # the newest event: no later link shows it
        cur.execute("UPDATE oms_auditevent SET reason = 'forged', hash = %s WHERE seq = %s", [forged, last.seq])

    result = audit_verify()

    assert _codes(result) == {"audit.leaf_altered"} and result.broken_seq == last.seq  # the chain alone sees nothing


@pytest.mark.parametrize(("sql", "code"), [
    ("DELETE FROM oms_audittreenode WHERE level = 0 AND index = 17", "audit.tree_node_missing"),
    ("DELETE FROM oms_audittreenode WHERE level = 2 AND index = 3", "audit.tree_node_missing"),
    ("UPDATE oms_audittreenode SET hash = sha256('x') WHERE level = 3 AND index = 1", "audit.tree_node_altered"),
    ("DELETE FROM oms_auditleaf WHERE leaf_index = 5", "audit.leaf_missing"),
    ("DELETE FROM oms_auditevent WHERE seq = 7", "audit.leaf_event_missing"),
    ("DELETE FROM oms_audittreehead WHERE tree_size = 25", "audit.tree_head_missing"),
    ("DELETE FROM oms_audittreehead WHERE tree_size = 40", "audit.tree_head_missing"),
    ("UPDATE oms_audittreehead SET root_hash = sha256('x') WHERE tree_size = 25", "audit.tree_head_mismatch"),
    ("UPDATE oms_audittreehead SET timestamp = timestamp + 1 WHERE tree_size = 10", "audit.tree_head_forged"),
], ids=["leaf-node-deleted", "interior-node-deleted", "interior-node-altered", "leaf-row-deleted", "sealed-event-deleted",
        "middle-head-deleted", "newest-head-deleted", "head-root-altered", "head-timestamp-altered"])
def test_tampering_with_the_tree_is_reported(sql, code, sealed, compliance, api):
    with triggers_bypassed() as cur:
        cur.execute(sql)

    result = audit_verify()

    assert not result.ok and code in _codes(result), result.problems
    assert result.checkpoint_written is None
    body = api(compliance).get(VERIFY_URL).json()
    assert body["ok"] is False and code in {p["code"] for p in body["problems"]}


def test_a_head_signed_with_an_unknown_key_is_reported_and_a_retired_key_still_verifies(sealed, settings):
    from oms.audit_signing import public_keys_hex

    old = public_keys_hex()
    settings.AUDIT_SIGNING_KEY, settings.AUDIT_SIGNING_KEY_ID = "11" * 32, "ed2"

    assert "audit.tree_head_forged" in _codes(audit_verify(write_checkpoint=False))

    settings.AUDIT_SIGNING_RETIRED_KEYS = old  # rotated: the old public key stays listed
    _append(3)
    assert audit_seal().head.key_id == "ed2"
    result = audit_verify(write_checkpoint=False)
    assert result.ok and result.tree_heads == 4


def test_an_event_left_unsealed_past_the_bound_is_reported(sealed, settings):
    _append(2)
    settings.AUDIT_SEAL_BOUND_S = 5.0
    assert audit_verify(write_checkpoint=False).ok  # just written: within the bound

    with triggers_bypassed() as cur:
        cur.execute("UPDATE oms_auditevent SET ts = ts - interval '6 seconds' WHERE seq IS NULL")
    result = audit_verify(write_checkpoint=False)

    assert "audit.event_unsealed" in _codes(result) and result.unsealed == 2
    problem = next(p for p in result.problems if p.code == "audit.event_unsealed")
    first = AuditEvent.objects.filter(seq__isnull=True).order_by("id").first()
    assert problem.seq is None and f"the first id {first.id} " in problem.detail and "2 event(s)" in problem.detail and "5 s" in problem.detail


def test_the_verify_answer_reports_the_tree(sealed, compliance, api):
    body = api(compliance).get(VERIFY_URL).json()

    assert (body["ok"], body["tree_size"], body["tree_heads"], body["unsealed"]) == (True, 40, 3, 0)
    assert body["latest_head"]["tree_size"] == 40


# --- proofs: the API and the offline verifier ---------------------------------------------------------------


def test_a_downloaded_proof_verifies_offline_and_a_tampered_one_fails(sealed, compliance, api, tmp_path):
    event = sealed[13]
    response = api(compliance).get(_proof_url(event.id, from_size=10))

    assert response.status_code == 200, response.json()
    assert response["Content-Disposition"] == f'attachment; filename="audit-proof-{event.id}-40.json"'
    bundle = response.json()
    assert (bundle["leaf_index"], bundle["tree_head"]["tree_size"], bundle["consistency"]["from_head"]["tree_size"]) == (13, 40, 10)
    assert bundle["event"]["id"] == event.id and bundle["event"]["reason"] == event.reason
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(bundle))
    ok = _verify_cli(path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "OK: all 5 checks hold" in ok.stdout

    bundle["event"]["reason"] = "something else"
    path.write_text(json.dumps(bundle))
    tampered = _verify_cli(path)
    assert tampered.returncode == 1 and "FAILED: leaf hash" not in tampered.stdout and "inclusion" in tampered.stdout.splitlines()[-1]


def test_a_proof_without_from_size_has_no_consistency_part(sealed, compliance, api, tmp_path):
    bundle = api(compliance).get(_proof_url(sealed[39].id)).json()

    assert "consistency" not in bundle and bundle["leaf_index"] == 39
    path = tmp_path / "p.json"
    path.write_text(json.dumps(bundle))
    assert _verify_cli(path).returncode == 0


def test_proof_of_an_unknown_event_is_404_and_of_an_unsealed_one_409(sealed, compliance, api):
    client = api(compliance)
    _append(1)
    unsealed = AuditEvent.objects.order_by("-seq").first()

    missing = client.get(_proof_url(987654321))
    pending = client.get(_proof_url(unsealed.id))

    assert (missing.status_code, missing.json()["code"]) == (404, "audit.event_not_found")
    assert (pending.status_code, pending.json()["code"]) == (409, "audit.not_sealed")
    assert "retry within" in pending.json()["detail"]


@pytest.mark.parametrize("from_size", ["abc", "-1", "1.5", "", "%00", "0", "11", "41", "9" * 40, "[]"])
def test_a_bad_from_size_is_a_400_naming_the_field(from_size, sealed, compliance, api):
    response = api(compliance).get(_proof_url(sealed[0].id, from_size=from_size))

    assert response.status_code == 400, response.content
    assert (response.json()["code"], response.json()["field"]) == ("validation_error", "from_size")


@pytest.mark.parametrize("path", ["abc", "1.5", "-3", "9" * 30, "%00"])
def test_a_bad_event_id_is_a_json_404(path, sealed, compliance, api):
    response = api(compliance).get(f"/api/audit/{path}/proof/")

    assert response.status_code == 404 and response.json()["code"] in ("not_found", "audit.event_not_found")


def test_a_proof_whose_subtree_is_gone_is_a_409_not_a_500(sealed, compliance, api):
    with triggers_bypassed() as cur:
        cur.execute("DELETE FROM oms_audittreenode WHERE level = 3 AND index = 1")

    response = api(compliance).get(_proof_url(sealed[2].id))

    assert (response.status_code, response.json()["code"]) == (409, "audit.proof_unavailable")


def test_tree_heads_are_listed_newest_first_with_the_public_keys(sealed, compliance, api):
    body = api(compliance).get(HEADS_URL, {"page_size": 2}).json()

    assert body["count"] == 3 and [h["tree_size"] for h in body["results"]] == [40, 25]
    assert set(body["results"][0]) == {"tree_size", "root_hash", "timestamp", "time", "key_id", "signature"}
    assert body["public_keys"] == {"dev": public_keys()["dev"].public_bytes_raw().hex()}


@pytest.mark.parametrize("url", [HEADS_URL, "/api/audit/{id}/proof/"])
def test_proofs_and_heads_are_for_compliance_only(url, sealed, pm, trader, compliance, api):
    url = url.format(id=sealed[0].id)

    assert api(pm).get(url).status_code == 403
    assert api(pm).get(url).json()["code"] == "permission.compliance_only"
    assert api(trader).get(url).status_code == 403
    assert api(compliance).get(url).status_code == 200


def test_tree_heads_reject_a_bad_page(sealed, compliance, api):
    response = api(compliance).get(HEADS_URL, {"page_size": "0"})

    assert (response.status_code, response.json()["field"]) == (400, "page_size")


# --- the audit page ---------------------------------------------------------------------------------------------


def test_audit_page_shows_the_latest_head_and_a_proof_link_per_sealed_event(sealed, compliance, client):
    _append(1)
    client.force_login(compliance)

    html = client.get("/audit/").content.decode()

    head = latest_head()
    assert 'id="tree-head"' in html and ">40</strong> events sealed" in html and head.root_hash.hex()[:16] in html
    assert html.count('class="proof-link"') == 40
    assert html.count('title="Not sealed in the tree yet"') == AuditEvent.objects.count() - 40 > 0  # the new event (and the sign-in's)
    assert f'href="/api/audit/{sealed[0].id}/proof/" download' in html


def test_verify_button_reports_the_tree(sealed, compliance, client):
    _append(2)
    client.force_login(compliance)

    html = client.post("/audit/verify/").content.decode()

    assert "OK — " in html and "Merkle tree: 40 events sealed under 3 signed heads" in html and "awaiting the sealer" in html


# --- writers without a lock: the sealer takes what it sees committed -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_with_a_sealer_running_every_committed_event_sealed_once_none_rolled_back():
    stop, errors, committed, rolled_back = threading.Event(), [], [], []

    def writer(k):
        try:
            for n in range(60):
                try:
                    with transaction.atomic():
                        rows = audit_append([PendingEvent(SYSTEM, "probe.noted", "probe", f"{k}-{n}", after={"k": k, "n": n})])
                        if n % 7 == 3:
                            raise RuntimeError("the change failed")  # its event goes with it
                    committed.extend(r["id"] for r in rows)
                except RuntimeError:
                    rolled_back.extend(r["id"] for r in rows)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    writers = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    seal_thread = threading.Thread(target=_sealing, args=(stop, errors, 13))
    for t in [seal_thread, *writers]:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    seal_thread.join()
    audit_seal_run(budget_s=30)

    assert not errors, errors
    sealed_ids = list(AuditLeaf.objects.order_by("leaf_index").values_list("event_id", flat=True))
    assert sorted(sealed_ids) == sorted(committed) and len(set(sealed_ids)) == len(committed) == 4 * 60 - 4 * 9
    assert not set(rolled_back) & set(sealed_ids) and not AuditEvent.objects.filter(pk__in=rolled_back).exists()
    assert list(AuditLeaf.objects.order_by("leaf_index").values_list("event__seq", flat=True)) == list(range(1, len(committed) + 1))
    assert latest_head().root_hash == mth(_leaf_hashes())
    result = audit_verify(write_checkpoint=False)
    assert result.ok and (result.tree_size, result.unsealed) == (len(committed), 0)


@pytest.mark.django_db(transaction=True)
def test_a_transaction_held_open_across_seals_is_sealed_after_it_commits():
    written, release, errors = threading.Event(), threading.Event(), []
    held = []

    def slow_writer():
        try:
            with transaction.atomic():
                held.extend(r["id"] for r in audit_append([PendingEvent(SYSTEM, "probe.noted", "probe", "slow")]))
                written.set()
                release.wait(30)
        except Exception as exc:  # pragma: no cover
            errors.append(exc)
        finally:
            connection.close()

    t = threading.Thread(target=slow_writer)
    t.start()
    assert written.wait(30)
    for _ in range(3):  # events written after it, committed before it, sealed meanwhile: the slow one is invisible
        _append(2)
        assert audit_seal().sealed == 2
    assert not AuditLeaf.objects.filter(event_id=held[0]).exists()
    release.set()
    t.join()

    result = audit_seal()

    assert not errors, errors
    assert (result.sealed, AuditEvent.objects.get(pk=held[0]).seq) == (1, 7)  # after the six it committed behind
    assert audit_verify(write_checkpoint=False).ok


@pytest.mark.django_db(transaction=True)
def test_chained_events_left_unsealed_at_the_switch_are_sealed_first_in_chain_order():
    with transaction.atomic():
        chain_append([PendingEvent(SYSTEM, "probe.noted", "probe", i) for i in range(3)])  # written before the switch
    _append(2)  # after it

    audit_seal()

    leaves = AuditLeaf.objects.order_by("leaf_index").values_list("event__seq", "event__hash")
    assert [(seq, digest is not None) for seq, digest in leaves] == [(1, True), (2, True), (3, True), (4, False), (5, False)]
    result = audit_verify()
    assert result.ok and result.checked == 3 and result.checkpoint_written.seq == 3  # the HMAC checkpoints anchor the chain only
