"""Pure builders of Knative objects and statuses: Service -> Configuration + Route,
Configuration -> Revision, Route traffic resolution, and the statuses each one reports.

Everything here works on the ``zeroserve.apis.knative.serving.v1`` types: the children are built from
the parent's typed spec (traffic through Knative's defaults), and statuses are marked in place with
the apis lifecycle helpers, whose condition manager alone stamps transition times (the ``now``
argument). The reconciler stays a short get-or-create-and-propagate loop and these are tested as
plain functions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from zeroserve.apis.knative.serving.v1 import (
    API_VERSION,
    Configuration,
    ConfigurationSpec,
    ConfigurationStatus,
    Revision,
    RevisionSpec,
    Route,
    RouteSpec,
    Service,
    TrafficTarget,
    lifecycle,
)
from zeroserve.apis.knative.serving.v1.defaults import default_traffic
from zeroserve.apis.meta import KubeObject, ObjectMeta, OwnerReference

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
    "mark_configuration_status",
    "mark_route_status",
    "mark_service_status",
    "resolve_traffic",
    "revision_name",
]

GROUP = "serving.knative.dev"
LABEL_SERVICE = f"{GROUP}/service"
LABEL_CONFIGURATION = f"{GROUP}/configuration"
LABEL_GENERATION = f"{GROUP}/configurationGeneration"
LABEL_ROUTE = f"{GROUP}/route"
DEPLOYING = "Deploying"

Clock = Callable[[], datetime] | None


def _owner(obj: KubeObject) -> OwnerReference:
    return OwnerReference(
        api_version=obj.api_version or API_VERSION,
        kind=obj.kind or type(obj).KIND,
        name=obj.name,
        uid=obj.metadata.uid or "",
        controller=True,
        block_owner_deletion=True,
    )


def _child_meta(service: Service) -> ObjectMeta:
    return ObjectMeta(
        name=service.name,
        namespace=service.namespace,
        labels={**service.labels, LABEL_SERVICE: service.name},
        owner_references=[_owner(service)],
    )


def build_configuration(service: Service) -> Configuration:
    """The Configuration a Knative Service owns (same name, the Service's template).

    Args:
        service: the Service.

    Returns:
        The Configuration.
    """
    template = service.spec.template.model_copy(deep=True)
    return Configuration(metadata=_child_meta(service), spec=ConfigurationSpec(template=template))


def build_route(service: Service) -> Route:
    """The Route a Knative Service owns: its traffic, ``latestRevision`` targets pointed at its Configuration.

    Args:
        service: the Service.

    Returns:
        The Route.
    """
    traffic = default_traffic(service.spec.traffic)
    for target in traffic:
        if target.latest_revision:
            target.revision_name = None
            target.configuration_name = service.name
    return Route(metadata=_child_meta(service), spec=RouteSpec(traffic=traffic))


def revision_name(configuration: Configuration) -> str:
    """The name of the Revision for the Configuration's current generation (``<name>-0000N``).

    Args:
        configuration: the Configuration.

    Returns:
        ``spec.template.metadata.name`` when given, else ``<configuration>-<generation:05d>``.
    """
    template_meta = configuration.spec.template.metadata
    if template_meta is not None and template_meta.name:
        return template_meta.name
    return f"{configuration.name}-{int(configuration.metadata.generation or 1):05d}"


def build_revision(configuration: Configuration) -> Revision:
    """The immutable Revision stamped from the Configuration's template.

    Args:
        configuration: the Configuration.

    Returns:
        The Revision.
    """
    template = configuration.spec.template.model_copy(deep=True)
    template_meta = template.metadata or ObjectMeta()
    labels = {
        **(template_meta.labels or {}),
        LABEL_CONFIGURATION: configuration.name,
        LABEL_GENERATION: str(int(configuration.metadata.generation or 1)),
    }
    service = configuration.labels.get(LABEL_SERVICE)
    if service:
        labels[LABEL_SERVICE] = service
    return Revision(
        metadata=ObjectMeta(
            name=revision_name(configuration),
            namespace=configuration.namespace,
            labels=labels,
            annotations=dict(template_meta.annotations or {}),
            owner_references=[_owner(configuration)],
        ),
        spec=template.spec if template.spec is not None else RevisionSpec(),
    )


def _generation(revision: Revision) -> int:
    try:
        return int(revision.labels.get(LABEL_GENERATION, "0"))
    except ValueError:
        return 0


def mark_configuration_status(
    configuration: Configuration, revisions: Sequence[Revision], now: Clock = None
) -> None:
    """Mark a Configuration's status from its Revisions.

    ``latestCreatedRevisionName`` is the newest Revision; ``latestReadyRevisionName`` the newest one
    that is Ready. Ready follows the latest created Revision: False with ``RevisionFailed`` when it
    failed, True once it is Ready, Unknown while it deploys.

    Args:
        configuration: the Configuration; its status changes in place.
        revisions: its Revisions (any order).
        now: the clock for transition times.
    """
    manager = lifecycle.configuration_conditions(configuration, now)
    status = configuration.status
    assert status is not None
    status.observed_generation = configuration.metadata.generation or 1
    ordered = sorted(revisions, key=_generation)
    if not ordered:
        manager.mark_unknown("Ready", DEPLOYING)
        return
    latest = ordered[-1]
    ready = [r.name for r in ordered if r.status is not None and r.status.is_ready()]
    if ready:
        status.latest_ready_revision_name = ready[-1]
    latest_ready = latest.status.get_condition("Ready") if latest.status is not None else None
    if latest_ready is not None and latest_ready.is_true:
        status.latest_created_revision_name = latest.name
        lifecycle.mark_configuration_latest_ready(configuration, latest.name, now)
    elif latest_ready is not None and latest_ready.is_false:
        status.latest_created_revision_name = latest.name
        lifecycle.mark_configuration_latest_failed(
            configuration, latest.name, latest_ready.message or "", now
        )
    else:
        lifecycle.mark_configuration_latest_created(configuration, latest.name, now)


@dataclass
class ResolvedTraffic:
    """A Route's traffic with names resolved: what the gateway serves and the Route reports."""

    targets: list[tuple[str, int]] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    status_traffic: list[TrafficTarget] = field(default_factory=list)
    missing: tuple[str, str] | None = None
    """Why some traffic could not be assigned: ``("Revision" | "Configuration", name)`` for a target
    that does not exist, ``("NotReady" | "Failed", configuration)`` for a Configuration with no ready
    Revision yet (its latest still deploying, or failed)."""


def resolve_traffic(
    route: Route,
    configurations: Mapping[str, Configuration],
    revisions: Mapping[str, Revision],
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
    out = ResolvedTraffic()
    percents: dict[str, int] = {}
    for target in route.spec.traffic or []:
        if target.configuration_name:
            config = configurations.get(target.configuration_name)
            if config is None:
                out.missing = ("Configuration", target.configuration_name)
                continue
            name = config.status.latest_ready_revision_name if config.status is not None else None
            if name is None:
                ready = config.status.get_condition("Ready") if config.status is not None else None
                failed = ready is not None and ready.is_false
                out.missing = ("Failed" if failed else "NotReady", target.configuration_name)
                continue
        else:
            name = target.revision_name or ""
            if name not in revisions:
                out.missing = ("Revision", name)
                continue
        percent = int(target.percent or 0)
        if percent:
            percents[name] = percents.get(name, 0) + percent
        entry = TrafficTarget(
            revision_name=name, percent=percent, latest_revision=bool(target.latest_revision)
        )
        if target.configuration_name:
            entry.configuration_name = target.configuration_name
        if target.tag:
            out.tags[target.tag] = name
            entry.tag = target.tag
            entry.url = f"http://{target.tag}-{route.name}.{route.namespace}.{domain}"
        out.status_traffic.append(entry)
    out.targets = [(n, p) for n, p in percents.items() if p > 0]
    return out


def mark_route_status(
    route: Route, resolved: ResolvedTraffic, domain: str, now: Clock = None, cluster_local: bool = False
) -> None:
    """Mark a Route's status: ``url``, ``address``, ``traffic`` and its conditions.

    Args:
        route: the Route; its status changes in place.
        resolved: its resolved traffic.
        domain: the external domain.
        now: the clock for transition times.
        cluster_local: the Route is private (Knative's visibility): its URL is the cluster-local one.
    """
    lifecycle.route_conditions(route, now)
    status = route.status
    assert status is not None
    status.observed_generation = route.metadata.generation or 1
    status.traffic = list(resolved.status_traffic)
    url = f"http://{route.name}.{route.namespace}.{domain}"
    address = f"http://{route.name}.{route.namespace}.svc.cluster.local"
    if cluster_local:
        url = address
    if resolved.missing is None:
        lifecycle.mark_route_traffic_assigned(route, now)
    elif resolved.missing[0] == "NotReady":
        lifecycle.mark_route_configuration_not_ready(route, resolved.missing[1], now)
    elif resolved.missing[0] == "Failed":
        lifecycle.mark_route_configuration_failed(route, resolved.missing[1], now)
    else:
        lifecycle.mark_route_missing_target(route, resolved.missing[0], resolved.missing[1], now)
    lifecycle.mark_route_tls_not_enabled(route, now)
    # the gateway serves a Route's hosts as soon as it has one (a target not assigned answers 503)
    lifecycle.mark_route_ingress_ready(route, url, address, now)


def mark_service_status(
    service: Service, configuration: Configuration | None, route: Route | None, now: Clock = None
) -> None:
    """Mark a Knative Service's status, propagated from its Configuration and Route.

    Args:
        service: the Service; its status changes in place.
        configuration: its Configuration with a fresh status (``None`` before it exists).
        route: its Route with a fresh status.
        now: the clock for transition times.
    """
    manager = lifecycle.service_conditions(service, now)
    status = service.status
    assert status is not None
    status.observed_generation = service.metadata.generation or 1
    # the Route first: a failed Configuration then gives the Service its reason (RevisionFailed, with
    # the revision's message) rather than the Route's RevisionMissing
    if route is None or route.status is None:
        manager.mark_unknown("RoutesReady", DEPLOYING)
    else:
        lifecycle.propagate_route_status(service, route.status, now)
    if configuration is None:
        manager.mark_unknown("ConfigurationsReady", DEPLOYING)
    else:
        lifecycle.propagate_configuration_status(service, configuration.status or ConfigurationStatus(), now)
