"""GPUs of this machine, handed to instances through ``CUDA_VISIBLE_DEVICES``.

A container asking for ``nvidia.com/gpu: N`` gets N device ids that no other running instance holds;
they return to the pool when the instance stops (scale to zero included). Too few free devices is
an error the revision reports, never a silent fallback to the CPU.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["GPU_RESOURCE", "GpuAllocator", "InsufficientGPUs", "discover_gpus", "gpus_requested"]

GPU_RESOURCE = "nvidia.com/gpu"


class InsufficientGPUs(Exception):
    """Not enough free GPUs; the message says how many were asked for and how many exist."""


def discover_gpus() -> list[str]:
    """The machine's GPU ids as ``nvidia-smi`` lists them (none without it).

    Returns:
        Device indexes as strings.
    """
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    try:
        out = subprocess.run(
            [smi, "--query-gpu=index", "--format=csv,noheader"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def gpus_requested(container: Mapping[str, Any]) -> int:
    """How many GPUs a container asks for (limits, else requests).

    Args:
        container: the container spec.

    Returns:
        The count (0 when none).
    """
    resources = container.get("resources") or {}
    for kind in ("limits", "requests"):
        value = (resources.get(kind) or {}).get(GPU_RESOURCE)
        if value is not None:
            return int(str(value))
    return 0


class GpuAllocator:
    """Hands out GPU ids to instances."""

    def __init__(self, devices: Sequence[str]) -> None:
        """Create an allocator over ``devices``.

        Args:
            devices: the GPU ids.
        """
        self.devices = list(devices)
        self._owner: dict[str, object] = {}

    @property
    def free(self) -> list[str]:
        """Ids nobody holds."""
        return [d for d in self.devices if d not in self._owner]

    def allocate(self, count: int, owner: object, what: str) -> list[str]:
        """Reserve ``count`` GPUs for ``owner``.

        Args:
            count: how many.
            owner: the holder (released with :meth:`release`).
            what: who asks, for the error message.

        Returns:
            The ids.

        Raises:
            InsufficientGPUs: when fewer are free.
        """
        free = self.free
        if count > len(free):
            raise InsufficientGPUs(
                f"{what} needs {count} {GPU_RESOURCE} but {len(free)} of {len(self.devices)} GPUs on this "
                "machine are free; it will not start on the CPU instead"
            )
        chosen = free[:count]
        for dev in chosen:
            self._owner[dev] = owner
        return chosen

    def release(self, owner: object) -> None:
        """Return every GPU ``owner`` holds.

        Args:
            owner: the holder.
        """
        for dev in [d for d, o in self._owner.items() if o is owner]:
            del self._owner[dev]
