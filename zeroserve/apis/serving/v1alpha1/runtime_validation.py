"""Defaulting and validation of ServingRuntime, ClusterServingRuntime and TrainedModel (KServe's
webhooks' rules), plus the memory quantities TrainedModels are accounted in.
"""

from __future__ import annotations

import re

from zeroserve.apis.field_errors import FieldError
from zeroserve.apis.serving.v1alpha1.serving_runtime import (
    ClusterServingRuntime,
    ServingRuntime,
    ServingRuntimeSpec,
    TrainedModel,
)

__all__ = [
    "PROTOCOLS",
    "default_runtime",
    "default_trained_model",
    "parse_memory",
    "validate_runtime",
    "validate_trained_model",
    "validate_trained_model_update",
]

PROTOCOLS: tuple[str, ...] = ("v1", "v2", "grpc-v1", "grpc-v2")
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E|m)?$")
_FACTORS = {
    None: 1,
    "m": 0.001,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "P": 1000**5,
    "E": 1000**6,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
    "Ei": 1024**6,
}


def parse_memory(text: str) -> int:
    """A Kubernetes quantity (``256Mi``, ``1G``, ``1048576``) in bytes.

    Args:
        text: the quantity.

    Returns:
        Bytes, rounded up.

    Raises:
        ValueError: not a quantity; the message gives examples.
    """
    match = _QUANTITY.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a quantity (e.g. 256Mi, 1Gi, 500M)")
    value = float(match.group(1)) * _FACTORS[match.group(2)]
    return int(-(-value // 1))


_Runtime = ServingRuntime | ClusterServingRuntime


def default_runtime(runtime: _Runtime) -> _Runtime:
    """Runtimes have no defaults beyond KServe's (``protocolVersions`` reads as ``[v1]`` when unset)."""
    return runtime.model_copy(deep=True)


def _validate_spec(spec: ServingRuntimeSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    if not spec.containers:
        errors.append(FieldError("spec.containers", "at least one container is required"))
    seen: dict[tuple[str, str], int] = {}
    for i, fmt in enumerate(spec.supported_model_formats or []):
        path = f"spec.supportedModelFormats[{i}]"
        if not fmt.name.strip():
            errors.append(FieldError(f"{path}.name", "must not be empty"))
        if fmt.priority is not None:
            if fmt.priority < 1:
                errors.append(FieldError(f"{path}.priority", f"must be at least 1, got {fmt.priority}"))
            if not fmt.auto_select:
                errors.append(FieldError(f"{path}.priority", "is only used with autoSelect: true"))
        key = (fmt.name.lower(), fmt.version or "")
        if key in seen:
            errors.append(
                FieldError(f"{path}.name", f"{fmt.name!r} listed twice (also at index {seen[key]})")
            )
        seen[key] = i
    for i, protocol in enumerate(spec.protocol_versions or []):
        if protocol not in PROTOCOLS:
            errors.append(
                FieldError(
                    f"spec.protocolVersions[{i}]",
                    f"unsupported value {protocol!r}: supported values: {', '.join(PROTOCOLS)}",
                )
            )
    return errors


def validate_runtime(runtime: _Runtime) -> list[FieldError]:
    """KServe's rules for a runtime: containers given, priority only with autoSelect (and >= 1), a
    format listed once per version, known protocol versions.

    Args:
        runtime: the defaulted runtime.

    Returns:
        Every broken rule (empty when valid).
    """
    return _validate_spec(runtime.spec)


def default_trained_model(model: TrainedModel) -> TrainedModel:
    """TrainedModels have no defaults."""
    return model.model_copy(deep=True)


def validate_trained_model(model: TrainedModel) -> list[FieldError]:
    """A TrainedModel names its InferenceService and gives storageUri, framework and a memory quantity.

    Args:
        model: the TrainedModel.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    spec = model.spec
    if not spec.inference_service.strip():
        errors.append(FieldError("spec.inferenceService", "must name an InferenceService"))
    if not spec.model.storage_uri.strip():
        errors.append(FieldError("spec.model.storageUri", "must not be empty"))
    if not spec.model.framework.strip():
        errors.append(FieldError("spec.model.framework", "must name a model format, e.g. sklearn"))
    try:
        if parse_memory(spec.model.memory) <= 0:
            errors.append(FieldError("spec.model.memory", "must be more than 0"))
    except ValueError as exc:
        errors.append(FieldError("spec.model.memory", str(exc)))
    return errors


def validate_trained_model_update(new: TrainedModel, old: TrainedModel) -> list[FieldError]:
    """KServe's rule: a TrainedModel stays on its InferenceService (``spec.inferenceService`` is
    immutable); the model itself may change (it is reloaded)."""
    errors = validate_trained_model(new)
    if new.spec.inference_service != old.spec.inference_service:
        errors.append(
            FieldError(
                "spec.inferenceService",
                f"is immutable (was {old.spec.inference_service!r}); create another TrainedModel",
            )
        )
    return errors
