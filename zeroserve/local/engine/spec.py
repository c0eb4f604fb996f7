"""What the engine knows of a revision before running it, and what its revisions share.

:class:`RevisionSpec` is read from a ``serving.knative.dev/v1`` Revision (the serving container, init
containers, annotations, ``containerConcurrency``, ``timeoutSeconds`` and the model's storage URI);
:class:`Condition` is a Knative condition; :class:`RuntimeContext` holds what every running revision
shares (settings, image table, zygote, GPUs, folders).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeroserve.local.engine.gpus import GpuAllocator
from zeroserve.local.engine.images import ImageTable
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.engine.zygote import Zygote

__all__ = ["STORAGE_INITIALIZER", "STORAGE_URI_ANNOTATION", "Condition", "RevisionSpec", "RuntimeContext"]

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

    @property
    def key(self) -> str:
        """``<namespace>/<name>``."""
        return f"{self.namespace}/{self.name}"

    @classmethod
    def from_object(cls, obj: Mapping[str, Any], settings: EngineSettings) -> RevisionSpec:
        """Read a Revision (``serving.knative.dev/v1``) as a dict.

        Args:
            obj: the Revision.
            settings: defaults for timeouts.

        Returns:
            The spec.
        """
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        containers = spec.get("containers") or [{}]
        serving = next((c for c in containers if c.get("ports")), containers[0])
        labels = meta.get("labels") or {}
        annotations = {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}
        storage_uri = annotations.get(STORAGE_URI_ANNOTATION)
        if storage_uri is None:
            for item in serving.get("env") or []:
                if item.get("name") == "STORAGE_URI" and item.get("value") and "://" in str(item["value"]):
                    storage_uri = str(item["value"])
        init_containers = list(spec.get("initContainers") or [])
        if storage_uri is not None:
            # the engine downloads in-process through the storage layer (cache, mirrors), so the
            # injected initializer container would only repeat the work
            init_containers = [c for c in init_containers if c.get("name") != STORAGE_INITIALIZER]
        timeout = float(spec.get("timeoutSeconds") or settings.revision_timeout_seconds)
        return cls(
            namespace=str(meta.get("namespace") or "default"),
            name=str(meta.get("name")),
            service=str(labels.get("serving.knative.dev/configuration") or meta.get("name")),
            container=dict(serving),
            init_containers=init_containers,
            annotations=annotations,
            container_concurrency=int(spec.get("containerConcurrency") or 0),
            timeout_seconds=min(timeout, settings.max_revision_timeout_seconds),
            storage_uri=storage_uri,
        )


@dataclass(frozen=True)
class Condition:
    """A Knative condition: ``status`` is ``"True"``, ``"False"`` or ``"Unknown"``."""

    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass
class RuntimeContext:
    """What every revision shares: settings, the image table, the zygote, GPUs and folders."""

    settings: EngineSettings
    images: ImageTable
    state_dir: Path
    gpus: GpuAllocator
    zygote: Zygote | None = None
    base_env: dict[str, str] = field(default_factory=dict)
    resolve_model: Callable[[str], Path] | None = None
    """Resolves a storage URI to a local file or folder (the storage layer); ``None`` disables it."""
    clock: Callable[[], float] = time.monotonic

    def log_dir(self, spec: RevisionSpec) -> Path:
        """Where a revision's instance logs go."""
        return self.state_dir / "engine" / "logs" / spec.namespace / spec.name

    def model_dir(self, spec: RevisionSpec) -> Path:
        """A revision's own model folder (``/mnt/models``)."""
        return self.state_dir / "engine" / "models" / spec.namespace / spec.name

    def run_dir(self) -> Path:
        """Ready files and other runtime scratch."""
        return self.state_dir / "engine" / "run"
