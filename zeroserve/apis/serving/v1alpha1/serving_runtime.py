"""``serving.kserve.io/v1alpha1`` ServingRuntime, ClusterServingRuntime and TrainedModel.

Field names follow KServe's CRDs (``servingruntimes``, ``clusterservingruntimes`` and
``trainedmodels.serving.kserve.io``). A (Cluster)ServingRuntime is a pod template for the model
servers of some model formats; the controller picks one for each predictor ``model`` (see
:mod:`.runtime_selection`) and merges its container with the predictor's. A TrainedModel is one more
model loaded into a running multi-model predictor.
"""

from __future__ import annotations

from typing import ClassVar

from zeroserve.apis.core import Container
from zeroserve.apis.meta import Addressable, KubeModel, KubeObject, LooseModel, Status, int_field

__all__ = [
    "ClusterServingRuntime",
    "ModelSpecTM",
    "ServingRuntime",
    "ServingRuntimeSpec",
    "SupportedModelFormat",
    "TrainedModel",
    "TrainedModelSpec",
    "TrainedModelStatus",
]

_API_VERSION = "serving.kserve.io/v1alpha1"


class SupportedModelFormat(KubeModel):
    """``supportedModelFormats[]``: a model format the runtime serves."""

    name: str
    """The format's name, compared case-insensitively with ``modelFormat.name``."""
    version: str | None = None
    """The format's version; a model asking for a version needs an equal one (major version)."""
    auto_select: bool | None = None
    """Whether the runtime may be chosen for this format without ``model.runtime`` naming it."""
    priority: int | None = int_field("int32")
    """Among auto-selectable runtimes of the same scope, the highest priority wins (needs autoSelect)."""


class ServingRuntimeSpec(LooseModel):
    """``spec`` of a ServingRuntime / ClusterServingRuntime: supported formats and a pod template."""

    supported_model_formats: list[SupportedModelFormat] | None = None
    """The model formats this runtime serves."""
    multi_model: bool | None = None
    """Whether the runtime serves many models at once (TrainedModels); such a runtime is never
    selected for an InferenceService's own model."""
    disabled: bool | None = None
    """A disabled runtime is never selected, nor usable by name."""
    protocol_versions: list[str] | None = None
    """Inference protocols served (``v1``, ``v2``, ``grpc-v1``, ``grpc-v2``); ``[v1]`` when unset."""
    containers: list[Container]
    """The model server's containers; the one named ``kserve-container`` (else the first) is merged
    with the predictor's model container. ``{{.Name}}``, ``{{.Namespace}}`` and ``{{.Version}}`` in
    images and arguments are filled in."""
    annotations: dict[str, str] | None = None
    """Annotations for the predictor's pods."""
    labels: dict[str, str] | None = None
    """Labels for the predictor's pods."""
    grpc_endpoint: str | None = None
    grpc_data_endpoint: str | None = None
    http_data_endpoint: str | None = None
    replicas: int | None = int_field("int32")
    storage_helper: dict[str, bool] | None = None
    """``disabled: true`` skips the storage-initializer (the runtime fetches the model itself)."""
    built_in_adapter: dict[str, object] | None = None
    volumes: list[dict[str, object]] | None = None
    node_selector: dict[str, str] | None = None
    tolerations: list[dict[str, object]] | None = None
    affinity: dict[str, object] | None = None
    image_pull_secrets: list[dict[str, object]] | None = None

    def protocols(self) -> list[str]:
        """``protocolVersions``, or KServe's default ``[v1]``."""
        return list(self.protocol_versions or ["v1"])


class ServingRuntime(KubeObject):
    """A namespaced runtime: chosen before any ClusterServingRuntime for models in its namespace."""

    API_VERSION: ClassVar[str] = _API_VERSION
    KIND: ClassVar[str] = "ServingRuntime"

    api_version: str | None = _API_VERSION
    kind: str | None = "ServingRuntime"
    spec: ServingRuntimeSpec
    status: dict[str, object] | None = None


class ClusterServingRuntime(KubeObject):
    """A cluster-wide runtime (``zeroserve up`` installs the built-in ones, ``config/runtimes``)."""

    API_VERSION: ClassVar[str] = _API_VERSION
    KIND: ClassVar[str] = "ClusterServingRuntime"

    api_version: str | None = _API_VERSION
    kind: str | None = "ClusterServingRuntime"
    spec: ServingRuntimeSpec
    status: dict[str, object] | None = None


class ModelSpecTM(KubeModel):
    """``spec.model`` of a TrainedModel."""

    storage_uri: str
    """Where the model's files are (any storage URI the storage-initializer reads)."""
    framework: str
    """The model format; the InferenceService's runtime must list it."""
    memory: str
    """The memory the model needs (a quantity, e.g. ``256Mi``), accounted against the predictor's."""


class TrainedModelSpec(KubeModel):
    """``spec`` of a TrainedModel."""

    inference_service: str
    """The InferenceService (same namespace) whose predictor serves the model."""
    model: ModelSpecTM


class TrainedModelStatus(Status):
    """``status`` of a TrainedModel: its URL and KServe's conditions."""

    url: str | None = None
    address: Addressable | None = None
    annotations: dict[str, str] | None = None


class TrainedModel(KubeObject):
    """A model loaded into a running multi-model InferenceService."""

    API_VERSION: ClassVar[str] = _API_VERSION
    KIND: ClassVar[str] = "TrainedModel"

    api_version: str | None = _API_VERSION
    kind: str | None = "TrainedModel"
    spec: TrainedModelSpec
    status: TrainedModelStatus | None = None
