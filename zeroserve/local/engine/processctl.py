"""Linux process controls for instances: die with the parent, a readable name in ``top``/``ps``, and
joining a cgroup.

All are best effort (``prctl`` through ctypes, a write to ``cgroup.procs``); elsewhere they do nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal

__all__ = ["join_cgroup", "set_parent_death_signal", "set_process_name"]

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


def join_cgroup(procs_file: str | None) -> None:
    """Move this process into a cgroup (before it runs anything else, so its children follow).

    Safe between ``fork`` and ``exec``: a plain write, no failure raised (the engine moves the process
    itself afterwards, and warns when that fails too).

    Args:
        procs_file: the group's ``cgroup.procs`` (``None``: none).
    """
    if not procs_file:
        return
    with contextlib.suppress(OSError):
        fd = os.open(procs_file, os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)
