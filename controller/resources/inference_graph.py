"""InferenceGraph -> one Knative Service ``<graph>`` running the router (KServe's Knative mode).

The router's container runs ``["router", "--graph-json", <json>]`` on our image. The JSON is the
graph's spec with every ``serviceName`` step given its ``serviceUrl``: the InferenceService's
cluster-local address plus the path of its protocol (``/v1/models/<isvc>:predict``, or
``/v2/models/<isvc>/infer`` for the Open Inference Protocol), as KServe's graph controller resolves
it. Scaling fields become the same autoscaling annotations as an InferenceService component's.
"""

from __future__ import annotations

import json
from typing import Any

from zeroserve.apis.serving.v1alpha1 import BANDIT_ANNOTATION, InferenceGraph
from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.names import cluster_local_host
from zeroserve.controller.resources.autoscaling import autoscaling_annotations
from zeroserve.controller.resources.constants import INFERENCE_GRAPH_LABEL, auth_annotations
from zeroserve.controller.resources.containers import predictor_protocol
from zeroserve.controller.resources.knative_service import DISALLOWED_ANNOTATIONS
from zeroserve.controller.resources.owner import owner_reference

__all__ = [
    "ROUTER_CONTAINER",
    "ROUTER_RESOURCES",
    "build_graph_service",
    "graph_json",
    "referenced_services",
    "service_step_url",
]

ROUTER_CONTAINER = "router"
ROUTER_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "100m", "memory": "100Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
"""KServe's default router resources (``inferenceservice-config`` ``router``)."""


def referenced_services(graph: InferenceGraph) -> list[str]:
    """The InferenceServices the graph's steps name (``serviceName``), sorted, without repeats."""
    names = {
        step.service_name
        for node in graph.spec.nodes.values()
        for step in node.steps or []
        if step.service_name
    }
    return sorted(names)


def service_step_url(isvc: InferenceService, config: ControllerConfig) -> str:
    """The URL a graph step that names ``isvc`` posts to.

    Args:
        isvc: the InferenceService the step names.
        config: for the cluster domain.

    Returns:
        ``<status.address.url or http://<isvc>.<ns>.svc.cluster.local>`` + the protocol's path.
    """
    address = isvc.status.address.url if isvc.status and isvc.status.address else None
    if not address:
        address = (
            f"http://{cluster_local_host(isvc.name, isvc.namespace or 'default', config.cluster_domain)}"
        )
    if predictor_protocol(isvc) in ("v2", "grpc-v2"):
        return f"{address.rstrip('/')}/v2/models/{isvc.name}/infer"
    return f"{address.rstrip('/')}/v1/models/{isvc.name}:predict"


def graph_json(graph: InferenceGraph, service_urls: dict[str, str]) -> str:
    """The ``--graph-json`` argument: the spec with ``serviceName`` steps resolved to ``serviceUrl``.

    Args:
        graph: the InferenceGraph.
        service_urls: InferenceService name -> step URL (:func:`service_step_url`).

    Returns:
        Compact JSON of the spec, as KServe passes it; of the whole object (name, namespace and the
        ``serving.zeroserve.io/bandit`` annotation) when the graph has bandit nodes, which the router
        reads from there. Raises ``KeyError`` for a referenced service missing from ``service_urls``.
    """
    spec = graph.spec.to_dict()
    for node in spec.get("nodes", {}).values():
        for step in node.get("steps") or []:
            if step.get("serviceName"):
                step["serviceUrl"] = service_urls[step["serviceName"]]
    bandit = graph.annotations.get(BANDIT_ANNOTATION)
    if bandit is None:
        return json.dumps(spec, separators=(",", ":"))
    document = {
        "apiVersion": graph.API_VERSION,
        "kind": graph.KIND,
        "metadata": {
            "name": graph.name,
            "namespace": graph.namespace or "default",
            "annotations": {BANDIT_ANNOTATION: bandit},
        },
        "spec": spec,
    }
    return json.dumps(document, separators=(",", ":"))


def build_graph_service(
    graph: InferenceGraph, service_urls: dict[str, str], config: ControllerConfig
) -> dict[str, Any]:
    """Build the router's Knative Service of an InferenceGraph.

    Args:
        graph: the InferenceGraph.
        service_urls: InferenceService name -> step URL, for every referenced service.
        config: router image, propagated headers.

    Returns:
        The ``serving.knative.dev/v1`` Service as a dict.
    """
    spec = graph.spec
    namespace = graph.namespace or "default"
    labels = {**graph.labels, INFERENCE_GRAPH_LABEL: graph.name}
    user = {k: v for k, v in graph.annotations.items() if k not in DISALLOWED_ANNOTATIONS}
    annotations = {
        **user,
        **autoscaling_annotations(
            user, spec.min_replicas, spec.max_replicas, spec.scale_target, spec.scale_metric
        ),
    }
    container: dict[str, Any] = {
        "name": ROUTER_CONTAINER,
        "image": config.router_image,
        "args": ["router", "--graph-json", graph_json(graph, service_urls)],
        "ports": [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}],
        "resources": spec.resources.to_dict() if spec.resources else ROUTER_RESOURCES,
    }
    if config.router_propagate_headers:
        container["env"] = [{"name": "PROPAGATE_HEADERS", "value": ",".join(config.router_propagate_headers)}]
    pod: dict[str, Any] = {}
    if spec.timeout is not None:
        pod["timeoutSeconds"] = spec.timeout
    pod["containers"] = [container]
    for field, value in (
        ("affinity", spec.affinity),
        ("tolerations", spec.tolerations),
        ("nodeSelector", spec.node_selector),
        ("serviceAccountName", spec.service_account_name),
    ):
        if value:
            pod[field] = value
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": graph.name,
            "namespace": namespace,
            "labels": labels,
            "ownerReferences": [owner_reference(graph)],
            **({"annotations": auth} if (auth := auth_annotations(graph.annotations)) else {}),
        },
        "spec": {
            "template": {"metadata": {"labels": dict(labels), "annotations": annotations}, "spec": pod},
            "traffic": [{"latestRevision": True, "percent": 100}],
        },
    }
