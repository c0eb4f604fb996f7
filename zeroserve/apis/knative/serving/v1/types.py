"""``serving.knative.dev/v1``: Service, Configuration, Revision and Route.

What the controller writes (Services) and the local serving engine reads and reconciles (all four).
Shapes follow Knative's CRDs: a Service is a Configuration (``template``) plus a Route (``traffic``);
a Revision's spec is a pod spec plus ``containerConcurrency`` and the timeouts.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from zeroserve.apis.core import PodSpec
from zeroserve.apis.meta import Addressable, KubeModel, KubeObject, ObjectMeta, Status, int_field

__all__ = [
    "API_VERSION",
    "Configuration",
    "ConfigurationSpec",
    "ConfigurationStatus",
    "ContainerStatus",
    "Revision",
    "RevisionSpec",
    "RevisionStatus",
    "RevisionTemplateSpec",
    "Route",
    "RouteSpec",
    "RouteStatus",
    "Service",
    "ServiceSpec",
    "ServiceStatus",
    "TrafficTarget",
]

API_VERSION = "serving.knative.dev/v1"


class RevisionSpec(PodSpec):
    """A Revision's spec: a pod spec plus the request concurrency limit and timeouts."""

    container_concurrency: int | None = int_field("int64")
    """Hard limit of in-flight requests per instance; 0 (the default) means unlimited."""
    timeout_seconds: int | None = int_field("int64")
    """Maximum request duration (default 300)."""
    response_start_timeout_seconds: int | None = int_field("int64")
    idle_timeout_seconds: int | None = int_field("int64")


class RevisionTemplateSpec(KubeModel):
    """``spec.template``: metadata (labels, autoscaling annotations) and the revision spec."""

    metadata: ObjectMeta | None = None
    spec: RevisionSpec = Field(default_factory=RevisionSpec)


class TrafficTarget(KubeModel):
    """``traffic[]``: a share of traffic for a revision (or the latest ready one), optionally tagged."""

    tag: str | None = None
    revision_name: str | None = None
    configuration_name: str | None = None
    latest_revision: bool | None = None
    percent: int | None = int_field("int64")
    url: str | None = None


class ConfigurationSpec(KubeModel):
    """A Configuration's spec: the template stamped into a new Revision on every change."""

    template: RevisionTemplateSpec = Field(default_factory=RevisionTemplateSpec)


class RouteSpec(KubeModel):
    """A Route's spec: the traffic split."""

    traffic: list[TrafficTarget] | None = None


class ServiceSpec(ConfigurationSpec, RouteSpec):
    """A Service's spec: ``template`` (its Configuration) and ``traffic`` (its Route)."""


class ConfigurationStatusFields(KubeModel):
    """The revision names a Configuration (and so a Service) reports."""

    latest_ready_revision_name: str | None = None
    latest_created_revision_name: str | None = None


class RouteStatusFields(KubeModel):
    """The URL, address and resolved traffic a Route (and so a Service) reports."""

    url: str | None = None
    address: Addressable | None = None
    traffic: list[TrafficTarget] | None = None


class ServiceStatus(Status, ConfigurationStatusFields, RouteStatusFields):
    """A Service's status: conditions ``Ready``, ``ConfigurationsReady``, ``RoutesReady``."""


class ConfigurationStatus(Status, ConfigurationStatusFields):
    """A Configuration's status: condition ``Ready``."""


class RouteStatus(Status, RouteStatusFields):
    """A Route's status: conditions ``Ready``, ``AllTrafficAssigned``, ``IngressReady``."""


class ContainerStatus(KubeModel):
    """``status.containerStatuses[]``: the image digest each container resolved to."""

    name: str | None = None
    image_digest: str | None = None


class RevisionStatus(Status):
    """A Revision's status: ``Ready``, ``ResourcesAvailable``, ``ContainerHealthy``, ``Active``; replicas."""

    log_url: str | None = None
    container_statuses: list[ContainerStatus] | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    actual_replicas: int | None = int_field("int32")
    desired_replicas: int | None = int_field("int32")


class Service(KubeObject):
    """A Knative ``Service`` (short names ``ksvc``, ``kservice``)."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Service"

    api_version: str | None = API_VERSION
    kind: str | None = "Service"
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus | None = None


class Configuration(KubeObject):
    """A Knative ``Configuration`` (short names ``config``, ``cfg``)."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Configuration"

    api_version: str | None = API_VERSION
    kind: str | None = "Configuration"
    spec: ConfigurationSpec = Field(default_factory=ConfigurationSpec)
    status: ConfigurationStatus | None = None


class Revision(KubeObject):
    """A Knative ``Revision`` (short name ``rev``): immutable once created."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Revision"

    api_version: str | None = API_VERSION
    kind: str | None = "Revision"
    spec: RevisionSpec = Field(default_factory=RevisionSpec)
    status: RevisionStatus | None = None


class Route(KubeObject):
    """A Knative ``Route`` (short name ``rt``)."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Route"

    api_version: str | None = API_VERSION
    kind: str | None = "Route"
    spec: RouteSpec = Field(default_factory=RouteSpec)
    status: RouteStatus | None = None
