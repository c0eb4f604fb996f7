"""KServe's validation of an InferenceService (its validating webhook), returning every error.

:func:`validate_inference_service` checks a (normally defaulted) InferenceService and returns one
:class:`~zeroserve.apis.field_errors.FieldError` per broken rule, with the field's wire path:

- ``metadata.name``: a DNS-1035 label, short enough that ``<name>-<component>`` is one too;
- ``spec.predictor``: exactly one implementation (a legacy framework key, ``model``, or custom
  ``containers``); ``model.modelFormat.name`` given; ``protocolVersion`` one of v1, v2, grpc-v1,
  grpc-v2; ``storageUri`` with a supported scheme (or a local path); ``storageUris`` entries;
- ``spec.transformer`` / ``spec.explainer``: custom containers (or ``art`` for the explainer);
- every component: replica bounds, ``scaleMetric`` against the autoscaler class annotation,
  ``scaleMetricType``, ``containerConcurrency`` >= 0, ``timeout`` >= 0, ``canaryTrafficPercent``
  0..100, logger ``mode`` and ``url``, batcher fields > 0;
- ``spec.canary[]`` (Standard mode): names and percentages summing to <= 100;
- the ``serving.kserve.io/deploymentMode`` and ``serving.kserve.io/autoscalerClass`` annotations' values;
- zeroserve's A/B/N annotation (:mod:`~zeroserve.apis.serving.v1beta1.traffic_split`).

:func:`ignored_fields` lists the fields that are valid and kept but that zeroserve does not act on,
so the controller can report them in a condition instead of silently dropping them.
"""

from __future__ import annotations

from urllib.parse import urlparse

from pydantic.alias_generators import to_camel

from zeroserve.apis.field_errors import FieldError, join_path
from zeroserve.apis.names import DNS1035_LABEL_MAX, dns1035_label_errors
from zeroserve.apis.serving.autoscaling import autoscaler_class, validate_scaling
from zeroserve.apis.serving.v1beta1.traffic_split import traffic_split_errors
from zeroserve.apis.serving.v1beta1.types import (
    LEGACY_FRAMEWORKS,
    ComponentSpec,
    ExplainerSpec,
    InferenceService,
    PredictorExtensionSpec,
    PredictorSpec,
)

__all__ = [
    "DEPLOYMENT_MODES",
    "DEPLOYMENT_MODE_ANNOTATION",
    "KNATIVE_POD_FIELDS",
    "KSERVE_AUTOSCALER_CLASSES",
    "KSERVE_AUTOSCALER_CLASS_ANNOTATION",
    "LOGGER_MODES",
    "PROTOCOL_VERSIONS",
    "STORAGE_URI_PREFIXES",
    "ignored_fields",
    "validate_inference_service",
    "validate_inference_service_update",
]

PROTOCOL_VERSIONS: tuple[str, ...] = ("v1", "v2", "grpc-v1", "grpc-v2")
LOGGER_MODES: tuple[str, ...] = ("all", "request", "response")
SCALE_METRIC_TYPES: tuple[str, ...] = ("Utilization", "Value", "AverageValue")
DEPLOYMENT_MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
DEPLOYMENT_MODES: tuple[str, ...] = ("Serverless", "Knative", "RawDeployment", "Standard", "ModelMesh")
KSERVE_AUTOSCALER_CLASS_ANNOTATION = "serving.kserve.io/autoscalerClass"
KSERVE_AUTOSCALER_CLASSES: tuple[str, ...] = ("hpa", "external", "keda", "none")
"""KServe's Standard-mode autoscaler classes (the annotation is kept but not acted on in Knative mode)."""
KNATIVE_MODES: frozenset[str] = frozenset({"Serverless", "Knative"})
STORAGE_URI_PREFIXES: tuple[str, ...] = (
    "gs://",
    "s3://",
    "pvc://",
    "file://",
    "https://",
    "http://",
    "hdfs://",
    "webhdfs://",
    "oci://",
    "oci+native://",
    "oci+fetch://",
    "hf://",
)
KNATIVE_POD_FIELDS: frozenset[str] = frozenset(
    {
        "affinity",
        "automountServiceAccountToken",
        "containers",
        "dnsConfig",
        "dnsPolicy",
        "enableServiceLinks",
        "hostAliases",
        "hostIPC",
        "hostNetwork",
        "hostPID",
        "imagePullSecrets",
        "initContainers",
        "nodeSelector",
        "priorityClassName",
        "runtimeClassName",
        "schedulerName",
        "securityContext",
        "serviceAccountName",
        "shareProcessNamespace",
        "tolerations",
        "topologySpreadConstraints",
        "volumes",
    }
)
"""Pod-spec fields a Knative Revision accepts; other pod fields of a component are ignored."""

_IGNORED_LOGGER_FIELDS = ("storage", "marshaller_url", "batch_size", "batch_interval", "metadata_annotations")
_IMPLEMENTATIONS = (*LEGACY_FRAMEWORKS, "model", "containers")


def validate_inference_service(isvc: InferenceService) -> list[FieldError]:
    """Check an InferenceService against KServe's rules.

    Args:
        isvc: The InferenceService, normally after
            :func:`~zeroserve.apis.serving.v1beta1.defaults.default_inference_service`.

    Returns:
        Every broken rule, in a stable order; empty when the object is valid.
    """
    errors = _validate_name(isvc)
    annotations = isvc.annotations
    mode = annotations.get(DEPLOYMENT_MODE_ANNOTATION)
    if mode is not None and mode not in DEPLOYMENT_MODES:
        errors.append(
            FieldError(
                f"metadata.annotations[{DEPLOYMENT_MODE_ANNOTATION}]",
                f"must be one of {', '.join(DEPLOYMENT_MODES)}",
            )
        )
    raw_class = annotations.get(KSERVE_AUTOSCALER_CLASS_ANNOTATION)
    if raw_class is not None and raw_class not in KSERVE_AUTOSCALER_CLASSES:
        errors.append(
            FieldError(
                f"metadata.annotations[{KSERVE_AUTOSCALER_CLASS_ANNOTATION}]",
                f"[{raw_class}] is not a supported autoscaler class type: must be one of "
                f"{', '.join(KSERVE_AUTOSCALER_CLASSES)}",
            )
        )
    errors += _validate_predictor(isvc.spec.predictor)
    if isvc.spec.transformer is not None and not isvc.spec.transformer.containers:
        errors.append(FieldError("spec.transformer.containers", "is required"))
    if isvc.spec.explainer is not None:
        errors += _validate_explainer(isvc.spec.explainer)
    for component_name, component in isvc.spec.components().items():
        errors += _validate_extension(f"spec.{component_name}", component, annotations)
    errors += _validate_canary(isvc)
    errors += traffic_split_errors(isvc)
    return errors


def validate_inference_service_update(old: InferenceService, new: InferenceService) -> list[FieldError]:
    """Check what an update may not change (KServe: the deployment mode is immutable).

    Args:
        old: The stored InferenceService.
        new: The updated one (its own rules are checked by :func:`validate_inference_service`).

    Returns:
        Every broken rule.
    """
    before = old.annotations.get(DEPLOYMENT_MODE_ANNOTATION)
    after = new.annotations.get(DEPLOYMENT_MODE_ANNOTATION)
    if before is not None and before != after:
        path = f"metadata.annotations[{DEPLOYMENT_MODE_ANNOTATION}]"
        return [FieldError(path, f"update of the deployment mode is not allowed (was {before})")]
    return []


def _validate_name(isvc: InferenceService) -> list[FieldError]:
    name = isvc.name
    if not name:
        return [FieldError("metadata.name", "is required")]
    errors = [FieldError("metadata.name", problem) for problem in dns1035_label_errors(name)]
    longest = max(len(f"-{component}") for component in isvc.spec.components())
    if not errors and len(name) + longest > DNS1035_LABEL_MAX:
        errors.append(
            FieldError(
                "metadata.name",
                f"must be no more than {DNS1035_LABEL_MAX - longest} characters, so that the Knative "
                "Service names <name>-<component> are DNS-1035 labels",
            )
        )
    return errors


def _validate_predictor(predictor: PredictorSpec) -> list[FieldError]:
    path = "spec.predictor"
    errors: list[FieldError] = []
    chosen = predictor.legacy_frameworks()
    if predictor.model is not None:
        chosen.append("model")
    if not chosen and predictor.containers:
        chosen.append("containers")
    if len(chosen) != 1:
        errors.append(
            FieldError(
                path,
                f"exactly one of [{', '.join(_IMPLEMENTATIONS)}] must be specified in PredictorSpec",
            )
        )
    for key in predictor.legacy_frameworks():
        errors += _validate_model_fields(join_path(path, key), getattr(predictor, key))
    if predictor.model is not None:
        model_path = join_path(path, "model")
        if predictor.model.model_format is None:
            errors.append(FieldError(join_path(model_path, "modelFormat"), "is required"))
        elif not predictor.model.model_format.name:
            errors.append(FieldError(join_path(model_path, "modelFormat.name"), "is required"))
        errors += _validate_model_fields(model_path, predictor.model)
    for index, entry in enumerate(predictor.storage_uris or []):
        entry_path = join_path(path, "storageUris", index)
        if not entry.uri:
            errors.append(FieldError(join_path(entry_path, "uri"), "is required"))
        else:
            errors += _validate_storage_uri(join_path(entry_path, "uri"), entry.uri)
        if entry.mount_path is not None and not entry.mount_path.startswith("/"):
            errors.append(FieldError(join_path(entry_path, "mountPath"), "must be an absolute path"))
    return errors


def _validate_model_fields(path: str, model: PredictorExtensionSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    if model.protocol_version is not None and model.protocol_version not in PROTOCOL_VERSIONS:
        errors.append(
            FieldError(
                join_path(path, "protocolVersion"),
                f"must be one of {', '.join(PROTOCOL_VERSIONS)}",
            )
        )
    if model.storage_uri is not None:
        errors += _validate_storage_uri(join_path(path, "storageUri"), model.storage_uri)
    return errors


def _validate_storage_uri(path: str, uri: str) -> list[FieldError]:
    if "://" not in uri or uri.startswith(STORAGE_URI_PREFIXES):
        if uri.strip():
            return []
        return [FieldError(path, "must not be empty")]
    return [
        FieldError(
            path,
            f"must be one of: [{', '.join(STORAGE_URI_PREFIXES)}] or be an absolute or relative local "
            f"path; StorageUri [{uri}] is not supported",
        )
    ]


def _validate_explainer(explainer: ExplainerSpec) -> list[FieldError]:
    options = (("art", explainer.art), ("model", explainer.model), ("containers", explainer.containers))
    chosen = [name for name, value in options if value]
    if len(chosen) != 1:
        return [
            FieldError(
                "spec.explainer", "exactly one of [art, model, containers] must be specified in ExplainerSpec"
            )
        ]
    return []


def _validate_extension(path: str, component: ComponentSpec, annotations: dict[str, str]) -> list[FieldError]:
    errors = validate_scaling(
        path,
        min_replicas=component.min_replicas,
        max_replicas=component.max_replicas,
        scale_metric=component.scale_metric,
        scale_target=component.scale_target,
        autoscaler=autoscaler_class(component.annotations, annotations),
    )
    if component.scale_metric_type is not None and component.scale_metric_type not in SCALE_METRIC_TYPES:
        errors.append(
            FieldError(join_path(path, "scaleMetricType"), f"must be one of {', '.join(SCALE_METRIC_TYPES)}")
        )
    if component.container_concurrency is not None and component.container_concurrency < 0:
        errors.append(FieldError(join_path(path, "containerConcurrency"), "must be >= 0"))
    if component.timeout is not None and component.timeout < 0:
        errors.append(FieldError(join_path(path, "timeout"), "must be >= 0"))
    percent = component.canary_traffic_percent
    if percent is not None and not 0 <= percent <= 100:
        errors.append(FieldError(join_path(path, "canaryTrafficPercent"), "must be between 0 and 100"))
    logger = component.logger
    if logger is not None:
        if logger.mode is not None and logger.mode not in LOGGER_MODES:
            errors.append(
                FieldError(
                    join_path(path, "logger.mode"),
                    f"invalid logger type: must be one of {', '.join(LOGGER_MODES)}",
                )
            )
        if logger.url is not None and not _is_absolute_url(logger.url):
            errors.append(FieldError(join_path(path, "logger.url"), "must be an absolute URL"))
    batcher = component.batcher
    if batcher is not None:
        for field, value in (
            ("maxBatchSize", batcher.max_batch_size),
            ("maxLatency", batcher.max_latency),
            ("timeout", batcher.timeout),
        ):
            if value is not None and value <= 0:
                errors.append(FieldError(join_path(path, "batcher", field), "must be > 0"))
    return errors


def _is_absolute_url(url: str) -> bool:
    parsed = urlparse(url)
    return bool(parsed.scheme) and bool(parsed.netloc)


def _validate_canary(isvc: InferenceService) -> list[FieldError]:
    errors: list[FieldError] = []
    total = 0
    for index, canary in enumerate(isvc.spec.canary or []):
        path = join_path("spec.canary", index)
        percent = canary.traffic_percent
        if percent is None:
            errors.append(FieldError(join_path(path, "trafficPercent"), "is required"))
        elif not 0 <= percent <= 100:
            errors.append(FieldError(join_path(path, "trafficPercent"), "must be between 0 and 100"))
        else:
            total += percent
        if not (canary.predictor or {}).get("name"):
            errors.append(FieldError(join_path(path, "predictor.name"), "is required"))
    if total > 100:
        errors.append(FieldError("spec.canary", "the sum of trafficPercent must be <= 100"))
    return errors


def ignored_fields(isvc: InferenceService) -> list[str]:
    """The fields that are set, valid and kept, but that zeroserve does not act on.

    Args:
        isvc: The InferenceService.

    Returns:
        Wire paths such as ``spec.predictor.workerSpec`` or ``spec.predictor.logger.storage``, in a
        stable order; the controller reports them in a condition.
    """
    found: list[str] = []
    mode = isvc.annotations.get(DEPLOYMENT_MODE_ANNOTATION)
    if mode is not None and mode not in KNATIVE_MODES:
        found.append(f"metadata.annotations[{DEPLOYMENT_MODE_ANNOTATION}]")
    if KSERVE_AUTOSCALER_CLASS_ANNOTATION in isvc.annotations:
        found.append(f"metadata.annotations[{KSERVE_AUTOSCALER_CLASS_ANNOTATION}]")
    if isvc.spec.canary:
        found.append("spec.canary")
    for component_name, component in isvc.spec.components().items():
        path = f"spec.{component_name}"
        for field in ("scale_metric_type", "auto_scaling", "deployment_strategy"):
            if getattr(component, field) is not None:
                found.append(join_path(path, to_camel(field)))
        if component.logger is not None:
            for field in (
                "storage",
                "marshaller_url",
                "batch_size",
                "batch_interval",
                "metadata_annotations",
            ):
                if getattr(component.logger, field) is not None:
                    found.append(join_path(path, "logger", to_camel(field)))
        if isinstance(component, PredictorSpec):
            for field in ("worker_spec", "storage_uris", "storage_container_name", "name"):
                if getattr(component, field) is not None:
                    found.append(join_path(path, to_camel(field)))
        for extra in sorted(component.model_extra or {}):
            if extra not in KNATIVE_POD_FIELDS:
                found.append(join_path(path, extra))
    return found
