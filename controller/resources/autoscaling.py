"""Revision-template annotations for Knative's autoscaler, from a component's scaling fields.

KServe's mapping: ``autoscaling.knative.dev/class`` is the KPA unless the user chose one;
``min-scale`` is ``minReplicas`` (default 1; 0 allows scale to zero); ``max-scale`` only when
``maxReplicas`` is non-zero; ``target`` and ``metric`` only when set.
"""

from __future__ import annotations

from zeroserve.controller.resources.constants import (
    AUTOSCALER_CLASS,
    DEFAULT_MIN_REPLICAS,
    KPA_CLASS,
    MAX_SCALE,
    METRIC,
    MIN_SCALE,
    TARGET,
)

__all__ = ["autoscaling_annotations"]


def autoscaling_annotations(
    annotations: dict[str, str],
    min_replicas: int | None,
    max_replicas: int | None,
    scale_target: int | None,
    scale_metric: str | None,
) -> dict[str, str]:
    """The autoscaling annotations of a revision template.

    Args:
        annotations: the annotations the user set (a chosen ``class`` is kept).
        min_replicas: ``minReplicas``.
        max_replicas: ``maxReplicas``.
        scale_target: ``scaleTarget``.
        scale_metric: ``scaleMetric``.

    Returns:
        Only the autoscaling keys, to be merged over the user's annotations.
    """
    result = {
        AUTOSCALER_CLASS: annotations.get(AUTOSCALER_CLASS) or KPA_CLASS,
        MIN_SCALE: str(DEFAULT_MIN_REPLICAS if min_replicas is None else min_replicas),
    }
    if max_replicas:
        result[MAX_SCALE] = str(max_replicas)
    if scale_target is not None:
        result[TARGET] = str(scale_target)
    if scale_metric:
        result[METRIC] = scale_metric
    return result
