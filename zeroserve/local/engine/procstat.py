"""CPU and memory of local processes, and Kubernetes resource quantities, for HPA-class autoscaling.

Knative's HPA class scales on ``cpu`` (utilization, percent of the container's CPU request) or
``memory`` (average resident MiB). Locally the numbers come from ``/proc``.
"""

from __future__ import annotations

import os
import re

__all__ = ["cpu_seconds", "parse_cpu", "parse_memory_mib", "rss_mib"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_MEMORY_UNITS = {
    "": 1 / 2**20,
    "k": 1e3 / 2**20,
    "M": 1e6 / 2**20,
    "G": 1e9 / 2**20,
    "T": 1e12 / 2**20,
    "Ki": 1 / 2**10,
    "Mi": 1.0,
    "Gi": 2**10,
    "Ti": 2**20,
}


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used.

    Args:
        pid: the process.

    Returns:
        Seconds, or ``None`` when the process is gone.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process.

    Args:
        pid: the process.

    Returns:
        MiB, or ``None`` when the process is gone.
    """
    try:
        with open(f"/proc/{pid}/statm", "rb") as fh:
            resident = int(fh.read().split()[1])
    except OSError:
        return None
    return resident * _PAGE / 2**20


def parse_cpu(quantity: object, default: float = 1.0) -> float:
    """A CPU quantity (``"500m"``, ``"2"``, ``1.5``) in cores.

    Args:
        quantity: the quantity.
        default: the value for a missing or malformed one.

    Returns:
        Cores.
    """
    text = str(quantity or "").strip()
    try:
        if text.endswith("m"):
            return float(text[:-1]) / 1000
        return float(text) if text else default
    except ValueError:
        return default


def parse_memory_mib(quantity: object, default: float = 0.0) -> float:
    """A memory quantity (``"512Mi"``, ``"2Gi"``, ``"1G"``, bytes) in MiB.

    Args:
        quantity: the quantity.
        default: the value for a missing or malformed one.

    Returns:
        MiB.
    """
    match = _QUANTITY.match(str(quantity or "").strip())
    if not match or match.group(2) not in _MEMORY_UNITS:
        return default
    return float(match.group(1)) * _MEMORY_UNITS[match.group(2)]
