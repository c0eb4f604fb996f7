"""Seeded randomness: every test starts ``random``, numpy's (and torch's) global generators from its own seed.

The seed is derived from the test's id, so a test sees the same "random" numbers on every run and on
every machine, whatever ran before it, and a failure that depends on them reproduces.
"""

from __future__ import annotations

import hashlib
import random
import sys

SEED_BITS = 32


def seed_for(test_id: str) -> int:
    """A stable 32-bit seed for ``test_id`` (a pytest node id); unlike ``hash``, the same every run."""
    digest = hashlib.sha256(test_id.encode()).digest()
    return int.from_bytes(digest[: SEED_BITS // 8], "big")


def seed_global_generators(seed: int) -> None:
    """Seed ``random``, numpy's global generator and, when a test already imported it, torch's."""
    random.seed(seed)
    try:
        import numpy as np
    except ImportError:  # numpy is a dependency of zeroserve, but this module must not need it
        pass
    else:
        np.random.seed(seed)
    torch = sys.modules.get("torch")  # never imported here: that alone would take seconds
    if torch is not None:
        torch.manual_seed(seed)
