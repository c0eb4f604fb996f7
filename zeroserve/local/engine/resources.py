"""Pure builders of Knative objects and statuses: Service -> Configuration + Route,
Configuration -> Revision, Route traffic resolution, and the statuses each one reports.

Everything here takes dicts (objects as the API server returns them) and returns dicts, so the
reconciler stays a short get-or-create-and-propagate loop and these are tested as plain functions.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GROUP",
    "LABEL_CONFIGURATION",
    "LABEL_GENERATION",
    "LABEL_ROUTE",
    "LABEL_SERVICE",
    "ResolvedTraffic",
    "build_configuration",
    "build_revision",
    "build_route",
    "condition",
    "configuration_status",
    "resolve_traffic",
    "revision_name",
    "route_status",
    "service_status",
]

GROUP = "serving.knative.dev"
API_VERSION = f"{GROUP}/v1"
LABEL_SERVICE = f"{GROUP}/service"
LABEL_CONFIGURATION = f"{GROUP}/configuration"
LABEL_GENERATION = f"{GROUP}/configurationGeneration"
LABEL_ROUTE = f"{GROUP}/route"


def condition(kind: str, status: str | bool, reason: str = "", message: str = "") -> dict[str, str]:
    """A condition dict (``status`` as a bool becomes ``"True"``/``"False"``)."""
    value = ("True" if status else "False") if isinstance(status, bool) else status
    cond = {"type": kind, "status": value}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


def _owner(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj["metadata"]
    return {
        "apiVersion": obj.get("apiVersion", API_VERSION),
        "kind": obj["kind"],
        "name": meta["name"],
        "uid": meta.get("uid", ""),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in ((obj.get("metadata") or {}).get("labels") or {}).items()}


def build_configuration(service: Mapping[str, Any]) -> dict[str, Any]:
    """The Configuration a Knative Service owns (same name, the Service's template).

    Args:
        service: the Service.

    Returns:
        The Configuration.
    """
    meta = service["metadata"]
    return {
        "apiVersion": API_VERSION,
        "kind": "Configuration",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {**_labels(service), LABEL_SERVICE: meta["name"]},
            "ownerReferences": [_owner(service)],
        },
        "spec": {"template": copy.deepcopy((service.get("spec") or {}).get("template") or {})},
    }


def build_route(service: Mapping[str, Any]) -> dict[str, Any]:
    """The Route a Knative Service owns: its traffic, ``latestRevision`` targets pointed at its Configuration.

    Args:
        service: the Service.

    Returns:
        The Route.
    """
    meta = service["metadata"]
    traffic = copy.deepcopy((service.get("spec") or {}).get("traffic") or [])
    if not traffic:
        traffic = [{"latestRevision": True, "percent": 100}]
    for target in traffic:
        latest = target.get("latestRevision", not target.get("revisionName"))
        target["latestRevision"] = bool(latest)
        if latest:
            target.pop("revisionName", None)
            target["configurationName"] = meta["name"]
    return {
        "apiVersion": API_VERSION,
        "kind": "Route",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {**_labels(service), LABEL_SERVICE: meta["name"]},
            "ownerReferences": [_owner(service)],
        },
        "spec": {"traffic": traffic},
    }


def revision_name(configuration: Mapping[str, Any]) -> str:
    """The name of the Revision for the Configuration's current generation (``<name>-0000N``).

    Args:
        configuration: the Configuration.

    Returns:
        ``spec.template.metadata.name`` when given, else ``<configuration>-<generation:05d>``.
    """
    meta = configuration["metadata"]
    template_meta = ((configuration.get("spec") or {}).get("template") or {}).get("metadata") or {}
    if template_meta.get("name"):
        return str(template_meta["name"])
    return f"{meta['name']}-{int(meta.get('generation') or 1):05d}"


def build_revision(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """The immutable Revision stamped from the Configuration's template.

    Args:
        configuration: the Configuration.

    Returns:
        The Revision.
    """
    meta = configuration["metadata"]
    template = copy.deepcopy((configuration.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    labels = {
        **(template_meta.get("labels") or {}),
        LABEL_CONFIGURATION: meta["name"],
        LABEL_GENERATION: str(int(meta.get("generation") or 1)),
    }
    service = _labels(configuration).get(LABEL_SERVICE)
    if service:
        labels[LABEL_SERVICE] = service
    return {
        "apiVersion": API_VERSION,
        "kind": "Revision",
        "metadata": {
            "name": revision_name(configuration),
            "namespace": meta["namespace"],
            "labels": labels,
            "annotations": dict(template_meta.get("annotations") or {}),
            "ownerReferences": [_owner(configuration)],
        },
        "spec": template.get("spec") or {},
    }


def _ready(obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return dict(cond)
    return None


def configuration_status(
    configuration: Mapping[str, Any], revisions: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """A Configuration's status from its Revisions.

    ``latestCreatedRevisionName`` is the newest Revision; ``latestReadyRevisionName`` the newest one
    that is Ready. Ready follows the latest created Revision: False with ``RevisionFailed`` when it
    failed, True once it is Ready, Unknown while it deploys.

    Args:
        configuration: the Configuration.
        revisions: its Revisions (any order).

    Returns:
        The status.
    """
    ordered = sorted(revisions, key=lambda r: int(_labels(r).get(LABEL_GENERATION, "0")))
    status: dict[str, Any] = {"observedGeneration": (configuration["metadata"].get("generation") or 1)}
    if not ordered:
        status["conditions"] = [condition("Ready", "Unknown", "Deploying")]
        return status
    latest = ordered[-1]
    status["latestCreatedRevisionName"] = latest["metadata"]["name"]
    ready_names = [r["metadata"]["name"] for r in ordered if (_ready(r) or {}).get("status") == "True"]
    if ready_names:
        status["latestReadyRevisionName"] = ready_names[-1]
    latest_ready = _ready(latest) or {}
    if latest_ready.get("status") == "True":
        status["conditions"] = [condition("Ready", True)]
    elif latest_ready.get("status") == "False":
        message = (
            f"Revision {latest['metadata']['name']!r} failed with message: {latest_ready.get('message', '')}"
        )
        status["conditions"] = [condition("Ready", False, "RevisionFailed", message)]
    else:
        status["conditions"] = [condition("Ready", "Unknown", "Deploying")]
    return status


@dataclass
class ResolvedTraffic:
    """A Route's traffic with names resolved: what the gateway serves and the Route reports."""

    targets: list[tuple[str, int]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    status_traffic: list[dict[str, Any]] = field(default_factory=list)
    missing: str = ""
    """Why some traffic could not be assigned (empty when all of it was)."""


def resolve_traffic(
    route: Mapping[str, Any],
    configurations: Mapping[str, Mapping[str, Any]],
    revisions: Mapping[str, Mapping[str, Any]],
    domain: str,
) -> ResolvedTraffic:
    """Resolve a Route's targets to Revision names.

    Args:
        route: the Route.
        configurations: name -> Configuration in the Route's namespace.
        revisions: name -> Revision in the Route's namespace.
        domain: for tag URLs.

    Returns:
        The resolution.
    """
    meta = route["metadata"]
    out = ResolvedTraffic()
    percents: dict[str, int] = {}
    for target in (route.get("spec") or {}).get("traffic") or []:
        name: str | None
        if target.get("configurationName"):
            config = configurations.get(str(target["configurationName"]))
            name = ((config or {}).get("status") or {}).get("latestReadyRevisionName")
            if config is None:
                out.missing = (
                    f"Configuration {target['configurationName']!r} referenced in traffic not found."
                )
                continue
            if name is None:
                out.missing = (
                    f"Configuration {target['configurationName']!r} does not have any ready Revision."
                )
                continue
        else:
            name = str(target.get("revisionName") or "")
            if name not in revisions:
                out.missing = f"Revision {name!r} referenced in traffic not found."
                continue
        percent = int(target.get("percent") or 0)
        if percent:
            percents[name] = percents.get(name, 0) + percent
        entry: dict[str, Any] = {"revisionName": name, "percent": percent}
        if target.get("latestRevision"):
            entry["latestRevision"] = True
        else:
            entry["latestRevision"] = False
        if target.get("configurationName"):
            entry["configurationName"] = target["configurationName"]
        if target.get("tag"):
            tag = str(target["tag"])
            out.tags[tag] = name
            entry["tag"] = tag
            entry["url"] = f"http://{tag}-{meta['name']}.{meta['namespace']}.{domain}"
        out.status_traffic.append(entry)
    out.targets = [(n, p) for n, p in percents.items() if p > 0]
    return out


def route_status(route: Mapping[str, Any], resolved: ResolvedTraffic, domain: str) -> dict[str, Any]:
    """A Route's status.

    Args:
        route: the Route.
        resolved: its resolved traffic.
        domain: the external domain.

    Returns:
        The status (``url``, ``address``, ``traffic``, conditions).
    """
    meta = route["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    if resolved.missing:
        assigned = condition("AllTrafficAssigned", False, "RevisionMissing", resolved.missing)
        ready = condition("Ready", False, "RevisionMissing", resolved.missing)
    else:
        assigned = condition("AllTrafficAssigned", True)
        ready = condition("Ready", True)
    return {
        "observedGeneration": meta.get("generation") or 1,
        "url": f"http://{name}.{namespace}.{domain}",
        "address": {"url": f"http://{name}.{namespace}.svc.cluster.local"},
        "traffic": resolved.status_traffic,
        "conditions": [
            assigned,
            condition("CertificateProvisioned", True, "TLSNotEnabled"),
            condition(
                "IngressReady", not resolved.missing, "" if not resolved.missing else "RevisionMissing"
            ),
            ready,
        ],
    }


def service_status(
    service: Mapping[str, Any],
    configuration: Mapping[str, Any] | None,
    route: Mapping[str, Any] | None,
    config_status: Mapping[str, Any],
    route_st: Mapping[str, Any],
) -> dict[str, Any]:
    """A Knative Service's status, propagated from its Configuration and Route.

    Args:
        service: the Service.
        configuration: its Configuration (``None`` before it exists).
        route: its Route.
        config_status: the Configuration's fresh status.
        route_st: the Route's fresh status.

    Returns:
        The status.
    """
    meta = service["metadata"]
    status: dict[str, Any] = {"observedGeneration": meta.get("generation") or 1}
    for key in ("latestReadyRevisionName", "latestCreatedRevisionName"):
        if key in config_status:
            status[key] = config_status[key]
    if route is not None:
        status["url"] = route_st.get("url")
        status["address"] = route_st.get("address")
        status["traffic"] = route_st.get("traffic", [])
    config_ready = next((c for c in config_status.get("conditions", []) if c["type"] == "Ready"), None)
    route_ready = next((c for c in route_st.get("conditions", []) if c["type"] == "Ready"), None)
    cr = dict(config_ready or condition("Ready", "Unknown", "Deploying"))
    rr = dict(route_ready or condition("Ready", "Unknown", "Deploying"))
    cr["type"], rr["type"] = "ConfigurationsReady", "RoutesReady"
    if configuration is None:
        cr = condition("ConfigurationsReady", "Unknown", "Deploying")
    if cr["status"] == "False":
        top = {**cr, "type": "Ready"}
    elif rr["status"] == "False" and cr["status"] == "True":
        top = {**rr, "type": "Ready"}
    elif cr["status"] == "True" and rr["status"] == "True":
        top = condition("Ready", True)
    else:
        top = {**(cr if cr["status"] != "True" else rr), "type": "Ready"}
        top["status"] = "Unknown" if top["status"] != "False" else "False"
    status["conditions"] = [cr, rr, top]
    return status
