"""The Ed25519 keys that sign the audit log's tree heads: the one place they are loaded from the settings.

``AUDIT_SIGNING_KEY`` is the current key's 32-byte seed in hex (from the environment, never in the
database), named by ``AUDIT_SIGNING_KEY_ID``; ``AUDIT_SIGNING_RETIRED_KEYS`` maps the ids of keys signed
with before a rotation to their public keys (hex), so the heads they signed still verify. Empty (development
only): a seed derived from SECRET_KEY under key id "dev", as ``audit_checkpoint`` derives its HMAC key,
never stored anywhere; every process must then share SECRET_KEY.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from oms.audit_tree_head import public_key_from_hex, public_key_hex

_DEV_SEED_LABEL = b"smart-oms audit tree head key"


class SigningKeyInvalid(Exception):
    """AUDIT_SIGNING_KEY is not a 32-byte Ed25519 seed in hex."""


@lru_cache(maxsize=4)
def _private_key(seed_hex: str, secret_key: str) -> Ed25519PrivateKey:
    if not seed_hex:
        return Ed25519PrivateKey.from_private_bytes(hmac.new(secret_key.encode(), _DEV_SEED_LABEL, hashlib.sha256).digest())
    try:
        seed = bytes.fromhex(seed_hex)
    except ValueError:
        raise SigningKeyInvalid("AUDIT_SIGNING_KEY is not hex")
    if len(seed) != 32:
        raise SigningKeyInvalid(f"AUDIT_SIGNING_KEY is {len(seed)} bytes, not a 32-byte Ed25519 seed")
    return Ed25519PrivateKey.from_private_bytes(seed)


def signing_key() -> tuple[str, Ed25519PrivateKey]:
    """Return the current key id and private key (the sealer's)."""
    return settings.AUDIT_SIGNING_KEY_ID, _private_key(settings.AUDIT_SIGNING_KEY, settings.SECRET_KEY)


def public_keys_hex() -> dict[str, str]:
    """Return every public key heads may carry, by key id: the retired ones and the current one (hex)."""
    key_id, private = signing_key()
    return {**settings.AUDIT_SIGNING_RETIRED_KEYS, key_id: public_key_hex(private)}


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Return :func:`public_keys_hex` as key objects (a malformed retired key is left out: its heads are reported)."""
    keys = {}
    for key_id, key_hex in public_keys_hex().items():
        try:
            keys[key_id] = public_key_from_hex(key_hex)
        except ValueError:
            continue
    return keys
