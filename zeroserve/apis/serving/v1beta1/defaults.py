"""KServe's defaulting of an InferenceService (its mutating webhook), as a pure function.

:func:`default_inference_service` returns a defaulted copy and never changes its argument:

- a legacy framework key (``sklearn``, ``xgboost`` ...) is rewritten to ``model`` with
  ``modelFormat.name`` set to the framework; its fields move to ``model`` and the key is removed;
- ``model.protocolVersion`` defaults to ``v1``, or ``v2`` for the formats whose servers speak only
  the Open Inference Protocol (``triton``, ``vllm``, and the legacy ``onnx`` / ``huggingface`` keys);
- every component's ``minReplicas`` defaults to 1 (0 is kept: it means scale to zero);
- a ``logger`` without a ``mode`` logs ``all``.

Custom containers are not named here: KServe's CRD already requires a ``name`` on each; the model
server's container built from ``model`` is named :data:`DEFAULT_CONTAINER_NAME` by the controller.

Batcher and logger settings left unset are not written into the spec; the controller reads their
defaults from :data:`DEFAULT_MAX_BATCH_SIZE` and :data:`DEFAULT_MAX_LATENCY_MS` (KServe's
``inferenceservice-config`` values) when it builds the data plane's flags.
"""

from __future__ import annotations

from zeroserve.apis.serving.v1beta1.types import (
    ComponentExtensionSpec,
    InferenceService,
    ModelFormat,
    ModelSpec,
    PredictorSpec,
)

__all__ = [
    "DEFAULT_CONTAINER_NAME",
    "DEFAULT_LOGGER_MODE",
    "DEFAULT_MAX_BATCH_SIZE",
    "DEFAULT_MAX_LATENCY_MS",
    "DEFAULT_MIN_REPLICAS",
    "DEFAULT_PROTOCOL_VERSION",
    "V2_ONLY_FORMATS",
    "V2_ONLY_LEGACY_KEYS",
    "default_inference_service",
    "default_protocol_version",
]

DEFAULT_MIN_REPLICAS = 1
DEFAULT_PROTOCOL_VERSION = "v1"
DEFAULT_LOGGER_MODE = "all"
DEFAULT_CONTAINER_NAME = "kserve-container"
DEFAULT_MAX_BATCH_SIZE = 32
DEFAULT_MAX_LATENCY_MS = 5000
V2_ONLY_FORMATS: frozenset[str] = frozenset({"triton", "vllm"})
"""Model formats whose protocol defaults to ``v2`` when given through ``model``."""
V2_ONLY_LEGACY_KEYS: frozenset[str] = frozenset({"triton", "onnx", "huggingface"})
"""Legacy framework keys whose protocol defaults to ``v2`` when they are rewritten."""


def default_protocol_version(model_format: str, legacy_key: str | None = None) -> str:
    """The protocol a model speaks when ``protocolVersion`` is not given.

    Args:
        model_format: ``model.modelFormat.name``.
        legacy_key: The legacy framework key the model came from, if any.

    Returns:
        ``"v2"`` or ``"v1"``.
    """
    if legacy_key is not None and legacy_key in V2_ONLY_LEGACY_KEYS:
        return "v2"
    return "v2" if model_format in V2_ONLY_FORMATS else DEFAULT_PROTOCOL_VERSION


def default_inference_service(isvc: InferenceService) -> InferenceService:
    """Apply KServe's defaults.

    Args:
        isvc: The InferenceService as the user wrote it.

    Returns:
        A defaulted deep copy; ``isvc`` is unchanged. Defaulting twice changes nothing more.
    """
    result = isvc.model_copy(deep=True)
    _default_predictor(result.spec.predictor)
    for component in result.spec.components().values():
        _default_extension(component)
    return result


def _default_predictor(predictor: PredictorSpec) -> None:
    legacy = predictor.legacy_frameworks()
    if predictor.model is None and len(legacy) == 1:
        key = legacy[0]
        body = getattr(predictor, key)
        model = ModelSpec.model_validate(body.model_dump(exclude_none=True))
        model.model_format = ModelFormat(name=key)
        if model.protocol_version is None:
            model.protocol_version = default_protocol_version(key, legacy_key=key)
        predictor.model = model
        setattr(predictor, key, None)
    if predictor.model is not None:
        model = predictor.model
        if model.protocol_version is None and model.model_format is not None:
            model.protocol_version = default_protocol_version(model.model_format.name)


def _default_extension(component: ComponentExtensionSpec) -> None:
    if component.min_replicas is None:
        component.min_replicas = DEFAULT_MIN_REPLICAS
    if component.logger is not None and component.logger.mode is None:
        component.logger.mode = DEFAULT_LOGGER_MODE
