"""A work queue of object keys with per-key serialization, delayed adds and retry backoff.

It follows client-go's workqueue contract, which is what makes a level-triggered controller safe
with several workers:

- a key is queued at most once however often it is added (events coalesce);
- a key handed to a worker is not handed to another until the first calls :meth:`WorkQueue.done`;
  adds that arrive meanwhile mark it dirty and it is queued again on ``done``;
- failed keys come back after an exponential backoff (:meth:`WorkQueue.add_rate_limited`) until
  :meth:`WorkQueue.forget` resets them.

Time is read from an injected clock, so delays and backoff are tested by advancing a fake clock.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ExponentialBackoff", "WorkQueue"]

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class ExponentialBackoff:
    """Retry delays ``base * 2**failures``, capped."""

    base: float = 0.05
    """Delay after the first failure, in seconds."""
    cap: float = 60.0
    """The longest delay, in seconds."""

    def delay(self, failures: int) -> float:
        """The delay before the retry that follows ``failures`` earlier failures.

        Args:
            failures: how many times the key has failed before (0 for the first failure).

        Returns:
            Seconds to wait.
        """
        return float(min(self.cap, self.base * (2 ** min(failures, 62))))


class WorkQueue(Generic[K]):
    """A thread-safe, deduplicating, per-key serialized queue.

    Args:
        clock: monotonic seconds; ``time.monotonic`` unless a test injects a fake.
        backoff: the retry delays of :meth:`add_rate_limited`.
    """

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, backoff: ExponentialBackoff | None = None
    ) -> None:
        self._clock = clock
        self._backoff = backoff or ExponentialBackoff()
        self._cond = threading.Condition()
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._delayed: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._failures: dict[K, int] = {}
        self._shutdown = False

    def add(self, key: K) -> None:
        """Queue ``key`` now (a no-op when it is already waiting)."""
        with self._cond:
            self._add_locked(key)

    def add_after(self, key: K, delay: float) -> None:
        """Queue ``key`` once ``delay`` seconds have passed on the clock."""
        if delay <= 0:
            self.add(key)
            return
        with self._cond:
            if self._shutdown:
                return
            heapq.heappush(self._delayed, (self._clock() + delay, next(self._seq), key))
            self._cond.notify()

    def add_rate_limited(self, key: K) -> float:
        """Queue ``key`` after its backoff delay and count one more failure.

        Returns:
            The delay chosen, in seconds.
        """
        with self._cond:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        delay = self._backoff.delay(failures)
        self.add_after(key, delay)
        return delay

    def forget(self, key: K) -> None:
        """Reset ``key``'s failure count (call after a successful reconcile)."""
        with self._cond:
            self._failures.pop(key, None)

    def failures(self, key: K) -> int:
        """How many consecutive failures ``key`` has had."""
        with self._cond:
            return self._failures.get(key, 0)

    def get(self, timeout: float | None = None) -> K | None:
        """Take the next ready key, waiting up to ``timeout`` seconds (forever when ``None``).

        Returns:
            The key, which the caller must pass to :meth:`done`; ``None`` on timeout or shutdown.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                if self._shutdown:
                    return None
                self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                wait = None if deadline is None else deadline - time.monotonic()
                if wait is not None and wait <= 0:
                    return None
                if self._delayed:
                    until_due = max(0.0, self._delayed[0][0] - self._clock())
                    wait = until_due if wait is None else min(wait, until_due)
                self._cond.wait(wait)

    def done(self, key: K) -> None:
        """Mark ``key`` processed; queue it again if it was added meanwhile."""
        with self._cond:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        """Wake every waiting :meth:`get`, which then returns ``None``."""
        with self._cond:
            self._shutdown = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Re-check delayed keys now (for a fake clock that was advanced)."""
        with self._cond:
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    def _add_locked(self, key: K) -> None:
        if self._shutdown or key in self._dirty:
            return
        self._dirty.add(key)
        if key in self._processing:
            return
        self._queue.append(key)
        self._cond.notify()

    def _promote_due_locked(self) -> None:
        now = self._clock()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, key = heapq.heappop(self._delayed)
            self._add_locked(key)
