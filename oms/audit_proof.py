"""Offline proof that an audit event is in the log: the bundle compliance downloads, and its verifier.

Run ``python -m oms.audit_proof verify BUNDLE.json [--key KEY_ID=HEX ...]`` from the repository root: it
needs the standard library and the ``cryptography`` package, no database, no Django and no settings.

The leaf. Each event of the audit log is one leaf of the Merkle tree (``oms.audit_merkle``); the leaf's
data is the event's canonical bytes (:func:`leaf_bytes`)::

    smart-oms/audit-event/v1|<canonical JSON of the event's LEAF_FIELDS>

Canonical JSON: an object with exactly the keys of ``LEAF_FIELDS``, keys sorted, no spaces, UTF-8 (not
``\\u`` escapes), no NaN or infinity. The fields and their types:

======================  =====================================================================
``id``                  the event's id (integer, unique in the log)
``ts``                  when it was written: ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, UTC, always 6
                        fraction digits (:func:`canonical_ts`)
``actor``               who: user name, API client or system task (string)
``actor_type``          ``user`` | ``api_client`` | ``system``
``source``              where from (string, may be empty)
``event_type``          the catalogue's event type, e.g. ``order.received``
``object_type``         e.g. ``order``
``object_id``           the object's id, as a string
``before``, ``after``   any JSON value (null when absent), as the database returns it
``reason``              string, may be empty
======================  =====================================================================

The bundle (JSON, ``BUNDLE_VERSION``), as :func:`proof_bundle` writes it::

    {"version": "smart-oms/audit-proof/v1",
     "event": {LEAF_FIELDS...},
     "leaf_index": 41,                                   # the event's place in the log, from 0
     "tree_head": {"tree_size", "root_hash", "timestamp", "key_id", "signature"},   # oms.audit_tree_head
     "inclusion": ["<hex>", ...],                        # RFC 9162 §2.1.3 audit path, leaf level first
     "public_keys": {"<key_id>": "<32-byte Ed25519 public key, hex>"},
     "consistency": {"from_head": {...}, "proof": ["<hex>", ...]}}   # optional, RFC 9162 §2.1.4

The verifier checks, and prints one line per check: the leaf hash recomputed from the event; the tree
head's signature; the inclusion of that leaf at ``leaf_index`` under the head's root; and, with a
consistency part, the older head's signature and that the newer tree extends it (so an auditor who kept
an older head knows the log was only appended to since). Keys given with ``--key`` replace the bundle's
own: a bundle's keys prove only that whoever made the bundle holds them, so compare them with the keys
the log publishes, or pass those. Exit status: 0 every check holds, 1 a check fails (named), 2 the file
is not a readable bundle.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from oms.audit_merkle import hash_leaf, verify_consistency, verify_inclusion
from oms.audit_tree_head import TreeHead, public_key_from_hex, tree_head_problem

LEAF_PREFIX = b"smart-oms/audit-event/v1|"
BUNDLE_VERSION = "smart-oms/audit-proof/v1"
LEAF_FIELDS = ("id", "ts", "actor", "actor_type", "source", "event_type", "object_type", "object_id", "before", "after", "reason")
_STRING_FIELDS = ("actor", "actor_type", "source", "event_type", "object_type", "object_id", "reason")
TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2


def canonical_ts(when: datetime) -> str:
    """Format an aware datetime as a leaf's ``ts``: UTC, 6 fraction digits, ``Z``."""
    if when.tzinfo is None:
        raise ValueError("an event's time is an aware datetime")
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_json(value: Any) -> str:
    # The same text rules as oms.services.audit.canonical_json; the values here are already JSON types
    # (as the database returns them), so no Django encoder is needed, and this file runs without Django.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _leaf_fields(event: Mapping[str, Any]) -> dict:
    missing = [f for f in LEAF_FIELDS if f not in event]
    if missing:
        raise ValueError(f"the event lacks {', '.join(missing)}")
    fields = {f: event[f] for f in LEAF_FIELDS}
    if isinstance(fields["ts"], datetime):
        fields["ts"] = canonical_ts(fields["ts"])
    return fields


def leaf_bytes(event: Mapping[str, Any]) -> bytes:
    """Return the leaf data of an event: its canonical bytes (module docstring). ValueError if malformed.

    Reads exactly ``LEAF_FIELDS`` (a datetime ``ts`` is formatted by :func:`canonical_ts`); other keys of
    ``event`` are not read.
    """
    fields = _leaf_fields(event)
    if not isinstance(fields["ts"], str) or not TS_RE.fullmatch(fields["ts"]):
        raise ValueError(f"ts must read YYYY-MM-DDTHH:MM:SS.ffffffZ, not {fields['ts']!r}")
    if isinstance(fields["id"], bool) or not isinstance(fields["id"], int):
        raise ValueError(f"id must be an integer, not {fields['id']!r}")
    wrong = [f for f in _STRING_FIELDS if not isinstance(fields[f], str)]
    if wrong:
        raise ValueError(f"{', '.join(wrong)} must be strings")
    return LEAF_PREFIX + _canonical_json(fields).encode("utf-8")


def leaf_hash(event: Mapping[str, Any]) -> bytes:
    """Return the event's leaf hash, SHA-256(0x00 || leaf_bytes(event)) (RFC 9162 §2.1.1)."""
    return hash_leaf(leaf_bytes(event))


def proof_bundle(*, event: Mapping[str, Any], leaf_index: int, tree_head: TreeHead, inclusion: Sequence[bytes],
                 public_keys: Mapping[str, str], from_head: TreeHead | None = None,
                 consistency: Sequence[bytes] | None = None) -> dict:
    """Build the JSON bundle :func:`main` verifies (``public_keys``: key id -> raw public key in hex)."""
    bundle = {
        "version": BUNDLE_VERSION, "event": _leaf_fields(event), "leaf_index": leaf_index, "tree_head": tree_head.as_dict(),
        "inclusion": [h.hex() for h in inclusion], "public_keys": dict(public_keys),
    }
    if from_head is not None:
        bundle["consistency"] = {"from_head": from_head.as_dict(), "proof": [h.hex() for h in consistency or ()]}
    return bundle


class BundleUnreadable(Exception):
    """The file is not a proof bundle this verifier reads (exit status 2)."""


@dataclass(frozen=True)
class Bundle:
    """A proof bundle as read from its JSON (the event is kept as given: hashing it is a check)."""

    event: dict
    leaf_index: int
    tree_head: TreeHead
    inclusion: tuple[bytes, ...]
    public_keys: dict[str, str]
    from_head: TreeHead | None = None
    consistency: tuple[bytes, ...] = ()


def _hashes(value, name: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not all(isinstance(h, str) for h in value):
        raise BundleUnreadable(f"{name} must be a list of hex strings")
    try:
        return tuple(bytes.fromhex(h) for h in value)
    except ValueError:
        raise BundleUnreadable(f"{name} holds a value that is not hex")


def _head(value, name: str) -> TreeHead:
    try:
        return TreeHead.from_dict(value)
    except ValueError as exc:
        raise BundleUnreadable(f"{name}: {exc}")


def bundle_parse(data: Any) -> Bundle:
    """Read a bundle from its parsed JSON (BundleUnreadable naming what is wrong)."""
    if not isinstance(data, dict):
        raise BundleUnreadable("a proof bundle is a JSON object")
    if data.get("version") != BUNDLE_VERSION:
        raise BundleUnreadable(f"version {data.get('version')!r} is not {BUNDLE_VERSION!r}")
    missing = [k for k in ("event", "leaf_index", "tree_head", "inclusion") if k not in data]
    if missing:
        raise BundleUnreadable(f"the bundle lacks {', '.join(missing)}")
    if not isinstance(data["event"], dict):
        raise BundleUnreadable("event must be a JSON object")
    index = data["leaf_index"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise BundleUnreadable(f"leaf_index must be an integer >= 0, not {index!r}")
    keys = data.get("public_keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise BundleUnreadable("public_keys must map key ids to hex strings")
    from_head, consistency = None, ()
    if "consistency" in data:
        part = data["consistency"]
        if not isinstance(part, dict) or "from_head" not in part or "proof" not in part:
            raise BundleUnreadable("consistency must hold from_head and proof")
        from_head, consistency = _head(part["from_head"], "consistency.from_head"), _hashes(part["proof"], "consistency.proof")
    return Bundle(data["event"], index, _head(data["tree_head"], "tree_head"), _hashes(data["inclusion"], "inclusion"),
                  keys, from_head, consistency)


def bundle_read(path: str) -> Bundle:
    """Read a bundle file (BundleUnreadable with a sentence when it cannot)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise BundleUnreadable(f"cannot open {path}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleUnreadable(f"{path} is not JSON: {exc}")
    except RecursionError:
        raise BundleUnreadable(f"{path} nests too deeply to be a proof bundle")
    return bundle_parse(data)


class Check(NamedTuple):
    """One verification step: its name, whether it holds, and a sentence."""

    name: str
    ok: bool
    detail: str


def _signature_check(name: str, head: TreeHead, keys: Mapping, keys_from_bundle: bool) -> Check:
    problem = tree_head_problem(head, keys)
    if problem:
        return Check(name, False, f"the head of {head.tree_size} events {problem}")
    where = " (key taken from the bundle itself: compare it with the log's published key)" if keys_from_bundle else ""
    return Check(name, True, f"{head.tree_size} events, root {head.root_hash.hex()[:16]}..., "
                             f"signed {head.time.isoformat(timespec='milliseconds')} by key {head.key_id!r}{where}")


def bundle_checks(bundle: Bundle, trusted_keys: Mapping[str, str] | None = None) -> list[Check]:
    """Run every check of a bundle, in order; ``trusted_keys`` (key id -> hex) replace the bundle's keys."""
    key_hex = dict(trusted_keys) if trusted_keys else bundle.public_keys
    try:
        keys = {key_id: public_key_from_hex(h) for key_id, h in key_hex.items()}
    except ValueError as exc:
        raise BundleUnreadable(f"public keys: {exc}")
    from_bundle = not trusted_keys
    head = bundle.tree_head
    checks = []
    extra = sorted(set(bundle.event) - set(LEAF_FIELDS))
    try:
        if extra:
            raise ValueError(f"the event carries fields the leaf does not cover: {', '.join(extra)}")
        leaf = leaf_hash(bundle.event)
        checks.append(Check("leaf hash", True, f"recomputed from the event: {leaf.hex()}"))
    except ValueError as exc:
        leaf = None
        checks.append(Check("leaf hash", False, f"the event cannot be hashed: {exc}"))
    checks.append(_signature_check("head signature", head, keys, from_bundle))
    if leaf is None:
        checks.append(Check("inclusion", False, "not checked: the event has no leaf hash"))
    elif verify_inclusion(leaf, bundle.leaf_index, head.tree_size, bundle.inclusion, head.root_hash):
        checks.append(Check("inclusion", True, f"the event is leaf {bundle.leaf_index} of the tree of {head.tree_size} under the signed root"))
    else:
        checks.append(Check("inclusion", False, f"the event, as leaf {bundle.leaf_index} with this audit path, does not lead to "
                                                f"the signed root of the tree of {head.tree_size}"))
    if bundle.from_head is not None:
        old = bundle.from_head
        checks.append(_signature_check("from-head signature", old, keys, from_bundle))
        if verify_consistency(old.tree_size, head.tree_size, old.root_hash, head.root_hash, bundle.consistency):
            checks.append(Check("consistency", True, f"the tree of {head.tree_size} extends the tree of {old.tree_size}: "
                                                     "appended to, nothing changed or removed"))
        else:
            checks.append(Check("consistency", False, f"the proof does not show that the tree of {head.tree_size} "
                                                      f"extends the tree of {old.tree_size}"))
    return checks


def _describe_event(event: Mapping) -> str:
    said = [str(event.get(k, "?")) for k in ("event_type", "object_type", "object_id")]
    return f"event id {event.get('id', '?')}: {said[0]} on {said[1]} {said[2]}, at {event.get('ts', '?')}"


def _trusted_keys(values: list[str]) -> dict[str, str]:
    keys = {}
    for value in values:
        key_id, sep, key_hex = value.partition("=")
        if not sep or not key_id or not key_hex:
            raise BundleUnreadable(f"--key takes KEY_ID=HEX, not {value!r}")
        keys[key_id] = key_hex
    return keys


def verify(path: str, key_args: list[str], out=None) -> int:
    """Verify one bundle file, print a line per check; return the exit status."""
    out = out or sys.stdout
    bundle = bundle_read(path)
    checks = bundle_checks(bundle, _trusted_keys(key_args))
    print(f"audit proof bundle {path}", file=out)
    print(f"  {_describe_event(bundle.event)}", file=out)
    for check in checks:
        print(f"  {'OK    ' if check.ok else 'FAILED'}  {check.name}: {check.detail}", file=out)
    failed = [c.name for c in checks if not c.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=out)
        return EXIT_FAILED
    print(f"OK: all {len(checks)} checks hold", file=out)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run the command line (see the module docstring); return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m oms.audit_proof", description="Verify audit proof bundles offline.")
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("verify", help="check an event's inclusion (and consistency) proof and the signed tree head")
    cmd.add_argument("file", help="the proof bundle (JSON)")
    cmd.add_argument("--key", action="append", default=[], metavar="KEY_ID=HEX",
                     help="a trusted Ed25519 public key (raw, hex); given, the bundle's own keys are not used")
    args = parser.parse_args(argv)
    try:
        return verify(args.file, args.key)
    except BundleUnreadable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNREADABLE


if __name__ == "__main__":
    sys.exit(main())
