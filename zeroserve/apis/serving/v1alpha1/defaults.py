"""KServe's defaulting of an InferenceGraph, as a pure function.

:func:`default_inference_graph` returns a defaulted copy: ``minReplicas`` defaults to 1 (as for an
InferenceService's components; 0 lets the router scale to zero) and every step's ``dependency`` to
``Soft`` (the router's behaviour when it is unset). The router's timeouts are left unset; the router
applies KServe's values (:data:`DEFAULT_ROUTER_TIMEOUTS`).
"""

from __future__ import annotations

from zeroserve.apis.serving.v1alpha1.types import InferenceGraph

__all__ = [
    "DEFAULT_DEPENDENCY",
    "DEFAULT_MIN_REPLICAS",
    "DEFAULT_ROUTER_TIMEOUTS",
    "default_inference_graph",
]

DEFAULT_MIN_REPLICAS = 1
DEFAULT_DEPENDENCY = "Soft"
DEFAULT_ROUTER_TIMEOUTS: dict[str, int | None] = {
    "serverRead": 60,
    "serverWrite": 60,
    "serverIdle": 180,
    "serviceClient": None,
}
"""KServe's router timeouts in seconds; ``serviceClient`` unset means no client timeout."""


def default_inference_graph(graph: InferenceGraph) -> InferenceGraph:
    """Apply KServe's defaults.

    Args:
        graph: The InferenceGraph as the user wrote it.

    Returns:
        A defaulted deep copy; ``graph`` is unchanged. Defaulting twice changes nothing more.
    """
    result = graph.model_copy(deep=True)
    if result.spec.min_replicas is None:
        result.spec.min_replicas = DEFAULT_MIN_REPLICAS
    for router in result.spec.nodes.values():
        for step in router.steps or []:
            if step.dependency is None:
                step.dependency = DEFAULT_DEPENDENCY
    return result
