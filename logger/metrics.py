"""Prometheus metrics of the payload logger, registered on an injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["LoggerMetrics"]


class LoggerMetrics:
    """Counters and gauges that show whether payload logging keeps up.

    Args:
        registry: where the metrics are registered (one registry per process or per test).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.queued = Counter(
            "zeroserve_logger_events_queued",
            "CloudEvents accepted into the payload logger's queue",
            ["type"],
            registry=registry,
        )
        self.sent = Counter(
            "zeroserve_logger_events_sent", "CloudEvents delivered to the sink", ["type"], registry=registry
        )
        self.retried = Counter(
            "zeroserve_logger_events_retried", "Send attempts that were retried", ["type"], registry=registry
        )
        self.dropped = Counter(
            "zeroserve_logger_events_dropped",
            "CloudEvents given up on, by reason: "
            "queue_full, too_large, retries_exhausted, rejected, shutdown",
            ["reason"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "zeroserve_logger_queue_depth", "CloudEvents waiting to be sent", registry=registry
        )
        self.queue_bytes = Gauge(
            "zeroserve_logger_queue_bytes", "Payload bytes waiting to be sent", registry=registry
        )
        self.send_latency = Histogram(
            "zeroserve_logger_send_seconds",
            "Latency of one send attempt to the sink",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )
