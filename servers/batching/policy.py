"""When a batch is flushed: the pure decision, with the time as an input.

:class:`BatchConfig` holds one model's batching settings (from ``spec.predictor.batcher`` through
``ZEROSERVE_BATCHER_*``, the ``--enable_batching`` flags, or MLServer's ``max_batch_size`` /
``max_batch_time``). :class:`BatchPolicy` answers two questions for a queue of waiting requests:
how long to wait before flushing, and how many of the waiting requests go into the batch. Neither
reads a clock: the caller passes ``now``, so tests drive it with a fake clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BatchConfig", "BatchPolicy"]


@dataclass(frozen=True)
class BatchConfig:
    """One model's adaptive batching settings.

    Attributes:
        max_batch_size: rows (first-dimension entries) in one ``predict`` at most; a batch is
            flushed as soon as this many rows wait. A single request with more rows runs alone.
        max_latency_ms: milliseconds the oldest waiting request waits at most before its batch is
            flushed, full or not (KServe's ``maxLatency``; MLServer's ``max_batch_time`` x 1000).
        timeout_s: seconds a caller waits for its batch's answer (queueing plus ``predict``) before
            it is answered 504 / ``DEADLINE_EXCEEDED``; ``None``: no limit (KServe's ``timeout``).
    """

    max_batch_size: int = 32
    max_latency_ms: float = 5000.0
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.max_latency_ms < 0:
            raise ValueError(f"max_latency_ms must be >= 0, got {self.max_latency_ms}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")

    @classmethod
    def from_mlserver(cls, max_batch_size: int, max_batch_time: float) -> BatchConfig:
        """The settings of MLServer's ``model-settings.json`` (``max_batch_time`` in seconds)."""
        return cls(max_batch_size=max_batch_size, max_latency_ms=max_batch_time * 1000.0)


class BatchPolicy:
    """The flush decision of one queue of same-shaped requests.

    Args:
        config: the model's batching settings.
    """

    __slots__ = ("max_latency", "max_rows")

    def __init__(self, config: BatchConfig) -> None:
        self.max_rows = config.max_batch_size
        self.max_latency = config.max_latency_ms / 1000.0

    def wait(self, now: float, oldest_arrival: float, waiting_rows: int) -> float:
        """Seconds to wait before flushing; ``0.0`` means flush now.

        Args:
            now: the current time (any monotonic clock, in seconds).
            oldest_arrival: when the oldest waiting request arrived (same clock).
            waiting_rows: rows waiting in the queue.

        Returns:
            ``0.0`` when the queue holds a full batch or the oldest request waited ``max_latency``;
            otherwise the time left until the oldest request's deadline.
        """
        if waiting_rows >= self.max_rows:
            return 0.0
        return max(0.0, oldest_arrival + self.max_latency - now)

    def take(self, rows: Sequence[int]) -> int:
        """How many of the waiting requests (oldest first, ``rows`` each) form the next batch.

        Requests are taken in order while their rows fit in ``max_batch_size``; the first one is
        always taken, so a request larger than the limit runs alone rather than never.

        Args:
            rows: rows of each waiting request, oldest first (not empty).

        Returns:
            The number of requests to take (at least 1).
        """
        total = rows[0]
        count = 1
        for size in rows[1:]:
            if total + size > self.max_rows:
                break
            total += size
            count += 1
        return count
