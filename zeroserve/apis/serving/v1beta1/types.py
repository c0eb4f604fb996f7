"""``serving.kserve.io/v1beta1`` InferenceService: the spec and status types.

Field names and shapes follow KServe's CRD (``inferenceservices.serving.kserve.io``). A component
(predictor, transformer, explainer) is a pod spec (:class:`~zeroserve.apis.core.PodSpec`, loose)
plus :class:`ComponentExtensionSpec` (scaling, timeout, canary, logger, batcher ...). The predictor
adds one of its implementations: ``model`` (:class:`ModelSpec`), a legacy framework key
(``sklearn``, ``xgboost`` ... as :class:`PredictorExtensionSpec`, rewritten to ``model`` by
:func:`zeroserve.apis.serving.v1beta1.defaults.default_inference_service`), or custom ``containers``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zeroserve.apis.core import Container, PodSpec
from zeroserve.apis.meta import Addressable, KubeModel, KubeObject, LooseModel, Status, enum_field, int_field

__all__ = [
    "API_VERSION",
    "GROUP",
    "LEGACY_FRAMEWORKS",
    "Batcher",
    "CanarySpec",
    "ComponentExtensionSpec",
    "ComponentSpec",
    "ComponentStatusSpec",
    "ExplainerSpec",
    "InferenceService",
    "InferenceServiceSpec",
    "InferenceServiceStatus",
    "LoggerSpec",
    "LoggerStorageSpec",
    "ModelFormat",
    "ModelSpec",
    "PredictorExtensionSpec",
    "PredictorSpec",
    "StorageSpec",
    "StorageUri",
    "TrafficTarget",
    "TransformerSpec",
]

GROUP = "serving.kserve.io"
API_VERSION = "serving.kserve.io/v1beta1"

LEGACY_FRAMEWORKS: tuple[str, ...] = (
    "sklearn",
    "xgboost",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "lightgbm",
    "paddle",
)
"""The predictor's framework keys, in KServe's order; the defaults rewrite each to ``model``."""


class StorageSpec(KubeModel):
    """``storage``: a model location through a storage secret key (KServe's ``StorageSpec``)."""

    path: str | None = None
    schema_path: str | None = None
    parameters: dict[str, str] | None = None
    key: str | None = None


class StorageUri(KubeModel):
    """``storageUris[]``: an extra model URI and where to mount it."""

    uri: str
    mount_path: str | None = None


class PredictorExtensionSpec(Container):
    """A legacy framework key's body: container fields plus where the model is and its protocol."""

    storage_uri: str | None = None
    runtime_version: str | None = None
    protocol_version: str | None = enum_field("v1", "v2", "grpc-v1", "grpc-v2")
    storage: StorageSpec | None = None
    confidential: dict[str, Any] | None = None
    """Confidential-computing settings (accepted, not acted on)."""


class ModelFormat(KubeModel):
    """``model.modelFormat``: the framework name and optional version."""

    name: str
    version: str | None = None


class ModelSpec(PredictorExtensionSpec):
    """``predictor.model``: the format, an optional named ServingRuntime, and container overrides."""

    model_format: ModelFormat | None = None
    runtime: str | None = None


class LoggerStorageSpec(KubeModel):
    """``logger.storage``: blob storage for logged payloads (accepted, not acted on)."""

    path: str | None = None
    parameters: dict[str, str] | None = None
    key: str | None = None
    service_account_name: str | None = None


class LoggerSpec(KubeModel):
    """``logger``: where and what to log (KServe's ``LoggerSpec``)."""

    url: str | None = None
    mode: str | None = enum_field("all", "request", "response")
    metadata_headers: list[str] | None = None
    metadata_annotations: list[str] | None = None
    storage: LoggerStorageSpec | None = None
    marshaller_url: str | None = None
    batch_size: int | None = None
    batch_interval: str | None = None


class Batcher(KubeModel):
    """``batcher``: server-side batching of V1 ``:predict`` requests."""

    max_batch_size: int | None = None
    max_latency: int | None = None
    """Milliseconds the oldest request may wait."""
    timeout: int | None = None


class ComponentExtensionSpec(KubeModel):
    """Fields shared by predictor, transformer and explainer (KServe's ``ComponentExtensionSpec``)."""

    min_replicas: int | None = int_field("int32")
    """Default 1; 0 lets the component scale to zero."""
    max_replicas: int | None = int_field("int32")
    """0 (or unset) means no upper bound."""
    scale_target: int | None = int_field("int32")
    scale_metric: str | None = enum_field("cpu", "memory", "concurrency", "rps")
    scale_metric_type: str | None = enum_field("Utilization", "Value", "AverageValue")
    auto_scaling: dict[str, Any] | None = None
    container_concurrency: int | None = int_field("int64")
    timeout: int | None = int_field("int64")
    """Seconds; the Knative revision's ``timeoutSeconds``."""
    canary_traffic_percent: int | None = int_field("int64")
    logger: LoggerSpec | None = None
    batcher: Batcher | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    deployment_strategy: dict[str, Any] | None = None
    storage_uris: list[StorageUri] | None = None


class PredictorSpec(PodSpec, ComponentExtensionSpec):
    """``spec.predictor``: exactly one implementation plus pod and extension fields."""

    sklearn: PredictorExtensionSpec | None = None
    xgboost: PredictorExtensionSpec | None = None
    tensorflow: PredictorExtensionSpec | None = None
    pytorch: PredictorExtensionSpec | None = None
    triton: PredictorExtensionSpec | None = None
    onnx: PredictorExtensionSpec | None = None
    huggingface: PredictorExtensionSpec | None = None
    pmml: PredictorExtensionSpec | None = None
    lightgbm: PredictorExtensionSpec | None = None
    paddle: PredictorExtensionSpec | None = None
    model: ModelSpec | None = None
    name: str | None = None
    storage_container_name: str | None = None
    worker_spec: dict[str, Any] | None = None

    def legacy_frameworks(self) -> list[str]:
        """The legacy framework keys that are set, in KServe's order."""
        return [name for name in LEGACY_FRAMEWORKS if getattr(self, name) is not None]


class TransformerSpec(PodSpec, ComponentExtensionSpec):
    """``spec.transformer``: custom containers plus pod and extension fields."""


class ExplainerSpec(PodSpec, ComponentExtensionSpec):
    """``spec.explainer``: ``art`` or custom containers plus pod and extension fields."""

    art: dict[str, Any] | None = None
    model: ModelSpec | None = None
    """zeroserve's built-in explainers (not in KServe): ``modelFormat: {name: kernelshap}``, with an
    optional ``storageUri`` of background rows."""


ComponentSpec = PredictorSpec | TransformerSpec | ExplainerSpec
"""Any of the three components (each a pod spec plus :class:`ComponentExtensionSpec`)."""


class CanarySpec(LooseModel):
    """``spec.canary[]`` (KServe v0.20, Standard mode only): accepted and kept, not acted on."""

    traffic_percent: int | None = None
    predictor: dict[str, Any] | None = None


class InferenceServiceSpec(KubeModel):
    """``spec``."""

    predictor: PredictorSpec
    transformer: TransformerSpec | None = None
    explainer: ExplainerSpec | None = None
    canary: list[CanarySpec] | None = None

    def components(self) -> dict[str, ComponentSpec]:
        """The components that are present, keyed ``predictor`` / ``transformer`` / ``explainer``."""
        found: dict[str, ComponentSpec] = {"predictor": self.predictor}
        if self.transformer is not None:
            found["transformer"] = self.transformer
        if self.explainer is not None:
            found["explainer"] = self.explainer
        return found


class TrafficTarget(KubeModel):
    """Knative's ``TrafficTarget`` as KServe reports it in ``status.components.<c>.traffic``."""

    tag: str | None = None
    revision_name: str | None = None
    configuration_name: str | None = None
    latest_revision: bool | None = None
    percent: int | None = int_field("int64")
    url: str | None = None


class ComponentStatusSpec(KubeModel):
    """``status.components.<component>``: revisions, traffic and URLs of one component."""

    latest_ready_revision: str | None = None
    latest_created_revision: str | None = None
    previous_rolledout_revision: str | None = None
    latest_rolledout_revision: str | None = None
    traffic: list[TrafficTarget] | None = None
    url: str | None = None
    rest_url: str | None = Field(default=None, alias="restUrl")
    grpc_url: str | None = Field(default=None, alias="grpcUrl")
    address: Addressable | None = None


class InferenceServiceStatus(Status):
    """``status``: conditions, URLs and per-component revision state."""

    url: str | None = None
    address: Addressable | None = None
    components: dict[str, ComponentStatusSpec] | None = None
    model_status: dict[str, Any] | None = None
    deployment_mode: str | None = None
    serving_runtime_name: str | None = None
    cluster_serving_runtime_name: str | None = None
    canary_statuses: list[dict[str, Any]] | None = None


class InferenceService(KubeObject):
    """An ``InferenceService`` (short name ``isvc``)."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "InferenceService"

    api_version: str | None = API_VERSION
    kind: str | None = "InferenceService"
    spec: InferenceServiceSpec
    status: InferenceServiceStatus | None = None
