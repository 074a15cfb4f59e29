"""Signed tree heads (oms.audit_tree_head), the event leaf and the offline verifier (oms.audit_proof).

No database. The command line runs in a subprocess as compliance runs it: ``python -m oms.audit_proof``
from the repository root, with no Django settings in the environment.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from oms.audit_merkle import MemoryTree, consistency_proof, inclusion_proof
from oms.audit_proof import BUNDLE_VERSION, leaf_bytes, leaf_hash, proof_bundle
from oms.audit_tree_head import (
    TreeHead,
    public_key_from_hex,
    public_key_hex,
    timestamp_ms,
    tree_head_message,
    tree_head_problem,
    tree_head_sign,
)

ROOT = Path(__file__).resolve().parents[2]
# RFC 8032 §7.1, test 1: a published Ed25519 key, so the signature below is a fixed answer.
RFC8032_SECRET = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
ROOT_8 = bytes.fromhex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")  # MTH of the CT 8-leaf tree

EVENT = {
    "id": 7, "ts": "2025-03-04T05:06:07.000008Z", "actor": "pm1", "actor_type": "user", "source": "browser",
    "event_type": "order.received", "object_type": "order", "object_id": "42", "before": None,
    "after": {"quantity": 100, "limit_price": "10.50", "note": "café"}, "reason": "",
}


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(RFC8032_SECRET)


def _keys(*keys) -> dict:
    return {key_id: public_key_from_hex(public_key_hex(k)) for key_id, k in keys}


# -- tree heads -------------------------------------------------------------------------------------------


def test_a_tree_head_signs_its_canonical_text_with_a_fixed_answer(key):
    head = tree_head_sign(key, tree_size=8, root_hash=ROOT_8, timestamp=1_700_000_000_123, key_id="oms-2025-01")
    assert head.signed_bytes() == (b"smart-oms/audit-tree-head/v1|8|"
                                   b"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328|1700000000123|oms-2025-01")
    assert head.signature.hex() == ("e7c65c2fc922748fc3ae6beeb04ed9c9928e9b0403c3c5e6a99fd4259df73d1f"
                                    "cbc22d710612dea2825d3b9bec7cfa2d655e8163158c3836c4f6828a5addd90e")
    assert public_key_hex(key) == RFC8032_PUBLIC
    assert tree_head_problem(head, {"oms-2025-01": public_key_from_hex(RFC8032_PUBLIC)}) == ""
    assert TreeHead.from_dict(json.loads(json.dumps(head.as_dict()))) == head


def test_a_changed_tree_head_no_longer_carries_a_valid_signature(key):
    head = tree_head_sign(key, tree_size=8, root_hash=ROOT_8, timestamp=1_700_000_000_123, key_id="k1")
    keys = _keys(("k1", key))
    changed = [
        TreeHead(9, head.root_hash, head.timestamp, "k1", head.signature),
        TreeHead(8, bytes(32), head.timestamp, "k1", head.signature),
        TreeHead(8, head.root_hash, head.timestamp + 1, "k1", head.signature),
        TreeHead(8, head.root_hash, head.timestamp, "k1", bytes([head.signature[0] ^ 1]) + head.signature[1:]),
    ]
    assert all("does not carry a valid signature" in tree_head_problem(c, keys) for c in changed)
    assert "not an Ed25519 signature" in tree_head_problem(TreeHead(8, ROOT_8, 1, "k1", b"short"), keys)


def test_a_tree_head_is_checked_with_the_key_its_id_names(key):
    other = Ed25519PrivateKey.generate()
    head = tree_head_sign(key, tree_size=8, root_hash=ROOT_8, timestamp=1, key_id="retired-2024")
    # Rotation: a head signed with a retired key still checks when that key is given under its id.
    assert tree_head_problem(head, _keys(("current", other), ("retired-2024", key))) == ""
    assert "not among the public keys given (current)" in tree_head_problem(head, _keys(("current", other)))
    assert "valid signature" in tree_head_problem(head, _keys(("retired-2024", other)))


@pytest.mark.parametrize(("field", "value"), [
    ("tree_size", -1), ("tree_size", True), ("root_hash", b"x" * 31), ("timestamp", 1.5), ("key_id", "a|b"), ("key_id", ""),
])
def test_a_tree_head_without_a_canonical_text_is_refused(field, value):
    fields = {"tree_size": 1, "root_hash": ROOT_8, "timestamp": 1, "key_id": "k1", "signature": b""} | {field: value}
    with pytest.raises(ValueError, match=field):
        TreeHead(**fields)


def test_timestamps_are_milliseconds_since_the_epoch():
    when = datetime(2023, 11, 14, 22, 13, 20, 123999, tzinfo=UTC)
    assert timestamp_ms(when) == 1_700_000_000_123
    assert timestamp_ms(when.astimezone(timezone(timedelta(hours=-5)))) == 1_700_000_000_123
    assert tree_head_message(0, bytes(32), 0, "k").startswith(b"smart-oms/audit-tree-head/v1|0|")
    with pytest.raises(ValueError):
        timestamp_ms(datetime(2023, 1, 1))


# -- the leaf ---------------------------------------------------------------------------------------------


def test_an_event_leaf_is_its_canonical_json_with_a_fixed_answer():
    assert leaf_bytes(EVENT) == (
        'smart-oms/audit-event/v1|{"actor":"pm1","actor_type":"user","after":{"limit_price":"10.50","note":"café",'
        '"quantity":100},"before":null,"event_type":"order.received","id":7,"object_id":"42","object_type":"order",'
        '"reason":"","source":"browser","ts":"2025-03-04T05:06:07.000008Z"}'
    ).encode()
    assert leaf_hash(EVENT).hex() == "8eb7f58be0faba53cf692044513daec75c247963746c8b470fdfe9e2bf09c430"
    assert leaf_bytes(dict(reversed(EVENT.items())) | {"seq": 3}) == leaf_bytes(EVENT)  # order and other keys: no matter


def test_an_event_time_is_written_one_way():
    paris = timezone(timedelta(hours=1))
    assert leaf_bytes(EVENT | {"ts": datetime(2025, 3, 4, 6, 6, 7, 8, tzinfo=paris)}) == leaf_bytes(EVENT)
    assert b'"ts":"2025-03-04T05:06:07.000000Z"' in leaf_bytes(EVENT | {"ts": datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)})


@pytest.mark.parametrize(("change", "message"), [
    ({"ts": "2025-03-04T05:06:07+00:00"}, "ts must read"), ({"ts": datetime(2025, 3, 4)}, "aware"),
    ({"id": "7"}, "id must be an integer"), ({"id": True}, "id must be an integer"),
    ({"object_id": 42}, "object_id must be"), ({"after": float("nan")}, "JSON compliant"),
])
def test_an_event_that_has_no_canonical_bytes_is_refused(change, message):
    with pytest.raises(ValueError, match=message):
        leaf_bytes(EVENT | change)
    with pytest.raises(ValueError, match="lacks reason"):
        leaf_bytes({k: v for k, v in EVENT.items() if k != "reason"})


# -- the offline verifier, in a subprocess ----------------------------------------------------------------


def _events(n: int) -> list[dict]:
    return [EVENT | {"id": i, "object_id": str(i), "after": {"quantity": i}} for i in range(1, n + 1)]


@pytest.fixture(scope="module")
def bundle(key) -> dict:
    """Event 41 of a 100-event log, signed at 100 and at 60 (with the consistency proof between them)."""
    events, tree = _events(100), MemoryTree()
    tree.append(leaf_hash(e) for e in events[:60])
    old = tree_head_sign(key, tree_size=60, root_hash=tree.root, timestamp=1_700_000_000_000, key_id="k1")
    tree.append(leaf_hash(e) for e in events[60:])
    head = tree_head_sign(key, tree_size=100, root_hash=tree.root, timestamp=1_700_000_060_000, key_id="k1")
    return proof_bundle(event=events[41], leaf_index=41, tree_head=head, inclusion=inclusion_proof(41, 100, tree.node),
                        public_keys={"k1": public_key_hex(key)}, from_head=old, consistency=consistency_proof(60, 100, tree.node))


def _run(tmp_path, content, *args) -> subprocess.CompletedProcess:
    path = tmp_path / "bundle.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(json.dumps(content) if not isinstance(content, str) else content, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run([sys.executable, "-m", "oms.audit_proof", "verify", str(path), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def _tampered(bundle: dict, change) -> dict:
    copied = copy.deepcopy(bundle)
    change(copied)
    return copied


def _flip_hex(value: str) -> str:
    return ("1" if value[0] == "0" else "0") + value[1:]


def test_a_good_bundle_passes_every_check(tmp_path, bundle):
    run = _run(tmp_path, bundle)
    assert run.returncode == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    for check in ("leaf hash", "head signature", "inclusion", "from-head signature", "consistency"):
        assert any(line.strip().startswith(f"OK      {check}:") for line in lines), check
    assert lines[-1] == "OK: all 5 checks hold"
    assert "compare it with the log's published key" in run.stdout  # keys from the bundle itself are flagged


def test_a_good_bundle_passes_with_the_trusted_key_and_without_a_consistency_part(tmp_path, bundle):
    run = _run(tmp_path, _tampered(bundle, lambda b: b.pop("consistency")), "--key", f"k1={RFC8032_PUBLIC}")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == "OK: all 3 checks hold"
    assert "published key" not in run.stdout


@pytest.mark.parametrize(("case", "change", "failed"), [
    ("altered event", lambda b: b["event"]["after"].update(quantity=43), "inclusion"),
    ("event moved", lambda b: b.update(leaf_index=40), "inclusion"),
    ("altered audit path", lambda b: b["inclusion"].__setitem__(2, _flip_hex(b["inclusion"][2])), "inclusion"),
    ("shortened audit path", lambda b: b["inclusion"].pop(), "inclusion"),
    ("field the leaf does not cover", lambda b: b["event"].update(label="Order received"), "leaf hash, inclusion"),
    ("forged signature", lambda b: b["tree_head"].update(signature=_flip_hex(b["tree_head"]["signature"])), "head signature"),
    ("unknown key id", lambda b: b.update(public_keys={"k2": RFC8032_PUBLIC}), "head signature, from-head signature"),
    ("re-rooted head", lambda b: b["tree_head"].update(root_hash=_flip_hex(b["tree_head"]["root_hash"])), "head signature, inclusion, consistency"),
    ("altered consistency proof", lambda b: b["consistency"]["proof"].__setitem__(0, _flip_hex(b["consistency"]["proof"][0])), "consistency"),
    ("forged older head", lambda b: b["consistency"]["from_head"].update(tree_size=61), "from-head signature, consistency"),
])
def test_a_tampered_bundle_fails_the_named_check(tmp_path, bundle, case, change, failed):
    run = _run(tmp_path, _tampered(bundle, change))
    assert run.returncode == 1, run.stdout + run.stderr
    assert run.stdout.splitlines()[-1] == f"FAILED: {failed}"
    for name in failed.split(", "):
        assert f"FAILED  {name}:" in run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_a_key_given_on_the_command_line_replaces_the_bundles(tmp_path, bundle):
    forger = Ed25519PrivateKey.generate()
    run = _run(tmp_path, bundle, "--key", f"k1={public_key_hex(forger)}")
    assert run.returncode == 1
    assert run.stdout.splitlines()[-1] == "FAILED: head signature, from-head signature"
    run = _run(tmp_path, bundle, "--key", f"k9={public_key_hex(forger)}")
    assert "not among the public keys given (k9)" in run.stdout


@pytest.mark.parametrize(("content", "message"), [
    ("garbage\n", "is not JSON"),
    (b"\xff\xfe\x00garbage", "is not JSON"),
    ("[" * 100_000, "nests too deeply"),
    ("[1, 2]", "a proof bundle is a JSON object"),
    ({"version": "smart-oms/audit-proof/v0"}, "is not 'smart-oms/audit-proof/v1'"),
    ({"version": BUNDLE_VERSION, "event": {}}, "lacks leaf_index, tree_head, inclusion"),
])
def test_a_file_that_is_not_a_bundle_exits_2_with_a_sentence(tmp_path, content, message):
    run = _run(tmp_path, content)
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and message in run.stderr
    assert "Traceback" not in run.stderr and run.stdout == ""


@pytest.mark.parametrize(("change", "message"), [
    (lambda b: b["inclusion"].__setitem__(0, "zz"), "inclusion holds a value that is not hex"),
    (lambda b: b.update(leaf_index=-1), "leaf_index must be an integer >= 0"),
    (lambda b: b["tree_head"].pop("signature"), "tree_head: a tree head lacks signature"),
    (lambda b: b.update(public_keys={"k1": "abcd"}), "public keys: an Ed25519 public key is 32 bytes"),
])
def test_a_malformed_bundle_exits_2_with_a_sentence(tmp_path, bundle, change, message):
    run = _run(tmp_path, _tampered(bundle, change))
    assert (run.returncode, run.stdout) == (2, "")
    assert message in run.stderr and "Traceback" not in run.stderr


def test_a_missing_file_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    run = subprocess.run([sys.executable, "-m", "oms.audit_proof", "verify", str(tmp_path / "none.json")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "error: cannot open" in run.stderr and "Traceback" not in run.stderr


def test_the_verifier_loads_no_django():
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    code = "import sys, oms.audit_proof; print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'ems', 'rfq', 'tca'}))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert (run.returncode, run.stdout.strip()) == (0, "[]"), run.stderr
