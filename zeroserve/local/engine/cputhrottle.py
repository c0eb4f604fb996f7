"""A CPU limit without a cgroup: a duty cycle over an instance's process group, as ``cpulimit`` does.

Every ``period`` (0.1 s) the throttle reads the CPU time of the instance's process tree
(:func:`~.limits.tree_cpu_seconds`) and keeps a budget: ``limit x elapsed`` seconds are earned, what was
used is spent, and at most one period's worth is saved up. Past the budget the process group is
stopped (``SIGSTOP``) for as long as it takes to earn it back (at most 1 s at a time), then continued
(``SIGCONT``). On average the tree gets its limit; within a period it may run faster, and a
process that leaves the group (``setsid``) escapes the stop, which is why a cgroup is preferred.
A stopped instance is always continued when the throttle ends (the instance stops, or the engine
does); an instance adopted after a crash of the platform is continued first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time

from zeroserve.local.engine.cgroups import CpuStat
from zeroserve.local.engine.limits import tree_cpu_seconds

__all__ = ["CpuThrottle"]

_LOG = logging.getLogger(__name__)


class CpuThrottle:
    """Holds one instance's process group to ``cpus`` cores on average."""

    mechanism = "throttle"

    def __init__(self, cpus: float, period: float = 0.1) -> None:
        """Describe the throttle; :meth:`start` runs it for a process.

        Args:
            cpus: the limit in cores.
            period: seconds between measurements.
        """
        self.cpus = cpus
        self.period = period
        self._task: asyncio.Task[None] | None = None
        self._pid: int | None = None
        self._periods = 0
        self._throttled = 0
        self._throttled_s = 0.0

    def start(self, pid: int) -> None:
        """Start holding back ``pid``'s process group (continued first, should it be stopped).

        Args:
            pid: the instance's process (the leader of its process group).
        """
        self._pid = pid
        self._signal(signal.SIGCONT)
        if self._task is None:
            self._task = asyncio.create_task(self._run(pid))

    def stat(self) -> CpuStat:
        """How often and how long it held the instance back."""
        return CpuStat(self._periods, self._throttled, self._throttled_s)

    async def close(self) -> None:
        """Stop throttling (the instance is continued)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._signal(signal.SIGCONT)

    def _signal(self, sig: int) -> None:
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, sig)

    async def _run(self, pid: int) -> None:
        used = tree_cpu_seconds(pid)
        then = time.monotonic()
        budget = 0.0
        try:
            while used is not None:
                await asyncio.sleep(self.period)
                now, cpu = time.monotonic(), tree_cpu_seconds(pid)
                if cpu is None:
                    return
                earned = self.cpus * (now - then)
                budget = min(budget + earned - max(0.0, cpu - used), self.cpus * self.period)
                used, then = cpu, now
                self._periods += 1
                if budget < 0:
                    pause = min(-budget / self.cpus, 1.0)
                    self._signal(signal.SIGSTOP)
                    try:
                        await asyncio.sleep(pause)
                    finally:
                        self._signal(signal.SIGCONT)
                    self._throttled += 1
                    self._throttled_s += pause
        except OSError as err:  # /proc unreadable: the instance runs on unthrottled rather than stopped
            _LOG.warning("instance pid %d: CPU throttle ended: %s", pid, err)
