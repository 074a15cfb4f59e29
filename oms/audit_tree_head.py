"""Signed tree heads of the audit log's Merkle tree: "the tree of N events had root R at time T", signed.

As RFC 9162 §4.9-4.10 (tree head: timestamp, tree size, root hash; a signed tree head adds the log's
signature), with Ed25519 (RFC 8032) over one canonical byte string:

    smart-oms/audit-tree-head/v1|<tree_size>|<root hash, 64 lowercase hex>|<timestamp>|<key_id>

``timestamp`` is milliseconds since 1970-01-01T00:00:00Z, leap seconds ignored (the RFC's unit);
``key_id`` names the signing key, so keys can be rotated and old heads still checked with the retired
public key. The ``v1`` prefix keeps a signature over this text from passing for any other message signed
with the same key, and lets a later format change the fields without ambiguity.

The sealer signs a head at every seal. Key loading stays out of this module: the Django side reads keys
from its settings, the offline verifier (``python -m oms.audit_proof``) from the command line or the bundle.
Imports nothing from Django or the apps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from oms.audit_merkle import HASH_SIZE

SIGNED_PREFIX = "smart-oms/audit-tree-head/v1"
# No "|" (the separator of the signed text) and nothing a file or a terminal would mangle.
KEY_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
SIGNATURE_SIZE = 64  # Ed25519, RFC 8032 §5.1.6
PUBLIC_KEY_SIZE = 32


@dataclass(frozen=True)
class TreeHead:
    """A signed statement of the tree's size and root at a time (RFC 9162 §4.10)."""

    tree_size: int
    root_hash: bytes
    timestamp: int  # ms since the epoch, UTC (RFC 9162 §4.9)
    key_id: str
    signature: bytes

    def __post_init__(self) -> None:
        # Refuse a head that has no canonical text: its signature could not mean one thing.
        if isinstance(self.tree_size, bool) or not isinstance(self.tree_size, int) or self.tree_size < 0:
            raise ValueError(f"tree_size must be an integer >= 0, not {self.tree_size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"root_hash must be {HASH_SIZE} bytes")
        if isinstance(self.timestamp, bool) or not isinstance(self.timestamp, int) or self.timestamp < 0:
            raise ValueError(f"timestamp must be milliseconds since the epoch (an integer >= 0), not {self.timestamp!r}")
        if not isinstance(self.key_id, str) or not KEY_ID_RE.fullmatch(self.key_id):
            raise ValueError(f"key_id must match {KEY_ID_RE.pattern}, not {self.key_id!r}")
        if not isinstance(self.signature, bytes):
            raise ValueError("signature must be bytes")

    def signed_bytes(self) -> bytes:
        """Return the canonical text the signature covers."""
        return tree_head_message(self.tree_size, self.root_hash, self.timestamp, self.key_id)

    @property
    def time(self) -> datetime:
        """The timestamp as an aware UTC datetime."""
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)

    def as_dict(self) -> dict:
        """Return the JSON shape (hashes and signature in lowercase hex)."""
        return {"tree_size": self.tree_size, "root_hash": self.root_hash.hex(), "timestamp": self.timestamp,
                "key_id": self.key_id, "signature": self.signature.hex()}

    @classmethod
    def from_dict(cls, data: Mapping) -> TreeHead:
        """Read the JSON shape of :meth:`as_dict` (ValueError naming what is wrong)."""
        if not isinstance(data, Mapping):
            raise ValueError("a tree head is a JSON object")
        missing = [k for k in ("tree_size", "root_hash", "timestamp", "key_id", "signature") if k not in data]
        if missing:
            raise ValueError(f"a tree head lacks {', '.join(missing)}")
        return cls(data["tree_size"], _unhex(data["root_hash"], "root_hash"), data["timestamp"], data["key_id"],
                   _unhex(data["signature"], "signature"))


def _unhex(value, name: str) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise ValueError(f"{name} is not hex: {value[:80]!r}")


def tree_head_message(tree_size: int, root_hash: bytes, timestamp: int, key_id: str) -> bytes:
    """Return the canonical bytes a tree head's signature covers (see the module docstring)."""
    return f"{SIGNED_PREFIX}|{tree_size}|{root_hash.hex()}|{timestamp}|{key_id}".encode("ascii")


def timestamp_ms(when: datetime) -> int:
    """Convert an aware datetime to a tree head's timestamp (ms since the epoch, truncated)."""
    if when.tzinfo is None:
        raise ValueError("a tree head's time is an aware datetime (UTC)")
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def tree_head_sign(private_key: Ed25519PrivateKey, *, tree_size: int, root_hash: bytes, timestamp: int, key_id: str) -> TreeHead:
    """Sign a tree head with the log's Ed25519 key."""
    unsigned = TreeHead(tree_size, root_hash, timestamp, key_id, b"")  # validates the fields first
    return TreeHead(tree_size, root_hash, timestamp, key_id, private_key.sign(unsigned.signed_bytes()))


def public_key_from_hex(value: str) -> Ed25519PublicKey:
    """Read a raw Ed25519 public key (32 bytes, hex) (ValueError if it is not one)."""
    raw = _unhex(value, "public key")
    if len(raw) != PUBLIC_KEY_SIZE:
        raise ValueError(f"an Ed25519 public key is {PUBLIC_KEY_SIZE} bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_hex(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """Return the raw public key in hex, the form bundles and settings carry."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def tree_head_problem(head: TreeHead, public_keys: Mapping[str, Ed25519PublicKey]) -> str:
    """Say why ``head``'s signature does not hold ("" when it does), given the public keys by key id."""
    key = public_keys.get(head.key_id)
    if key is None:
        known = ", ".join(sorted(public_keys)) or "none"
        return f"is signed with key id {head.key_id!r}, which is not among the public keys given ({known})"
    if len(head.signature) != SIGNATURE_SIZE:
        return f"carries a signature of {len(head.signature)} bytes, not an Ed25519 signature ({SIGNATURE_SIZE})"
    try:
        key.verify(head.signature, head.signed_bytes())
    except InvalidSignature:
        return f"does not carry a valid signature of key {head.key_id!r}"
    return ""
