"""Prometheus metrics of the payload logger, registered on an injected registry.

The event counters are plain ints in dicts (``metrics.queued[event_type] += 1``) that a collector
reports as Prometheus counters when the registry is scraped: counting an event on the request
path then costs a dict update instead of a locked ``Counter.inc``, which matters at two events
per inference. Scrapes run on the same event loop as the counting, so they see exact values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["LoggerMetrics"]

_COUNTERS = (
    (
        "queued",
        "zeroserve_logger_events_queued",
        "CloudEvents accepted into the payload logger's queue",
        "type",
    ),
    ("sent", "zeroserve_logger_events_sent", "CloudEvents delivered to the sink", "type"),
    ("retried", "zeroserve_logger_events_retried", "Send attempts that were retried", "type"),
    (
        "dropped",
        "zeroserve_logger_events_dropped",
        "CloudEvents given up on, by reason: queue_full, max_age, too_large, rejected, shutdown,"
        " retries_exhausted (only with max_attempts), send_error",
        "reason",
    ),
)


class LoggerMetrics(Collector):
    """Counters and gauges that show whether payload logging keeps up.

    Attributes:
        queued: events queued, by CloudEvent type.
        sent: events the sink accepted, by type.
        retried: send attempts retried, by type.
        dropped: events given up on, by reason.

    Args:
        registry: where the metrics are registered (one registry per process or per test).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.queued: defaultdict[str, int] = defaultdict(int)
        self.sent: defaultdict[str, int] = defaultdict(int)
        self.retried: defaultdict[str, int] = defaultdict(int)
        self.dropped: defaultdict[str, int] = defaultdict(int)
        registry.register(self)
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

    def collect(self) -> Iterator[Metric]:
        """The four event counters as Prometheus counter families (``..._total``)."""
        for attribute, name, documentation, label in _COUNTERS:
            family = CounterMetricFamily(name, documentation, labels=[label])
            for value, count in list(getattr(self, attribute).items()):
                family.add_metric([value], count)
            yield family

    def describe(self) -> Iterator[Metric]:
        """The families :meth:`collect` yields, without values (so registration checks names)."""
        for _, name, documentation, label in _COUNTERS:
            yield CounterMetricFamily(name, documentation, labels=[label])
