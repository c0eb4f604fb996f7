"""Prometheus metrics of the data plane, on an injected ``CollectorRegistry`` (never the global one).

Label children are cached per ``(model, protocol, status)`` so recording a request costs two
dictionary look-ups and two increments.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE", "ServerMetrics"]

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class ServerMetrics:
    """Request count, request latency, model load time, batch sizes and batch queue waits.

    Args:
        registry: where the metrics are registered; one per server (tests make their own).
        prefix: metric name prefix.
    """

    def __init__(self, registry: CollectorRegistry, prefix: str = "zeroserve") -> None:
        self.registry = registry
        labels = ("model", "protocol", "status")
        self.requests = Counter(
            f"{prefix}_requests", "Inference requests answered", labels, registry=registry
        )
        self.latency = Histogram(
            f"{prefix}_request_duration_seconds",
            "Time to answer an inference request",
            labels,
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.load_time = Histogram(
            f"{prefix}_model_load_seconds",
            "Time to load a model",
            ("model",),
            buckets=(0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=registry,
        )
        self.batch_size = Histogram(
            f"{prefix}_batch_size",
            "Rows in one batched predict call (adaptive batching)",
            ("model",),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=registry,
        )
        self.batch_wait = Histogram(
            f"{prefix}_batch_queue_seconds",
            "Time a request waited in the batcher's queue before its batch ran",
            ("model",),
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def observe_request(self, model: str, protocol: str, status: str, seconds: float) -> None:
        """Count one answered request and record its latency."""
        key = (model, protocol, status)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = (self.requests.labels(*key), self.latency.labels(*key))
        child[0].inc()
        child[1].observe(seconds)

    def observe_load(self, model: str, seconds: float) -> None:
        """Record how long loading ``model`` took."""
        self.load_time.labels(model).observe(seconds)

    def observe_batch(self, model: str, rows: int, waits: Sequence[float]) -> None:
        """Record one flushed batch: its rows, and how long each of its requests waited."""
        self.batch_size.labels(model).observe(rows)
        wait = self.batch_wait.labels(model)
        for seconds in waits:
            wait.observe(seconds)

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)
