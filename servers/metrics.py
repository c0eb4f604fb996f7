"""Prometheus metrics of the data plane, on an injected ``CollectorRegistry`` (never the global one).

Label children are cached per ``(model, protocol, status)`` so recording a request costs two
dictionary look-ups and two increments. KServe's per-model phase histograms
(``request_preprocess_seconds``, ``request_predict_seconds``, ``request_postprocess_seconds``,
``request_explain_seconds``, label ``model_name``, Prometheus' default buckets, as KServe's Python
server registers them) are plain bucket lists a model's statistics own and a collector reads at
scrape time, so a request pays one ``bisect`` and two additions per phase.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

__all__ = ["CONTENT_TYPE", "InferenceStatistics", "PhaseTimers", "ServerMetrics"]

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
        self._phases: dict[str, PhaseTimers] = {}
        registry.register(_PhaseCollector(self._phases))

    def phase_timers(self, model: str) -> PhaseTimers:
        """The KServe phase histograms of ``model`` (made on first use, kept while the server runs)."""
        timers = self._phases.get(model)
        if timers is None:
            timers = self._phases[model] = PhaseTimers()
        return timers

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


# Prometheus' default buckets, the ones KServe's Python server histograms use.
_KSERVE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
_KSERVE_PHASES = (
    ("preprocess", "request_preprocess_seconds", "pre-process request latency"),
    ("predict", "request_predict_seconds", "predict request latency"),
    ("postprocess", "request_postprocess_seconds", "post-process request latency"),
    ("explain", "request_explain_seconds", "explain request latency"),
)
# Bucket bounds in nanoseconds, so observing needs no division.
_KSERVE_BOUNDS_NS = tuple(int(bound * 1e9) for bound in _KSERVE_BUCKETS)


class _NsHistogram:
    """A histogram over nanosecond durations: per-bucket counts (not cumulative) and a sum."""

    __slots__ = ("counts", "sum_ns")

    def __init__(self) -> None:
        self.counts = [0] * (len(_KSERVE_BOUNDS_NS) + 1)
        self.sum_ns = 0

    def observe(self, ns: int) -> None:
        self.counts[bisect_left(_KSERVE_BOUNDS_NS, ns)] += 1
        self.sum_ns += ns

    def buckets(self) -> list[tuple[str, float]]:
        total = 0
        out = []
        for bound, count in zip((*_KSERVE_BUCKETS, float("inf")), self.counts, strict=True):
            total += count
            out.append((str(bound) if bound != float("inf") else "+Inf", float(total)))
        return out


class PhaseTimers:
    """One model's KServe phase histograms: ``preprocess``, ``predict``, ``postprocess``, ``explain``."""

    __slots__ = ("explain", "postprocess", "predict", "preprocess")

    def __init__(self) -> None:
        self.preprocess = _NsHistogram()
        self.predict = _NsHistogram()
        self.postprocess = _NsHistogram()
        self.explain = _NsHistogram()


class _PhaseCollector:
    """Reports every model's :class:`PhaseTimers` as KServe's four histogram families."""

    def __init__(self, phases: dict[str, PhaseTimers]) -> None:
        self._phases = phases

    def collect(self) -> Iterator[Metric]:
        for attribute, name, documentation in _KSERVE_PHASES:
            family = HistogramMetricFamily(name, documentation, labels=["model_name"])
            for model, timers in list(self._phases.items()):
                histogram: _NsHistogram = getattr(timers, attribute)
                family.add_metric([model], histogram.buckets(), histogram.sum_ns / 1e9)
            yield family

    def describe(self) -> Iterator[Metric]:
        for _, name, documentation in _KSERVE_PHASES:
            yield HistogramMetricFamily(name, documentation, labels=["model_name"])


class _Duration:
    __slots__ = ("count", "ns")

    def __init__(self) -> None:
        self.count = 0
        self.ns = 0

    def add(self, ns: int) -> None:
        self.count += 1
        self.ns += ns

    def to_json(self) -> dict[str, int]:
        return {"count": self.count, "ns": self.ns}


class InferenceStatistics:
    """One model's inference statistics, as Triton reports them (``/v2/models/<m>/stats``).

    Requests are counted as ``success`` / ``fail`` with their whole duration, batcher waits as
    ``queue``; each model execution (one ``predict``, batched or not) as ``execution_count``, its
    rows as ``inference_count``, and ``preprocess`` / ``predict`` / ``postprocess`` as
    ``compute_input`` / ``compute_infer`` / ``compute_output``, per batch size too.

    Args:
        timers: the model's KServe phase histograms, observed with each execution's phases.
    """

    __slots__ = (
        "batches",
        "compute_infer",
        "compute_input",
        "compute_output",
        "execution_count",
        "fail",
        "inference_count",
        "last_inference_ms",
        "queue",
        "success",
        "timers",
    )

    def __init__(self, timers: PhaseTimers | None = None) -> None:
        self.timers = timers
        """KServe's phase histograms of the model, fed by :meth:`record_execution` when set."""
        self.success = _Duration()
        self.fail = _Duration()
        self.queue = _Duration()
        self.compute_input = _Duration()
        self.compute_infer = _Duration()
        self.compute_output = _Duration()
        self.inference_count = 0
        self.execution_count = 0
        self.last_inference_ms = 0
        self.batches: dict[int, tuple[_Duration, _Duration, _Duration]] = {}

    def record_request(self, ok: bool, ns: int, now_ms: int) -> None:
        """Count one answered request (``ok``: a success) that took ``ns`` nanoseconds."""
        (self.success if ok else self.fail).add(ns)
        self.last_inference_ms = now_ms

    def record_execution(self, rows: int, input_ns: int, infer_ns: int, output_ns: int) -> None:
        """Count one model execution over ``rows`` rows with its three phases' durations."""
        self.execution_count += 1
        self.inference_count += rows
        self.compute_input.add(input_ns)
        self.compute_infer.add(infer_ns)
        self.compute_output.add(output_ns)
        batch = self.batches.get(rows)
        if batch is None:
            batch = self.batches[rows] = (_Duration(), _Duration(), _Duration())
        batch[0].add(input_ns)
        batch[1].add(infer_ns)
        batch[2].add(output_ns)
        timers = self.timers
        if timers is not None:
            timers.preprocess.observe(input_ns)
            timers.predict.observe(infer_ns)
            timers.postprocess.observe(output_ns)

    def record_explain(self, ns: int) -> None:
        """Record one ``explain`` call that took ``ns`` nanoseconds (KServe's explain histogram)."""
        if self.timers is not None:
            self.timers.explain.observe(ns)

    def to_json(self, name: str, version: str = "") -> dict[str, Any]:
        """The model's entry of Triton's ``model_stats`` list."""
        empty = {"count": 0, "ns": 0}
        return {
            "name": name,
            "version": version,
            "last_inference": self.last_inference_ms,
            "inference_count": self.inference_count,
            "execution_count": self.execution_count,
            "inference_stats": {
                "success": self.success.to_json(),
                "fail": self.fail.to_json(),
                "queue": self.queue.to_json(),
                "compute_input": self.compute_input.to_json(),
                "compute_infer": self.compute_infer.to_json(),
                "compute_output": self.compute_output.to_json(),
                "cache_hit": dict(empty),
                "cache_miss": dict(empty),
            },
            "batch_stats": [
                {
                    "batch_size": size,
                    "compute_input": phases[0].to_json(),
                    "compute_infer": phases[1].to_json(),
                    "compute_output": phases[2].to_json(),
                }
                for size, phases in sorted(self.batches.items())
            ],
        }
