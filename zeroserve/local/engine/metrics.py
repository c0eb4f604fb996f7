"""Prometheus metrics of the engine, read from its state at scrape time.

The gateway only bumps a plain dict per response (``(namespace, revision, code) -> count``); this
collector turns that and each revision's instances, queue and concurrency into metric families when
``/metrics`` is scraped, so the request path pays for no metric objects or locks. One registry per
engine, never the global one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from zeroserve.local.engine.revision import RevisionRuntime

__all__ = ["EngineCollector", "render_metrics"]


class EngineCollector:
    """A Prometheus collector over the engine's live state."""

    def __init__(
        self,
        revisions: Callable[[], Mapping[tuple[str, str], RevisionRuntime]],
        responses: Mapping[tuple[str, str, int], int],
    ) -> None:
        """Create the collector.

        Args:
            revisions: returns the running revisions.
            responses: the gateway's response counts.
        """
        self._revisions = revisions
        self._responses = responses

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (called by the registry at scrape time)."""
        requests = CounterMetricFamily(
            "zeroserve_engine_requests",
            "Responses the gateway sent for a revision, by status code.",
            labels=["namespace", "revision", "code"],
        )
        for (namespace, revision, code), count in list(self._responses.items()):
            requests.add_metric([namespace, revision, str(code)], count)
        yield requests
        instances = GaugeMetricFamily(
            "zeroserve_engine_instances",
            "Instances of a revision: ready now, and desired by the autoscaler.",
            labels=["namespace", "revision", "state"],
        )
        pending = GaugeMetricFamily(
            "zeroserve_engine_activator_pending",
            "Requests waiting at the activator for an instance.",
            labels=["namespace", "revision"],
        )
        concurrency = GaugeMetricFamily(
            "zeroserve_engine_concurrency",
            "Requests in flight or queued for a revision (what the autoscaler averages).",
            labels=["namespace", "revision"],
        )
        for (namespace, name), rev in list(self._revisions().items()):
            instances.add_metric([namespace, name, "ready"], rev.ready_count)
            instances.add_metric([namespace, name, "desired"], rev.desired)
            pending.add_metric([namespace, name], rev.activator.pending)
            concurrency.add_metric([namespace, name], rev.activator.traffic.in_flight)
        yield instances
        yield pending
        yield concurrency


def render_metrics(collector: EngineCollector) -> bytes:
    """The Prometheus text exposition of one collector.

    Args:
        collector: the engine's collector.

    Returns:
        The text, UTF-8.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
