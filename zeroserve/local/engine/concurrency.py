"""What the autoscaler observes: a revision's requests in flight, integrated over time.

:class:`ConcurrencyRecorder` is told when a request arrives and when it finishes (queued requests
count: the activator holds them on the revision's behalf, as Knative's activator reports them),
and cuts the running integral into :class:`~zeroserve.local.engine.autoscaler.MetricSample` buckets.
Every method takes ``now``, so it is tested with a fake clock.
"""

from __future__ import annotations

from collections import deque

from zeroserve.local.engine.autoscaler import MetricSample

__all__ = ["ConcurrencyRecorder"]


class ConcurrencyRecorder:
    """Time-weighted concurrency and request rate of one revision."""

    def __init__(self, now: float, max_samples: int = 3600) -> None:
        """Start recording.

        Args:
            now: the current time.
            max_samples: samples kept (older ones are dropped).
        """
        self.in_flight = 0
        self._area = 0.0
        self._requests = 0
        self._last_change = now
        self._bucket_start = now
        self.samples: deque[MetricSample] = deque(maxlen=max_samples)

    def _advance(self, now: float) -> None:
        self._area += self.in_flight * (now - self._last_change)
        self._last_change = now

    def begin(self, now: float) -> None:
        """A request arrived.

        Args:
            now: the current time.
        """
        self._advance(now)
        self.in_flight += 1
        self._requests += 1

    def end(self, now: float) -> None:
        """A request finished (or gave up).

        Args:
            now: the current time.
        """
        self._advance(now)
        self.in_flight -= 1

    def sample(self, now: float, *, cpu: float = 0.0, memory: float = 0.0) -> MetricSample:
        """Close the current bucket and append its sample.

        Args:
            now: the current time (the bucket's end).
            cpu: the instances' average CPU utilization in the bucket (percent of request).
            memory: the instances' average resident memory (MiB).

        Returns:
            The sample.
        """
        self._advance(now)
        span = max(now - self._bucket_start, 1e-6)
        sample = MetricSample(
            time=now, concurrency=self._area / span, rps=self._requests / span, cpu=cpu, memory=memory
        )
        self._area = 0.0
        self._requests = 0
        self._bucket_start = now
        self.samples.append(sample)
        return sample
