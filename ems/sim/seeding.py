"""Counter-based random streams: each stream is a pure function of its keys, in any process."""

from __future__ import annotations

import zlib

import numpy as np


def stable_hash(text: str) -> int:
    """Return a 32-bit hash of ``text`` that is the same in every process.

    CRC-32, because Python's ``hash()`` of a str is salted per process (PYTHONHASHSEED).
    """
    return zlib.crc32(text.encode("utf-8"))


def rng(*keys: int | str) -> np.random.Generator:
    """Return a PCG64 generator seeded from ``keys`` (ints >= 0, or strings hashed with :func:`stable_hash`).

    Streams with different keys are statistically independent (NumPy ``SeedSequence`` spawning), so
    e.g. venue B's book does not change when venue A is added or removed.
    """
    entropy = []
    for key in keys:
        if isinstance(key, str):
            entropy.append(stable_hash(key))
        elif key < 0:
            raise ValueError(f"seed keys must be >= 0, got {key}")
        else:
            entropy.append(int(key))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
