"""What the engine knows of a revision before running it, and what its revisions share.

:class:`RevisionSpec` is read from a ``serving.knative.dev/v1`` Revision, parsed with the apis types
and Knative's defaults (the serving container, init containers, annotations, ``containerConcurrency``,
``timeoutSeconds`` and the model's storage URI); :class:`RuntimeContext` holds what every running
revision shares (settings, image table, zygote, GPUs, folders).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeroserve.apis.knative.serving.v1 import Revision
from zeroserve.apis.knative.serving.v1.defaults import ServingDefaults, default_revision
from zeroserve.local.engine.cgroups import CpuControl
from zeroserve.local.engine.containers import ContainerRuntime
from zeroserve.local.engine.gpus import GpuAllocator
from zeroserve.local.engine.images import ImageTable
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.engine.zygote import Zygote

__all__ = ["STORAGE_INITIALIZER", "STORAGE_URI_ANNOTATION", "RevisionSpec", "RuntimeContext"]

STORAGE_URI_ANNOTATION = "internal.serving.kserve.io/storage-initializer-sourceuri"
"""KServe's annotation naming the model to download into ``/mnt/models`` before the container starts."""

STORAGE_INITIALIZER = "storage-initializer"
"""The init container KServe injects to download the model; the engine does its work in-process."""


@dataclass(frozen=True)
class RevisionSpec:
    """What the engine needs from a Revision object."""

    namespace: str
    name: str
    service: str
    """The Configuration (and Service) the revision belongs to."""
    container: dict[str, Any]
    """The serving container."""
    init_containers: list[dict[str, Any]] = field(default_factory=list)
    annotations: dict[str, str] = field(default_factory=dict)
    container_concurrency: int = 0
    timeout_seconds: float = 300.0
    storage_uri: str | None = None
    volumes: list[dict[str, Any]] = field(default_factory=list)
    """The pod's ``volumes`` (ConfigMap, Secret and emptyDir ones become folders, see :mod:`.volumes`)."""
    previously_ready: bool = False
    """The Revision's stored status says Ready (it served before the platform restarted, or before it
    was forgotten at zero): it stays Ready while its first instance starts, as at scale from zero."""

    @property
    def key(self) -> str:
        """``<namespace>/<name>``."""
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_object(cls, obj: Mapping[str, Any] | Revision, settings: EngineSettings) -> RevisionSpec:
        """Read a Revision (``serving.knative.dev/v1``), with Knative's defaults applied.

        Args:
            obj: the Revision, typed or as the API server returns it.
            settings: defaults for timeouts.

        Returns:
            The spec.
        """
        revision = obj if isinstance(obj, Revision) else Revision.from_dict(dict(obj))
        defaults = ServingDefaults(revision_timeout_seconds=int(settings.revision_timeout_seconds))
        revision = default_revision(revision, defaults)
        spec = revision.spec
        containers = [c.to_dict() for c in spec.containers or []] or [{}]
        serving = next((c for c in containers if c.get("ports")), containers[0])
        annotations = revision.annotations
        storage_uri = annotations.get(STORAGE_URI_ANNOTATION)
        if storage_uri is None:
            for item in serving.get("env") or []:
                if item.get("name") == "STORAGE_URI" and item.get("value") and "://" in str(item["value"]):
                    storage_uri = str(item["value"])
        init_containers = [c.to_dict() for c in spec.init_containers or []]
        initializer = next((c for c in init_containers if c.get("name") == STORAGE_INITIALIZER), None)
        if initializer is not None and initializer.get("env"):
            # credentials for this model alone (storage-config secret, service account): the
            # initializer container downloads with its own environment instead of the engine's
            storage_uri = None
        elif storage_uri is not None:
            # the engine downloads in-process through the storage layer (cache, mirrors), so the
            # injected initializer container would only repeat the work
            init_containers = [c for c in init_containers if c.get("name") != STORAGE_INITIALIZER]
        timeout = float(spec.timeout_seconds or settings.revision_timeout_seconds)
        return cls(
            namespace=revision.namespace or "default",
            name=revision.name,
            service=revision.labels.get("serving.knative.dev/configuration") or revision.name,
            container=serving,
            init_containers=init_containers,
            annotations=annotations,
            container_concurrency=int(spec.container_concurrency or 0),
            timeout_seconds=min(timeout, settings.max_revision_timeout_seconds),
            storage_uri=storage_uri,
            volumes=list(spec.volumes or []),
            previously_ready=revision.status is not None and revision.status.is_ready(),
        )


@dataclass
class RuntimeContext:
    """What every revision shares: settings, image table, container engine, zygote, GPUs and folders."""

    settings: EngineSettings
    images: ImageTable
    state_dir: Path
    gpus: GpuAllocator
    zygote: Zygote | None = None
    base_env: dict[str, str] = field(default_factory=dict)
    resolve_model: Callable[[str], Path] | None = None
    """Resolves a storage URI to a local file or folder (the storage layer); ``None`` disables it."""
    clock: Callable[[], float] = time.monotonic
    read_object: Callable[[str, str, str], dict[str, Any] | None] | None = None
    """Reads a ConfigMap or Secret from the API server (``kind, namespace, name``; ``None``: missing),
    for volumes and ``valueFrom`` env; ``None``: no API (such references are then missing)."""
    containers: ContainerRuntime = field(init=False)
    """Runs images the table does not know (made from the settings)."""
    cpu_control: CpuControl = field(init=False)
    """Enforces the CPU limits of process instances (cgroups, made from the settings)."""

    def __post_init__(self) -> None:
        self.containers = ContainerRuntime(
            self.settings.container_engine, self.state_dir, network=self.settings.container_network
        )
        settings = self.settings
        self.cpu_control = CpuControl(self.state_dir, settings.cgroup_root, throttle=settings.cpu_throttle)

    def log_dir(self, spec: RevisionSpec) -> Path:
        """Where a revision's instance logs go."""
        return self.state_dir / "engine" / "logs" / spec.namespace / spec.name

    def model_dir(self, spec: RevisionSpec) -> Path:
        """A revision's own model folder (``/mnt/models``)."""
        return self.state_dir / "engine" / "models" / spec.namespace / spec.name

    def volume_dir(self, spec: RevisionSpec) -> Path:
        """Where a revision's ConfigMap, Secret and emptyDir volumes are projected."""
        return self.state_dir / "engine" / "volumes" / spec.namespace / spec.name

    def run_dir(self) -> Path:
        """Ready files and other runtime scratch."""
        return self.state_dir / "engine" / "run"
