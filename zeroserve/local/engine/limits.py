"""A revision's ``resources.limits`` on this machine: what they are, and memory enforced by watching.

Kubernetes enforces a container's memory limit with its cgroup: past it, the kernel kills the
container and the pod says ``OOMKilled``. Locally a cgroup is not always there to use (containers get
the engine's ``--memory``, which a sandbox may not enforce; process instances get no memory cgroup,
only a CPU one: see :mod:`.cgroups`), so
the engine also watches: every ``memory_check_interval`` it sums the memory of the instance's process
tree (the container's processes for a container; see :func:`tree_memory_bytes`), and kills the
instance when the sum passes the limit. The instance then reports ``OOMKilled`` like a pod would. A
spike shorter than the interval can go unseen; the cgroup, where it works, catches those.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zeroserve.local.engine.procstat import parse_cpu, parse_memory_mib

__all__ = ["Limits", "tree_cpu_seconds", "tree_memory_bytes", "tree_pids"]

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Limits:
    """The memory and CPU limits of one container (``None``: none set)."""

    memory_bytes: int | None = None
    memory_text: str = ""
    """The limit as written (``64Mi``), for messages."""
    cpus: float | None = None

    @classmethod
    def of(cls, container: Mapping[str, Any]) -> Limits:
        """Read a container's ``resources.limits``.

        Args:
            container: the container spec.

        Returns:
            The limits; a malformed quantity counts as not set (admission refuses those on a cluster).
        """
        limits = (container.get("resources") or {}).get("limits") or {}
        memory = limits.get("memory")
        mib = parse_memory_mib(memory) if memory is not None else 0.0
        cpu = limits.get("cpu")
        cores = parse_cpu(cpu, default=0.0) if cpu is not None else 0.0
        return cls(
            memory_bytes=int(mib * 2**20) if mib > 0 else None,
            memory_text=str(memory) if mib > 0 else "",
            cpus=cores if cores > 0 else None,
        )


def _all_children() -> dict[int, list[int]]:
    """Every process's children, from a scan of ``/proc`` (where per-task ``children`` files are missing)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    return children


def _children_of(pid: int) -> list[int]:
    """A process's children from its threads' ``children`` files (only the tree is read)."""
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                out.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return out


_PER_TASK_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return _rss(pid)


def _tree(root: int) -> list[int]:
    scanned = None if _PER_TASK_CHILDREN else _all_children()
    order: list[int] = []
    todo, seen = [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        order.append(pid)
        todo.extend(_children_of(pid) if scanned is None else scanned.get(pid, ()))
    return order


def tree_pids(root: int) -> list[int]:
    """A process and all its descendants (the process first).

    Args:
        root: the top process.

    Returns:
        Their pids (only the root when it has none, or is gone).
    """
    return _tree(root)


def tree_memory_bytes(root: int, limit: int | None = None) -> int | None:
    """Memory of a process and all its descendants, roughly as a cgroup would charge it.

    The resident sizes are summed (cheap: ``statm``). Past ``limit`` the sum is taken again with each
    process's proportional share (``Pss``): pages shared inside the tree count once, and pages shared
    with processes outside it (a fork of the zygote shares the interpreter's) count only in part, as a
    cgroup charges them to whoever touched them first.

    Args:
        root: the top process.
        limit: the bytes beyond which the proportional sum is taken.

    Returns:
        Bytes, or ``None`` when the process is gone.
    """
    if not os.path.exists(f"/proc/{root}"):
        return None
    pids = _tree(root)
    total = sum(_rss(pid) for pid in pids)
    if limit is not None and total > limit:
        total = sum(_pss(pid) for pid in pids)
    return total


def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0
    try:  # its own time and that of the children it has reaped
        return sum(int(f) for f in fields[11:15])
    except (ValueError, IndexError):
        return 0


def tree_cpu_seconds(root: int) -> float | None:
    """CPU time (user + system) of a process and all its descendants, reaped ones included.

    Args:
        root: the top process.

    Returns:
        Seconds, or ``None`` when the process is gone.
    """
    if not os.path.exists(f"/proc/{root}"):
        return None
    return sum(_cpu_ticks(pid) for pid in _tree(root)) / _CLOCK_TICKS
