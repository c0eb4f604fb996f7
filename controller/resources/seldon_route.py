"""A SeldonDeployment's external routing: a Gateway API ``HTTPRoute`` named ``<sdep>``.

As Seldon's Istio VirtualService, in Gateway API terms:

- ``hostnames``: ``<sdep>.<ns>.<domain>`` and ``<sdep>.<ns>.svc.cluster.local`` (Host routing);
- a rule ``PathPrefix /seldon/<ns>/<sdep>`` whose ``URLRewrite`` replaces that prefix with ``/`` (so
  ``/seldon/<ns>/<sdep>/api/v1.0/predictions`` reaches the orchestrator's engine API), and a rule
  ``PathPrefix /``;
- each rule's ``backendRefs`` are the live predictors' orchestrators with their ``traffic`` as
  ``weight`` (a backend-level ``URLRewrite`` sets the Host Knative routes by). ``shadow`` predictors
  get no backend: each live orchestrator sends them a copy of every prediction (``shadows`` in its
  ``--seldon-json``), which works behind any gateway (a ``RequestMirror`` as well would copy twice).
"""

from __future__ import annotations

import copy
from typing import Any

from zeroserve.apis.seldon import SeldonDeployment
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.names import cluster_local_host, external_host
from zeroserve.controller.resources.owner import owner_reference
from zeroserve.controller.resources.seldon_deployment import SELDON_DEPLOYMENT_LABEL, orchestrator_name

__all__ = ["build_seldon_route", "predictions_url", "seldon_path_prefix"]


def seldon_path_prefix(sdep: SeldonDeployment) -> str:
    """Seldon's ingress path prefix, ``/seldon/<namespace>/<deployment>``."""
    return f"/seldon/{sdep.namespace or 'default'}/{sdep.name}"


def predictions_url(sdep: SeldonDeployment, config: ControllerConfig) -> str:
    """``status.address.url``: the deployment's cluster-local predictions URL."""
    host = cluster_local_host(sdep.name, sdep.namespace or "default", config.cluster_domain)
    return f"http://{host}/api/v1.0/predictions"


def _parent_ref(gateway: str) -> dict[str, Any]:
    namespace, _, name = gateway.rpartition("/")
    ref: dict[str, Any] = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": name}
    if namespace:
        ref["namespace"] = namespace
    return ref


def build_seldon_route(sdep: SeldonDeployment, config: ControllerConfig) -> dict[str, Any]:
    """Build the deployment's ``HTTPRoute``.

    Args:
        sdep: the defaulted, valid deployment.
        config: domain, cluster domain and Gateways.

    Returns:
        The ``gateway.networking.k8s.io/v1`` HTTPRoute as a dict.
    """
    namespace = sdep.namespace or "default"
    backends: list[dict[str, Any]] = []
    hosts: list[str] = []
    for predictor in sdep.spec.predictors:
        service = orchestrator_name(sdep, predictor)
        host = cluster_local_host(service, namespace, config.cluster_domain)
        ref = {"group": "", "kind": "Service", "name": service, "port": 80}
        if predictor.shadow:
            continue
        hosts.append(host)
        backends.append(
            {
                **ref,
                "weight": predictor.traffic or 0,
                "filters": [{"type": "URLRewrite", "urlRewrite": {"hostname": host}}],
            }
        )
    # one backend: its Host rewrite at the rule level too, for gateways that read only rule filters
    single: dict[str, Any] = {"hostname": hosts[0]} if len(hosts) == 1 else {}
    prefix = seldon_path_prefix(sdep)
    rewrite = {**single, "path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}
    path_rule = {
        "matches": [{"path": {"type": "PathPrefix", "value": prefix}}],
        "filters": [{"type": "URLRewrite", "urlRewrite": rewrite}],
        "backendRefs": backends,
    }
    root_rule = {
        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
        "filters": [
            *([{"type": "URLRewrite", "urlRewrite": dict(single)}] if single else []),
        ],
        "backendRefs": copy.deepcopy(backends),
    }
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {
            "name": sdep.name,
            "namespace": namespace,
            "labels": {**sdep.labels, SELDON_DEPLOYMENT_LABEL: sdep.name},
            "ownerReferences": [owner_reference(sdep)],
        },
        "spec": {
            "parentRefs": [_parent_ref(config.ingress_gateway), _parent_ref(config.local_gateway)],
            "hostnames": [
                external_host(sdep.name, namespace, config.domain),
                cluster_local_host(sdep.name, namespace, config.cluster_domain),
            ],
            "rules": [path_rule, root_rule],
        },
    }
