"""The activator: a revision's front door, holding requests while it has no capacity.

Each revision has one :class:`Activator`. A request :meth:`~Activator.acquire`\\ s an instance: the
least busy ready instance with room under ``containerConcurrency`` (0: unlimited), else it waits in a
bounded FIFO. While no instance is ready, a waiting request asks for a scale-up (``on_demand``).
When an instance becomes ready or finishes a request, waiting requests are handed out in order. A
full queue or a passed deadline gives :class:`ActivatorRejected` (the gateway answers 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

from zeroserve.local.engine.concurrency import ConcurrencyRecorder
from zeroserve.local.engine.instances import Instance

__all__ = ["Activator", "ActivatorRejected"]


class ActivatorRejected(Exception):
    """A request could not be given an instance; the message says why (sent with a 503)."""


class Activator:
    """Per-revision request admission: capacity tracking, a FIFO queue and demand signalling."""

    def __init__(
        self,
        revision: str,
        *,
        container_concurrency: int = 0,
        queue_depth: int = 10000,
        clock: Callable[[], float] = time.monotonic,
        on_demand: Callable[[], None] | None = None,
    ) -> None:
        """Create the activator of one revision.

        Args:
            revision: ``<namespace>/<name>`` of the revision (used in messages).
            container_concurrency: requests one instance may serve at once (0: unlimited).
            queue_depth: requests that may wait.
            clock: the monotonic clock the traffic metrics use.
            on_demand: called when a request waits while no instance is ready.
        """
        self.revision = revision
        self.container_concurrency = container_concurrency
        self.queue_depth = queue_depth
        self.clock = clock
        self.on_demand = on_demand
        self.ready: list[Instance] = []
        self.traffic = ConcurrencyRecorder(clock())
        self._waiters: deque[asyncio.Future[Instance]] = deque()
        self._rr = 0

    @property
    def pending(self) -> int:
        """Requests waiting for an instance."""
        return len(self._waiters)

    def _pick(self, avoid: Instance | None = None) -> Instance | None:
        ready = self.ready
        if not ready:
            return None
        cc = self.container_concurrency
        n = len(ready)
        self._rr = (self._rr + 1) % n
        best: Instance | None = None
        for i in range(n):
            inst = ready[(self._rr + i) % n]
            if (cc and inst.in_flight >= cc) or (inst is avoid and n > 1):
                continue
            if best is None or inst.in_flight < best.in_flight:
                best = inst
                if inst.in_flight == 0:
                    break
        return best

    async def acquire(self, max_wait: float, avoid: Instance | None = None) -> Instance:
        """Get an instance for one request, waiting up to ``max_wait`` seconds.

        The caller must :meth:`release` the instance; nothing is held when this raises.

        Args:
            max_wait: the longest wait in the queue.
            avoid: an instance that just failed this request; another is chosen when one is ready.

        Returns:
            An instance with its ``in_flight`` already counted.

        Raises:
            ActivatorRejected: the queue is full or the wait timed out.
        """
        self.traffic.begin(self.clock())
        if not self._waiters:
            inst = self._pick(avoid)
            if inst is not None:
                inst.in_flight += 1
                return inst
        if len(self._waiters) >= self.queue_depth:
            self.traffic.end(self.clock())
            raise ActivatorRejected(
                f"pending request queue full: {self.queue_depth} requests already wait for revision "
                f"{self.revision}"
            )
        fut: asyncio.Future[Instance] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        if not self.ready and self.on_demand is not None:
            self.on_demand()
        try:
            return await asyncio.wait_for(fut, max_wait)
        except TimeoutError:
            self._forget(fut)
            self.traffic.end(self.clock())
            raise ActivatorRejected(
                f"timed out after {max_wait:g}s waiting for an instance of revision {self.revision} "
                "with capacity (none became ready or free)"
            ) from None
        except BaseException:
            self._forget(fut)
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                self.release(fut.result())
            else:
                self.traffic.end(self.clock())
            raise

    def _forget(self, fut: asyncio.Future[Instance]) -> None:
        if not fut.done():
            fut.cancel()
        with contextlib.suppress(ValueError):
            self._waiters.remove(fut)

    def release(self, inst: Instance) -> None:
        """A request served by ``inst`` finished.

        Args:
            inst: the instance :meth:`acquire` returned.
        """
        inst.in_flight -= 1
        self.traffic.end(self.clock())
        if inst.drained is not None and inst.in_flight == 0:
            inst.drained.set()
        if self._waiters:
            self.dispatch()

    def dispatch(self) -> None:
        """Hand waiting requests to instances with room, in arrival order."""
        waiters = self._waiters
        while waiters:
            fut = waiters[0]
            if fut.done():
                waiters.popleft()
                continue
            inst = self._pick()
            if inst is None:
                return
            waiters.popleft()
            inst.in_flight += 1
            fut.set_result(inst)

    def reject_waiting(self, reason: str) -> None:
        """Answer every waiting request with 503 and ``reason`` (the revision keeps failing to start).

        Args:
            reason: the message sent with the 503.
        """
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(ActivatorRejected(reason))

    def add(self, inst: Instance) -> None:
        """An instance became ready.

        Args:
            inst: the instance.
        """
        if inst not in self.ready:
            self.ready.append(inst)
        self.dispatch()

    def remove(self, inst: Instance) -> None:
        """An instance stopped taking new requests (scale down, crash).

        Args:
            inst: the instance.
        """
        if inst in self.ready:
            self.ready.remove(inst)
