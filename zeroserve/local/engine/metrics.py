"""Prometheus metrics of the engine, read from its state at scrape time.

The gateway only bumps a plain dict per response (``(namespace, revision, code) -> count``); this
collector turns that and each revision's instances, queue and concurrency into metric families when
``/metrics`` is scraped, so the request path pays for no metric objects or locks. One registry per
engine, never the global one.

Next to ours (``zeroserve_engine_*``) it reports what Knative's activator and autoscaler decide on,
with Knative's names and labels (``namespace_name``, ``revision_name``, ``response_code``,
``response_code_class``): ``revision_request_count`` (a counter, so ``..._total`` in the text),
``revision_request_latencies`` (milliseconds, Knative's buckets), ``activator_request_concurrency``,
``autoscaler_desired_pods`` and ``autoscaler_actual_pods``; and each revision's cold starts
(``zeroserve_revision_cold_start_seconds``: from the request that woke a revision at zero to its
first ready instance). A process instance with a CPU limit reports how its limit held it back, as
cAdvisor reports a container's CFS throttling: ``zeroserve_engine_cpu_periods_total``,
``zeroserve_engine_cpu_throttled_periods_total`` and ``zeroserve_engine_cpu_throttled_seconds_total``
(its cgroup's ``cpu.stat``, or the throttle's own counts), and its limit with the mechanism that
enforces it (``zeroserve_engine_cpu_limit_cores``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

if TYPE_CHECKING:
    from zeroserve.local.engine.revision import RevisionRuntime

__all__ = ["ColdStarts", "EngineCollector", "RequestLatencies", "render_metrics"]

# Knative's request latency distribution (milliseconds).
_LATENCY_MS: tuple[float, ...] = (5, 10, 20, 40, 60, 80, 100, 150, 200, 250, 300, 350, 400, 450, 500)
_LATENCY_MS += (600, 700, 800, 900, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
_COLD_START_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class _Buckets:
    """Per-bucket counts (not cumulative) and a sum, over fixed upper bounds."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def cumulative(self) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, count in zip((*self.bounds, None), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound is None else str(float(bound)), float(running)))
        return out


class RequestLatencies:
    """The gateway's time to a revision's response per ``(namespace, revision)``, in milliseconds."""

    def __init__(self) -> None:
        self.by_revision: dict[tuple[str, str], _Buckets] = {}

    def observe(self, namespace: str, revision: str, seconds: float) -> None:
        """Record one response of ``namespace/revision`` that took ``seconds``."""
        buckets = self.by_revision.get((namespace, revision))
        if buckets is None:
            buckets = self.by_revision[(namespace, revision)] = _Buckets(_LATENCY_MS)
        buckets.observe(seconds * 1000.0)


class ColdStarts:
    """One revision's cold starts: from a request waking it at zero to its first ready instance."""

    def __init__(self) -> None:
        self.histogram = _Buckets(_COLD_START_S)
        self._since: float | None = None

    def begin(self, now: float) -> None:
        """A request found no ready instance at ``now`` (a later call while waiting changes nothing)."""
        if self._since is None:
            self._since = now

    def ready(self, now: float) -> None:
        """An instance became ready at ``now``: ends a cold start in progress."""
        if self._since is not None:
            self.histogram.observe(max(0.0, now - self._since))
            self._since = None


class EngineCollector:
    """A Prometheus collector over the engine's live state."""

    def __init__(
        self,
        revisions: Callable[[], Mapping[tuple[str, str], RevisionRuntime]],
        responses: Mapping[tuple[str, str, int], int],
        latencies: RequestLatencies | None = None,
    ) -> None:
        """Create the collector.

        Args:
            revisions: returns the running revisions.
            responses: the gateway's response counts.
            latencies: the gateway's response latencies per revision.
        """
        self._revisions = revisions
        self._responses = responses
        self._latencies = latencies

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (called by the registry at scrape time)."""
        requests = CounterMetricFamily(
            "zeroserve_engine_requests",
            "Responses the gateway sent for a revision, by status code.",
            labels=["namespace", "revision", "code"],
        )
        knative_requests = CounterMetricFamily(
            "revision_request_count",
            "The number of requests that are routed to the revision (Knative's name).",
            labels=["namespace_name", "revision_name", "response_code", "response_code_class"],
        )
        for (namespace, revision, code), count in list(self._responses.items()):
            requests.add_metric([namespace, revision, str(code)], count)
            knative_requests.add_metric([namespace, revision, str(code), f"{code // 100}xx"], count)
        yield requests
        yield knative_requests
        latencies = HistogramMetricFamily(
            "revision_request_latencies",
            "The response time in millisecond (Knative's name).",
            labels=["namespace_name", "revision_name"],
        )
        if self._latencies is not None:
            for (namespace, revision), buckets in list(self._latencies.by_revision.items()):
                latencies.add_metric([namespace, revision], buckets.cumulative(), buckets.total)
        yield latencies
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
        knative = ["namespace_name", "revision_name"]
        activator_concurrency = GaugeMetricFamily(
            "activator_request_concurrency",
            "Concurrent requests that are routed to Activator (Knative's name).",
            labels=knative,
        )
        desired = GaugeMetricFamily(
            "autoscaler_desired_pods", "Number of pods autoscaler wants to allocate", labels=knative
        )
        actual = GaugeMetricFamily(
            "autoscaler_actual_pods", "Number of pods that are allocated currently", labels=knative
        )
        cold = HistogramMetricFamily(
            "zeroserve_revision_cold_start_seconds",
            "Time from the request that woke a revision at zero to its first ready instance.",
            labels=knative,
        )
        for (namespace, name), rev in list(self._revisions().items()):
            instances.add_metric([namespace, name, "ready"], rev.ready_count)
            instances.add_metric([namespace, name, "desired"], rev.desired)
            pending.add_metric([namespace, name], rev.activator.pending)
            concurrency.add_metric([namespace, name], rev.activator.traffic.in_flight)
            activator_concurrency.add_metric([namespace, name], rev.activator.traffic.in_flight)
            desired.add_metric([namespace, name], rev.desired)
            actual.add_metric([namespace, name], rev.ready_count)
            starts = rev.cold_starts.histogram
            cold.add_metric([namespace, name], starts.cumulative(), starts.total)
        yield instances
        yield from self._cpu()
        yield pending
        yield concurrency
        yield activator_concurrency
        yield desired
        yield actual
        yield cold

    def _cpu(self) -> Iterator[Metric]:
        """Each process instance's CPU limit and throttling (one series per instance, as per pod)."""
        labels = ["namespace", "revision", "instance"]
        limit = GaugeMetricFamily(
            "zeroserve_engine_cpu_limit_cores",
            "An instance's limits.cpu and how it is enforced (cgroup1, cgroup2, throttle).",
            labels=[*labels, "mechanism"],
        )
        periods = CounterMetricFamily(
            "zeroserve_engine_cpu_periods", "Enforcement periods of an instance's CPU limit.", labels=labels
        )
        throttled = CounterMetricFamily(
            "zeroserve_engine_cpu_throttled_periods",
            "Periods in which an instance's CPU limit held it back.",
            labels=labels,
        )
        seconds = CounterMetricFamily(
            "zeroserve_engine_cpu_throttled_seconds",
            "Time an instance's CPU limit held it back.",
            labels=labels,
        )
        for (namespace, name), rev in list(self._revisions().items()):
            for inst in list(rev.instances):
                mechanism, stat = inst.cpu_mechanism, inst.cpu_stat()
                if mechanism is None or inst.cpu_limit is None:
                    continue
                values = [namespace, name, str(inst.id)]
                limit.add_metric([*values, mechanism], inst.cpu_limit)
                if stat is not None:
                    periods.add_metric(values, stat.periods)
                    throttled.add_metric(values, stat.throttled_periods)
                    seconds.add_metric(values, stat.throttled_seconds)
        yield limit
        yield periods
        yield throttled
        yield seconds


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
