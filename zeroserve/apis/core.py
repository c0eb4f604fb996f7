"""Kubernetes ``core/v1`` types the platform reads, modelled loosely.

Only the fields the controller and the local engine act on are named; everything else a user writes
in a container or a pod spec (probes' details, security contexts, volumes ...) is kept as given and
written back unchanged (:class:`~zeroserve.apis.meta.LooseModel`).
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from zeroserve.apis.meta import LooseModel, Quantity
from zeroserve.apis.structural import CORE_TYPE, PRESERVE

__all__ = [
    "Container",
    "ContainerPort",
    "EnvVar",
    "PodSpec",
    "ResourceRequirements",
]


class ResourceRequirements(LooseModel):
    """``resources``: ``limits`` and ``requests`` by resource name (``cpu``, ``nvidia.com/gpu`` ...)."""

    model_config = ConfigDict(json_schema_extra={PRESERVE: True, CORE_TYPE: "ResourceRequirements"})

    limits: dict[str, Quantity] | None = None
    requests: dict[str, Quantity] | None = None


class EnvVar(LooseModel):
    """``env[]``: a name with a value or a ``valueFrom`` source (kept as written)."""

    model_config = ConfigDict(json_schema_extra={PRESERVE: True, CORE_TYPE: "EnvVar"})

    name: str
    value: str | None = None
    value_from: dict[str, Any] | None = None


class ContainerPort(LooseModel):
    """``ports[]``."""

    model_config = ConfigDict(json_schema_extra={PRESERVE: True, CORE_TYPE: "ContainerPort"})

    container_port: int
    name: str | None = None
    protocol: str | None = None


class Container(LooseModel):
    """A container: what the engine needs to run it; other fields round-trip untouched."""

    model_config = ConfigDict(json_schema_extra={PRESERVE: True, CORE_TYPE: "Container"})

    name: str | None = None
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    env: list[EnvVar] | None = None
    ports: list[ContainerPort] | None = None
    resources: ResourceRequirements | None = None
    readiness_probe: dict[str, Any] | None = None
    liveness_probe: dict[str, Any] | None = None
    startup_probe: dict[str, Any] | None = None
    volume_mounts: list[dict[str, Any]] | None = None
    image_pull_policy: str | None = None


class PodSpec(LooseModel):
    """The pod-spec fields a component or revision template carries.

    Fields named here are the ones the platform reads; any other pod field is kept as an extra.
    """

    model_config = ConfigDict(json_schema_extra={PRESERVE: True, CORE_TYPE: "PodSpec"})

    containers: list[Container] | None = None
    init_containers: list[Container] | None = None
    volumes: list[dict[str, Any]] | None = None
    service_account_name: str | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, Any]] | None = None
    affinity: dict[str, Any] | None = None
    image_pull_secrets: list[dict[str, Any]] | None = None
