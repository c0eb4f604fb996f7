"""Seeded randomness: every test starts ``random`` and numpy's global generator from its own seed.

The seed is derived from the test's id, so a test sees the same "random" numbers on every run and on
every machine, whatever ran before it, and a failure that depends on them reproduces.
"""

from __future__ import annotations

import hashlib
import random

SEED_BITS = 32


def seed_for(test_id: str) -> int:
    """A stable 32-bit seed for ``test_id`` (a pytest node id); unlike ``hash``, the same every run."""
    digest = hashlib.sha256(test_id.encode()).digest()
    return int.from_bytes(digest[: SEED_BITS // 8], "big")


def seed_global_generators(seed: int) -> None:
    """Seed ``random`` and, when numpy is installed, ``numpy.random``'s global generator."""
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # numpy is a dependency of zeroserve, but this module must not need it
        return
    np.random.seed(seed)
