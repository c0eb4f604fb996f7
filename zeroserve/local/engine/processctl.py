"""Linux process controls for instances: die with the parent, and a readable name in ``top``/``ps``.

Both are best effort (``prctl`` through ctypes); elsewhere they do nothing.
"""

from __future__ import annotations

import contextlib
import signal

__all__ = ["set_parent_death_signal", "set_process_name"]

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15


def _prctl(option: int, value: object) -> None:
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent exits (no orphaned instances).

    Args:
        sig: the signal.
    """
    _prctl(_PR_SET_PDEATHSIG, int(sig))


def set_process_name(name: str) -> None:
    """Set this process's short name (``comm``: what ``top`` and ``ps -o comm`` show, 15 bytes).

    Args:
        name: the name.
    """
    _prctl(_PR_SET_NAME, name.encode()[:15])
