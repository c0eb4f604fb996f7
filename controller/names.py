"""Names, hosts and URLs of what the controller creates (KServe's and Knative's conventions).

Everything here is a pure function of names and the configured domain; builders and status code use
these so a name is spelled in exactly one place.
"""

from __future__ import annotations

__all__ = [
    "COMPONENTS",
    "cluster_local_host",
    "component_service_name",
    "external_host",
    "revision_name",
    "tag_host",
]

COMPONENTS: tuple[str, ...] = ("predictor", "transformer", "explainer")
"""Component names, in KServe's order."""


def component_service_name(isvc: str, component: str) -> str:
    """The Knative Service of a component: ``<isvc>-predictor`` (``-transformer``, ``-explainer``)."""
    return f"{isvc}-{component}"


def revision_name(service: str, generation: int) -> str:
    """Knative's revision name for a Configuration generation: ``<service>-00001``."""
    return f"{service}-{generation:05d}"


def external_host(name: str, namespace: str, domain: str) -> str:
    """``<name>.<namespace>.<domain>`` (Knative's default domain template)."""
    return f"{name}.{namespace}.{domain}"


def cluster_local_host(name: str, namespace: str, cluster_domain: str = "svc.cluster.local") -> str:
    """``<name>.<namespace>.svc.cluster.local``."""
    return f"{name}.{namespace}.{cluster_domain}"


def tag_host(tag: str, name: str, namespace: str, domain: str) -> str:
    """A traffic tag's host, Knative's tag template: ``<tag>-<name>.<namespace>.<domain>``."""
    return f"{tag}-{name}.{namespace}.{domain}"
