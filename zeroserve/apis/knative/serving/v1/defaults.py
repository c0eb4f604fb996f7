"""Knative Serving's defaulting of Service, Configuration, Revision and Route, as pure functions.

Knative's defaults (``config-defaults``): ``containerConcurrency`` 0 (no limit),
``timeoutSeconds`` 300, the container name ``user-container`` (``user-container-<i>`` when a
revision has several), and, for a Service or a Route without traffic, all traffic to the latest
ready revision (``[{latestRevision: true, percent: 100}]``). A traffic target that names neither a
revision nor ``latestRevision`` follows the latest revision. Each function returns a defaulted copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from zeroserve.apis.knative.serving.v1.types import (
    Configuration,
    Revision,
    RevisionSpec,
    Route,
    Service,
    TrafficTarget,
)

__all__ = [
    "ServingDefaults",
    "default_configuration",
    "default_revision",
    "default_revision_spec",
    "default_route",
    "default_service",
    "default_traffic",
]


@dataclass(frozen=True)
class ServingDefaults:
    """Knative's ``config-defaults`` values that defaulting uses."""

    container_concurrency: int = 0
    revision_timeout_seconds: int = 300
    user_container_name: str = "user-container"


def default_revision_spec(spec: RevisionSpec, config: ServingDefaults | None = None) -> RevisionSpec:
    """Default a revision spec (also a Service's or Configuration's template spec).

    Args:
        spec: The spec.
        config: The defaults; Knative's when omitted.

    Returns:
        A defaulted copy.
    """
    config = config or ServingDefaults()
    result = spec.model_copy(deep=True)
    if result.container_concurrency is None:
        result.container_concurrency = config.container_concurrency
    if result.timeout_seconds is None:
        result.timeout_seconds = config.revision_timeout_seconds
    containers = result.containers or []
    for index, container in enumerate(containers):
        if not container.name:
            single = len(containers) == 1
            container.name = config.user_container_name if single else f"{config.user_container_name}-{index}"
    return result


def default_traffic(traffic: list[TrafficTarget] | None) -> list[TrafficTarget]:
    """Default a traffic block: empty means all to the latest revision; targets with neither a
    revision name nor ``latestRevision`` follow the latest revision.

    Args:
        traffic: ``spec.traffic``.

    Returns:
        A defaulted copy.
    """
    if not traffic:
        return [TrafficTarget(latest_revision=True, percent=100)]
    result = [target.model_copy(deep=True) for target in traffic]
    for target in result:
        if target.latest_revision is None and not target.revision_name and not target.configuration_name:
            target.latest_revision = True
        elif target.latest_revision is None and target.revision_name:
            target.latest_revision = False
    return result


def default_service(service: Service, config: ServingDefaults | None = None) -> Service:
    """Default a Knative Service: its template and its traffic.

    Args:
        service: The Service.
        config: The defaults; Knative's when omitted.

    Returns:
        A defaulted copy.
    """
    result = service.model_copy(deep=True)
    result.spec.template.spec = default_revision_spec(result.spec.template.spec, config)
    result.spec.traffic = default_traffic(result.spec.traffic)
    return result


def default_configuration(
    configuration: Configuration, config: ServingDefaults | None = None
) -> Configuration:
    """Default a Configuration's template.

    Args:
        configuration: The Configuration.
        config: The defaults; Knative's when omitted.

    Returns:
        A defaulted copy.
    """
    result = configuration.model_copy(deep=True)
    result.spec.template.spec = default_revision_spec(result.spec.template.spec, config)
    return result


def default_revision(revision: Revision, config: ServingDefaults | None = None) -> Revision:
    """Default a Revision's spec.

    Args:
        revision: The Revision.
        config: The defaults; Knative's when omitted.

    Returns:
        A defaulted copy.
    """
    result = revision.model_copy(deep=True)
    result.spec = default_revision_spec(result.spec, config)
    return result


def default_route(route: Route) -> Route:
    """Default a Route's traffic.

    Args:
        route: The Route.

    Returns:
        A defaulted copy.
    """
    result = route.model_copy(deep=True)
    result.spec.traffic = default_traffic(result.spec.traffic)
    return result
