"""InferenceGraph conditions and status propagation.

``Ready`` depends on ``RouterReady`` (the router's Knative Service) and ``ServicesReady`` (every
InferenceService a ``serviceName`` step refers to is ready; the controller requeues until then).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from zeroserve.apis.conditions import ConditionManager, ConditionSet
from zeroserve.apis.knative.serving.v1.types import ServiceStatus
from zeroserve.apis.serving.v1alpha1.types import InferenceGraph, InferenceGraphStatus

__all__ = [
    "CONDITIONS",
    "READY",
    "ROUTER_READY",
    "SERVICES_READY",
    "manage",
    "mark_services_not_ready",
    "mark_services_ready",
    "propagate_router_status",
]

READY = "Ready"
ROUTER_READY = "RouterReady"
SERVICES_READY = "ServicesReady"
CONDITIONS = ConditionSet.living(ROUTER_READY, SERVICES_READY)


def manage(graph: InferenceGraph, now: Callable[[], datetime] | None = None) -> ConditionManager:
    """A condition manager over ``graph.status`` (created when missing), initialized.

    Args:
        graph: The InferenceGraph; its status changes in place.
        now: The clock for transition times (real UTC time when omitted).

    Returns:
        The manager.
    """
    if graph.status is None:
        graph.status = InferenceGraphStatus()
    manager = CONDITIONS.manage(graph.status, now)
    manager.initialize()
    return manager


def propagate_router_status(
    graph: InferenceGraph, ksvc_status: ServiceStatus | None, now: Callable[[], datetime] | None = None
) -> None:
    """Copy the router Knative Service's readiness and URL onto the graph.

    Args:
        graph: The InferenceGraph.
        ksvc_status: The status of the Knative Service ``<graph>``; ``None`` while it does not exist.
        now: The clock for transition times.
    """
    manager = manage(graph, now)
    if ksvc_status is None:
        manager.mark_unknown(
            ROUTER_READY, "ServiceNotCreated", "the router's Knative Service is being created"
        )
        return
    ready = ksvc_status.get_condition("Ready")
    manager.propagate(ROUTER_READY, ready, "RouterNotReady")
    assert graph.status is not None
    if ready is not None and ready.is_true and ksvc_status.url:
        graph.status.url = ksvc_status.url


def mark_services_ready(graph: InferenceGraph, now: Callable[[], datetime] | None = None) -> None:
    """Mark ``ServicesReady``: every InferenceService the graph calls is ready.

    Args:
        graph: The InferenceGraph.
        now: The clock for transition times.
    """
    manage(graph, now).mark_true(SERVICES_READY)


def mark_services_not_ready(
    graph: InferenceGraph, waiting_for: list[str], now: Callable[[], datetime] | None = None
) -> None:
    """Mark ``ServicesReady`` unknown while some InferenceServices are not ready yet.

    Args:
        graph: The InferenceGraph.
        waiting_for: The names of the InferenceServices that are not ready.
        now: The clock for transition times.
    """
    message = "waiting for InferenceServices: " + ", ".join(waiting_for)
    manage(graph, now).mark_unknown(SERVICES_READY, "ServicesNotReady", message)
