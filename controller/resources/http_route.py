"""The InferenceService's top-level route: a Gateway API ``HTTPRoute`` named ``<isvc>``.

KServe routes ``http://<isvc>.<ns>.<domain>`` with an Istio VirtualService. We use the Gateway API's
``HTTPRoute`` instead (``gateway.networking.k8s.io/v1``), because it is the one routing object every
ingress Knative supports understands (Istio, Contour, Envoy Gateway through net-gateway-api ...) and
the embedded engine implements it too (docs/contracts.md):

- ``hostnames``: the external host ``<isvc>.<ns>.<domain>`` and ``<isvc>.<ns>.svc.cluster.local``;
  only the latter when the InferenceService is private (:func:`is_cluster_local`: the label or
  annotation ``networking.knative.dev/visibility: cluster-local``, as Knative and KServe read it);
- ``parentRefs``: the ingress and cluster-local Gateways of the configuration (only the cluster-local
  one for a private InferenceService);
- rules, most specific first: ``^/v1/models/[\\w-]+:explain$`` -> the explainer (when there is one);
  ``PathPrefix /`` -> the transformer when there is one, else the predictor. Each rule rewrites the
  Host to the target Knative Service's cluster-local host (so Knative's ingress picks its route) and
  sends to the Kubernetes Service of that name on port 80.
"""

from __future__ import annotations

from typing import Any

from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.names import cluster_local_host, component_service_name, external_host
from zeroserve.controller.resources.constants import INFERENCE_SERVICE_LABEL, auth_annotations
from zeroserve.controller.resources.owner import owner_reference

__all__ = ["EXPLAIN_PATH_REGEX", "VISIBILITY", "build_http_route", "default_component", "is_cluster_local"]

EXPLAIN_PATH_REGEX = r"^/v1/models/[\w-]+:explain$"
VISIBILITY = "networking.knative.dev/visibility"
"""Knative's visibility key; ``cluster-local`` keeps a service off the external host."""


def is_cluster_local(labels: dict[str, str] | None, annotations: dict[str, str] | None) -> bool:
    """Whether an object's label or annotation :data:`VISIBILITY` says ``cluster-local``."""
    for source in (labels or {}, annotations or {}):
        if source.get(VISIBILITY, "").strip().lower() == "cluster-local":
            return True
    return False


def default_component(isvc: InferenceService) -> str:
    """The component that receives everything but ``:explain``: transformer if present, else predictor."""
    return "transformer" if isvc.spec.transformer is not None else "predictor"


def _parent_ref(gateway: str) -> dict[str, Any]:
    namespace, _, name = gateway.rpartition("/")
    ref: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name}
    if namespace:
        ref["namespace"] = namespace
    return ref


def _rule(
    isvc: InferenceService, component: str, match: dict[str, Any], config: ControllerConfig
) -> dict[str, Any]:
    namespace = isvc.namespace or "default"
    target = component_service_name(isvc.name, component)
    return {
        "matches": [match],
        "filters": [
            {
                "type": "URLRewrite",
                "urlRewrite": {"hostname": cluster_local_host(target, namespace, config.cluster_domain)},
            }
        ],
        "backendRefs": [{"group": "", "kind": "Service", "name": target, "port": 80}],
    }


def build_http_route(isvc: InferenceService, config: ControllerConfig) -> dict[str, Any]:
    """Build the ``HTTPRoute`` of an InferenceService.

    Args:
        isvc: the InferenceService.
        config: for the domain and the Gateways.

    Returns:
        The ``gateway.networking.k8s.io/v1`` HTTPRoute as a dict.
    """
    namespace = isvc.namespace or "default"
    rules = []
    if isvc.spec.explainer is not None:
        match = {"path": {"type": "RegularExpression", "value": EXPLAIN_PATH_REGEX}}
        rules.append(_rule(isvc, "explainer", match, config))
    rules.append(_rule(isvc, default_component(isvc), {"path": {"type": "PathPrefix", "value": "/"}}, config))
    metadata: dict[str, Any] = {
        "name": isvc.name,
        "namespace": namespace,
        "labels": {**isvc.labels, INFERENCE_SERVICE_LABEL: isvc.name},
        "ownerReferences": [owner_reference(isvc)],
    }
    if annotations := auth_annotations(isvc.annotations):
        metadata["annotations"] = annotations
    parents = [_parent_ref(config.ingress_gateway), _parent_ref(config.local_gateway)]
    hostnames = [
        external_host(isvc.name, namespace, config.domain),
        cluster_local_host(isvc.name, namespace, config.cluster_domain),
    ]
    if is_cluster_local(isvc.labels, isvc.annotations):
        parents, hostnames = parents[1:], hostnames[1:]
        metadata["labels"][VISIBILITY] = "cluster-local"
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": metadata,
        "spec": {"parentRefs": parents, "hostnames": hostnames, "rules": rules},
    }
