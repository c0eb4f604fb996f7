"""Scaling rules KServe applies to every component and to InferenceGraphs.

``minReplicas`` / ``maxReplicas`` bounds, and ``scaleMetric`` against the Knative autoscaler class
(annotation ``autoscaling.knative.dev/class``): the default KPA scales on ``concurrency`` or ``rps``
(an ``rps`` target must be at least 1); the HPA class scales on ``cpu`` or ``memory`` (a ``cpu``
target is a utilization percent, 1..100).
"""

from __future__ import annotations

from collections.abc import Mapping

from zeroserve.apis.field_errors import FieldError, join_path

__all__ = [
    "AUTOSCALER_CLASS_ANNOTATION",
    "HPA_CLASS",
    "HPA_METRICS",
    "KPA_CLASS",
    "KPA_METRICS",
    "SCALE_METRICS",
    "autoscaler_class",
    "validate_scaling",
]

AUTOSCALER_CLASS_ANNOTATION = "autoscaling.knative.dev/class"
KPA_CLASS = "kpa.autoscaling.knative.dev"
HPA_CLASS = "hpa.autoscaling.knative.dev"
SCALE_METRICS: tuple[str, ...] = ("cpu", "memory", "concurrency", "rps")
KPA_METRICS: frozenset[str] = frozenset({"concurrency", "rps"})
HPA_METRICS: frozenset[str] = frozenset({"cpu", "memory"})


def autoscaler_class(*annotation_maps: Mapping[str, str] | None) -> str:
    """The autoscaler class in effect: the first map that sets the annotation wins, else KPA.

    Args:
        *annotation_maps: e.g. the component's ``annotations`` then the object's metadata annotations.

    Returns:
        The class annotation's value, or :data:`KPA_CLASS`.
    """
    for amap in annotation_maps:
        if amap and amap.get(AUTOSCALER_CLASS_ANNOTATION):
            return amap[AUTOSCALER_CLASS_ANNOTATION]
    return KPA_CLASS


def validate_scaling(
    path: str,
    *,
    min_replicas: int | None,
    max_replicas: int | None,
    scale_metric: str | None,
    scale_target: int | None,
    autoscaler: str,
) -> list[FieldError]:
    """Check replica bounds and the metric against the autoscaler class.

    Args:
        path: The path of the object holding the fields, e.g. ``"spec.predictor"`` or ``"spec"``.
        min_replicas: ``minReplicas``.
        max_replicas: ``maxReplicas`` (0 means unbounded).
        scale_metric: ``scaleMetric``.
        scale_target: ``scaleTarget``.
        autoscaler: The class from :func:`autoscaler_class`.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    if min_replicas is not None and min_replicas < 0:
        errors.append(FieldError(join_path(path, "minReplicas"), "must be >= 0"))
    if max_replicas is not None and max_replicas < 0:
        errors.append(FieldError(join_path(path, "maxReplicas"), "must be >= 0"))
    if (
        min_replicas is not None
        and max_replicas is not None
        and max_replicas > 0
        and min_replicas > max_replicas
    ):
        errors.append(FieldError(join_path(path, "minReplicas"), "must be <= maxReplicas"))
    if scale_target is not None and scale_target < 0:
        errors.append(FieldError(join_path(path, "scaleTarget"), "must be >= 0"))
    if autoscaler not in (KPA_CLASS, HPA_CLASS):
        errors.append(
            FieldError(
                f"metadata.annotations[{AUTOSCALER_CLASS_ANNOTATION}]",
                f"must be {KPA_CLASS} or {HPA_CLASS}",
            )
        )
        return errors
    if scale_metric is None:
        return errors
    metric_path = join_path(path, "scaleMetric")
    if scale_metric not in SCALE_METRICS:
        errors.append(FieldError(metric_path, f"must be one of {', '.join(SCALE_METRICS)}"))
    elif autoscaler == KPA_CLASS and scale_metric not in KPA_METRICS:
        errors.append(
            FieldError(
                metric_path,
                f"metric {scale_metric} needs the annotation {AUTOSCALER_CLASS_ANNOTATION}: {HPA_CLASS} "
                "(the default autoscaler, KPA, supports concurrency and rps)",
            )
        )
    elif autoscaler == HPA_CLASS and scale_metric not in HPA_METRICS:
        errors.append(FieldError(metric_path, f"the autoscaler {HPA_CLASS} supports only cpu and memory"))
    elif scale_metric == "rps" and scale_target is not None and scale_target < 1:
        errors.append(FieldError(join_path(path, "scaleTarget"), "must be >= 1 for metric rps"))
    elif scale_metric == "cpu" and scale_target is not None and not 1 <= scale_target <= 100:
        errors.append(
            FieldError(join_path(path, "scaleTarget"), "must be between 1 and 100 for metric cpu (a percent)")
        )
    return errors
