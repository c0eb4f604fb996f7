"""Knative Serving conditions and their mark/propagate helpers (``*_lifecycle.go``).

- Service: ``Ready`` over ``ConfigurationsReady`` and ``RoutesReady``; :func:`propagate_configuration_status`
  and :func:`propagate_route_status` copy the children's state up, as Knative's service reconciler does.
- Configuration: ``Ready`` only; it follows the latest created revision (ready, failed or pending).
- Revision: ``Ready`` over ``ResourcesAvailable`` and ``ContainerHealthy``; ``Active`` is informational
  (``False`` with reason ``NoTraffic`` while scaled to zero, which does not make the revision unready).
- Route: ``Ready`` over ``AllTrafficAssigned``, ``IngressReady`` and ``CertificateProvisioned`` (``True``
  with reason ``TLSNotEnabled`` when no certificate is wanted).

Every helper takes the object, changes its status in place (creating it when missing) and accepts a
``now`` clock for transition times.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from zeroserve.apis.conditions import ConditionManager, ConditionSet
from zeroserve.apis.knative.serving.v1.types import (
    Configuration,
    ConfigurationStatus,
    Revision,
    RevisionStatus,
    Route,
    RouteStatus,
    Service,
    ServiceStatus,
    TrafficTarget,
)
from zeroserve.apis.meta import Addressable

__all__ = [
    "CONFIGURATION_CONDITIONS",
    "REVISION_CONDITIONS",
    "ROUTE_CONDITIONS",
    "SERVICE_CONDITIONS",
    "configuration_conditions",
    "mark_configuration_latest_created",
    "mark_configuration_latest_failed",
    "mark_configuration_latest_ready",
    "mark_revision_activating",
    "mark_revision_active",
    "mark_revision_container_healthy",
    "mark_revision_container_healthy_unknown",
    "mark_revision_container_unhealthy",
    "mark_revision_inactive",
    "mark_revision_resources_available",
    "mark_revision_resources_unavailable",
    "mark_revision_resources_unknown",
    "mark_route_configuration_failed",
    "mark_route_configuration_not_ready",
    "mark_route_ingress_not_ready",
    "mark_route_ingress_ready",
    "mark_route_missing_target",
    "mark_route_tls_not_enabled",
    "mark_route_traffic_assigned",
    "propagate_configuration_status",
    "propagate_route_status",
    "revision_conditions",
    "route_conditions",
    "service_conditions",
]

Clock = Callable[[], datetime] | None

SERVICE_CONDITIONS = ConditionSet.living("ConfigurationsReady", "RoutesReady")
CONFIGURATION_CONDITIONS = ConditionSet.living()
REVISION_CONDITIONS = ConditionSet.living("ResourcesAvailable", "ContainerHealthy")
ROUTE_CONDITIONS = ConditionSet.living("AllTrafficAssigned", "IngressReady", "CertificateProvisioned")


def service_conditions(service: Service, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Service's status (created when missing)."""
    if service.status is None:
        service.status = ServiceStatus()
    manager = SERVICE_CONDITIONS.manage(service.status, now)
    manager.initialize()
    return manager


def configuration_conditions(configuration: Configuration, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Configuration's status (created when missing)."""
    if configuration.status is None:
        configuration.status = ConfigurationStatus()
    manager = CONFIGURATION_CONDITIONS.manage(configuration.status, now)
    manager.initialize()
    return manager


def revision_conditions(revision: Revision, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Revision's status (created when missing)."""
    if revision.status is None:
        revision.status = RevisionStatus()
    manager = REVISION_CONDITIONS.manage(revision.status, now)
    manager.initialize()
    return manager


def route_conditions(route: Route, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Route's status (created when missing)."""
    if route.status is None:
        route.status = RouteStatus()
    manager = ROUTE_CONDITIONS.manage(route.status, now)
    manager.initialize()
    return manager


def propagate_configuration_status(
    service: Service, configuration: ConfigurationStatus, now: Clock = None
) -> None:
    """Copy a Configuration's revision names and readiness onto its Service.

    Args:
        service: The Service; its status changes in place.
        configuration: The status of the Service's Configuration.
        now: The clock for transition times.
    """
    manager = service_conditions(service, now)
    assert service.status is not None
    service.status.latest_created_revision_name = configuration.latest_created_revision_name
    service.status.latest_ready_revision_name = configuration.latest_ready_revision_name
    manager.propagate("ConfigurationsReady", configuration.get_condition("Ready"), "ConfigurationNotReady")


def propagate_route_status(service: Service, route: RouteStatus, now: Clock = None) -> None:
    """Copy a Route's URL, address, traffic and readiness onto its Service.

    Args:
        service: The Service; its status changes in place.
        route: The status of the Service's Route.
        now: The clock for transition times.
    """
    manager = service_conditions(service, now)
    assert service.status is not None
    service.status.url = route.url
    service.status.address = route.address.model_copy() if route.address is not None else None
    service.status.traffic = [TrafficTarget.model_validate(t.to_dict()) for t in route.traffic or []] or None
    manager.propagate("RoutesReady", route.get_condition("Ready"), "RouteNotReady")


def mark_configuration_latest_created(configuration: Configuration, revision: str, now: Clock = None) -> None:
    """Record a newly created revision; ``Ready`` is ``Unknown`` until it is ready or fails.

    Args:
        configuration: The Configuration.
        revision: The new revision's name.
        now: The clock for transition times.
    """
    manager = configuration_conditions(configuration, now)
    assert configuration.status is not None
    configuration.status.latest_created_revision_name = revision
    if configuration.status.latest_ready_revision_name != revision:
        manager.mark_unknown("Ready", "Deploying", f"Revision {revision!r} is being deployed.")


def mark_configuration_latest_ready(configuration: Configuration, revision: str, now: Clock = None) -> None:
    """Record that a revision became ready; the Configuration is ``Ready`` when it is the latest created.

    Args:
        configuration: The Configuration.
        revision: The ready revision's name.
        now: The clock for transition times.
    """
    manager = configuration_conditions(configuration, now)
    assert configuration.status is not None
    configuration.status.latest_ready_revision_name = revision
    if configuration.status.latest_created_revision_name == revision:
        manager.mark_true("Ready")


def mark_configuration_latest_failed(
    configuration: Configuration, revision: str, message: str, now: Clock = None
) -> None:
    """Record that the latest created revision failed (``Ready=False``, reason ``RevisionFailed``).

    Args:
        configuration: The Configuration.
        revision: The failed revision's name.
        message: The revision's failure message.
        now: The clock for transition times.
    """
    text = f"Revision {revision!r} failed with message: {message}."
    configuration_conditions(configuration, now).mark_false("Ready", "RevisionFailed", text)


def mark_revision_resources_available(revision: Revision, now: Clock = None) -> None:
    """``ResourcesAvailable=True``: the revision's instances could be started."""
    revision_conditions(revision, now).mark_true("ResourcesAvailable")


def mark_revision_resources_unavailable(
    revision: Revision, reason: str, message: str, now: Clock = None
) -> None:
    """``ResourcesAvailable=False``, e.g. reason ``ImageNotRunnable`` for an image with no local mapping."""
    revision_conditions(revision, now).mark_false("ResourcesAvailable", reason, message)


def mark_revision_container_healthy(revision: Revision, now: Clock = None) -> None:
    """``ContainerHealthy=True``: the container passed its readiness probe."""
    revision_conditions(revision, now).mark_true("ContainerHealthy")


def mark_revision_container_unhealthy(
    revision: Revision, reason: str, message: str, now: Clock = None
) -> None:
    """``ContainerHealthy=False``, e.g. reason ``ExitCode1`` with the process's last log lines."""
    revision_conditions(revision, now).mark_false("ContainerHealthy", reason, message)


def mark_revision_resources_unknown(
    revision: Revision, reason: str, message: str = "", now: Clock = None
) -> None:
    """``ResourcesAvailable=Unknown``, e.g. reason ``Deploying`` while the first instances start."""
    revision_conditions(revision, now).mark_unknown("ResourcesAvailable", reason, message)


def mark_revision_container_healthy_unknown(
    revision: Revision, reason: str, message: str = "", now: Clock = None
) -> None:
    """``ContainerHealthy=Unknown``: not known yet (or not knowable: the container cannot start)."""
    revision_conditions(revision, now).mark_unknown("ContainerHealthy", reason, message)


def mark_revision_activating(revision: Revision, reason: str, message: str = "", now: Clock = None) -> None:
    """``Active=Unknown`` (informational), e.g. reason ``Activating`` while instances start."""
    revision_conditions(revision, now).mark_unknown("Active", reason, message)


def mark_revision_active(revision: Revision, now: Clock = None) -> None:
    """``Active=True``: the revision has running instances."""
    revision_conditions(revision, now).mark_true("Active")


def mark_revision_inactive(
    revision: Revision, reason: str = "NoTraffic", message: str = "", now: Clock = None
) -> None:
    """``Active=False`` (informational), e.g. reason ``NoTraffic`` once scaled to zero."""
    revision_conditions(revision, now).mark_false(
        "Active", reason, message or "The target is not receiving traffic."
    )


def mark_route_traffic_assigned(route: Route, now: Clock = None) -> None:
    """``AllTrafficAssigned=True``: every traffic target resolved to a ready revision."""
    route_conditions(route, now).mark_true("AllTrafficAssigned")


def mark_route_missing_target(route: Route, kind: str, name: str, now: Clock = None) -> None:
    """``AllTrafficAssigned=False`` because a target does not exist (reason ``<Kind>Missing``).

    Args:
        route: The Route.
        kind: ``Revision`` or ``Configuration``.
        name: The missing object's name.
        now: The clock for transition times.
    """
    message = f"{kind} {name!r} referenced in traffic not found."
    route_conditions(route, now).mark_false("AllTrafficAssigned", f"{kind}Missing", message)


def mark_route_configuration_not_ready(route: Route, name: str, now: Clock = None) -> None:
    """``AllTrafficAssigned=Unknown``: a target follows a Configuration still waiting for a ready Revision.

    Args:
        route: The Route.
        name: The Configuration's name.
        now: The clock for transition times.
    """
    message = f"Configuration {name!r} is waiting for a Revision to become ready."
    route_conditions(route, now).mark_unknown("AllTrafficAssigned", "RevisionMissing", message)


def mark_route_configuration_failed(route: Route, name: str, now: Clock = None) -> None:
    """``AllTrafficAssigned=False``: a target follows a Configuration whose latest Revision failed.

    Args:
        route: The Route.
        name: The Configuration's name.
        now: The clock for transition times.
    """
    message = f"Configuration {name!r} does not have any ready Revision."
    route_conditions(route, now).mark_false("AllTrafficAssigned", "RevisionMissing", message)


def mark_route_tls_not_enabled(route: Route, now: Clock = None) -> None:
    """``CertificateProvisioned=True`` with reason ``TLSNotEnabled``: the route serves plain HTTP."""
    route_conditions(route, now).mark_true("CertificateProvisioned", "TLSNotEnabled")


def mark_route_ingress_ready(route: Route, url: str, address_url: str, now: Clock = None) -> None:
    """Set the Route's URL and address and mark ``IngressReady``.

    Args:
        route: The Route.
        url: ``http://<name>.<ns>.<domain>``.
        address_url: ``http://<name>.<ns>.svc.cluster.local``.
        now: The clock for transition times.
    """
    manager = route_conditions(route, now)
    assert route.status is not None
    route.status.url = url
    route.status.address = Addressable(url=address_url)
    manager.mark_true("IngressReady")


def mark_route_ingress_not_ready(route: Route, reason: str, message: str, now: Clock = None) -> None:
    """``IngressReady=Unknown`` while the gateway is being configured."""
    route_conditions(route, now).mark_unknown("IngressReady", reason, message)
