"""Deterministic randomness: every generated value is a pure function of (seed, what, which).

Python's `hash()` is salted per process, so values are derived from BLAKE2b instead; the same seed
gives the same catalogue, curves and news in every process and on every machine.
"""

from __future__ import annotations

import hashlib
import random


def digest(seed: int, *parts: object) -> int:
    """A 64-bit integer that depends only on `seed` and `parts`."""
    text = ":".join([str(seed), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def unit(seed: int, *parts: object) -> float:
    """A float in [0, 1) that depends only on `seed` and `parts`."""
    return digest(seed, *parts) / 2**64


def rng(seed: int, *parts: object) -> random.Random:
    """A private random generator for one generated object (its own stream, independent of others)."""
    return random.Random(digest(seed, *parts))
