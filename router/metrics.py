"""Prometheus metrics of the router, per node and per step, on an injected registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

__all__ = ["RouterMetrics"]

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class RouterMetrics:
    """The router's counters and histograms.

    Args:
        registry: where the metrics are registered (one per app; never the global registry).
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "zeroserve_router_requests_total", "Graph requests by status code.", ["code"], registry=registry
        )
        self.node_requests = Counter(
            "zeroserve_router_node_requests_total",
            "Node executions by status code.",
            ["node", "code"],
            registry=registry,
        )
        self.node_latency = Histogram(
            "zeroserve_router_node_duration_seconds",
            "Node execution time.",
            ["node"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.step_requests = Counter(
            "zeroserve_router_step_requests_total",
            "Step calls by status code.",
            ["node", "step", "code"],
            registry=registry,
        )
        self.step_latency = Histogram(
            "zeroserve_router_step_duration_seconds",
            "Step call time.",
            ["node", "step"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.step_errors = Counter(
            "zeroserve_router_step_errors_total",
            "Failed step calls: a non-2xx answer ('status'), a timeout or a transport error.",
            ["node", "step", "reason"],
            registry=registry,
        )
        self.bandit_choices = Counter(
            "zeroserve_router_bandit_choices_total",
            "Bandit routing decisions.",
            ["node", "step"],
            registry=registry,
        )
        self.bandit_feedback = Counter(
            "zeroserve_router_bandit_feedback_total",
            "Feedback rewards applied.",
            ["node", "step"],
            registry=registry,
        )
        self.bandit_reward = Counter(
            "zeroserve_router_bandit_reward_total",
            "Sum of rewards applied.",
            ["node", "step"],
            registry=registry,
        )
