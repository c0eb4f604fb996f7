"""Prometheus metrics of the API server, on a registry the caller owns (no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["ApiServerMetrics"]


class ApiServerMetrics:
    """Request counts and latencies, labelled like kube-apiserver's.

    Args:
        registry: where the metrics are registered; a fresh one when omitted.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.requests = Counter(
            "apiserver_request_total",
            "Requests by verb, resource and HTTP code.",
            ["verb", "resource", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds",
            "Time to the response headers, by verb and resource (watches: until the stream starts).",
            ["verb", "resource"],
            registry=self.registry,
        )

    def observe(self, verb: str, resource: str, code: int, seconds: float) -> None:
        """Record one request.

        Args:
            verb: ``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``, ``delete`` ...
            resource: the plural resource name, or the path kind (``discovery``, ``openapi``).
            code: the HTTP status.
            seconds: how long it took.
        """
        self.requests.labels(verb, resource, str(code)).inc()
        self.latency.labels(verb, resource).observe(seconds)

    def render(self) -> bytes:
        """Returns: the metrics in the Prometheus text format."""
        return generate_latest(self.registry)
