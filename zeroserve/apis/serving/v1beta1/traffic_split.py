"""A/B/N traffic splits for an InferenceService (a zeroserve extension that keeps KServe YAML valid).

KServe's ``canaryTrafficPercent`` splits a component's traffic between two revisions only: the
latest and the last rolled-out one. To pin more revisions by percent, an InferenceService may carry
the annotation ``serving.zeroserve.io/traffic`` (:data:`TRAFFIC_ANNOTATION`): a JSON object from
component name to a list of Knative traffic targets, e.g.::

    metadata:
      annotations:
        serving.zeroserve.io/traffic: >-
          {"predictor": [
            {"revisionName": "iris-predictor-00001", "percent": 20, "tag": "a"},
            {"revisionName": "iris-predictor-00002", "percent": 30, "tag": "b"},
            {"latestRevision": true, "percent": 50, "tag": "c"}]}

An annotation is not pruned by KServe's CRD, so the same YAML applies to KServe unchanged (which
ignores it). For a component listed here the controller writes these targets as the Knative
Service's ``traffic`` instead of the canary split; the component must not also set
``canaryTrafficPercent``. :func:`traffic_splits` parses and checks the annotation.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from zeroserve.apis.field_errors import FieldError, from_pydantic, join_path
from zeroserve.apis.names import dns1123_label_errors
from zeroserve.apis.serving.v1beta1.types import InferenceService, TrafficTarget

__all__ = ["TRAFFIC_ANNOTATION", "traffic_split_errors", "traffic_splits"]

TRAFFIC_ANNOTATION = "serving.zeroserve.io/traffic"


def traffic_splits(isvc: InferenceService) -> dict[str, list[TrafficTarget]]:
    """The pinned traffic split of each component that has one.

    Args:
        isvc: The InferenceService.

    Returns:
        Component name to its traffic targets; empty without the annotation. Raises ``ValueError``
        with every problem when the annotation is invalid.
    """
    splits, errors = _parse(isvc)
    if errors:
        raise ValueError("; ".join(str(error) for error in errors))
    return splits


def traffic_split_errors(isvc: InferenceService) -> list[FieldError]:
    """Every problem with the traffic annotation (used by ``validate_inference_service``).

    Args:
        isvc: The InferenceService.

    Returns:
        Field errors with paths under ``metadata.annotations[serving.zeroserve.io/traffic]``.
    """
    return _parse(isvc)[1]


def _parse(isvc: InferenceService) -> tuple[dict[str, list[TrafficTarget]], list[FieldError]]:
    raw = isvc.annotations.get(TRAFFIC_ANNOTATION)
    if raw is None:
        return {}, []
    path = f"metadata.annotations[{TRAFFIC_ANNOTATION}]"
    try:
        document = json.loads(raw)
    except ValueError as exc:
        return {}, [FieldError(path, f"must be a JSON object: {exc}")]
    if not isinstance(document, dict):
        return {}, [FieldError(path, "must be a JSON object from component name to traffic targets")]
    components = isvc.spec.components()
    splits: dict[str, list[TrafficTarget]] = {}
    errors: list[FieldError] = []
    for name, targets in document.items():
        component_path = join_path(path, f"[{name}]")
        component = components.get(name)
        if component is None:
            errors.append(FieldError(component_path, f"the InferenceService has no {name}"))
            continue
        if component.canary_traffic_percent is not None:
            message = f"cannot be combined with spec.{name}.canaryTrafficPercent"
            errors.append(FieldError(component_path, message))
        if not isinstance(targets, list) or not targets:
            errors.append(FieldError(component_path, "must be a non-empty list of traffic targets"))
            continue
        parsed: list[TrafficTarget] = []
        for index, target in enumerate(targets):
            try:
                parsed.append(TrafficTarget.model_validate(target))
            except ValidationError as exc:
                errors += from_pydantic(exc, join_path(component_path, index))
        if len(parsed) == len(targets):
            errors += _check_targets(component_path, f"{isvc.name}-{name}-", parsed)
            splits[name] = parsed
    return splits, errors


def _check_targets(path: str, revision_prefix: str, targets: list[TrafficTarget]) -> list[FieldError]:
    errors: list[FieldError] = []
    total = 0
    tags: set[str] = set()
    latest = 0
    for index, target in enumerate(targets):
        target_path = join_path(path, index)
        if target.latest_revision:
            latest += 1
            if target.revision_name:
                message = "may not set revisionName when latestRevision is true"
                errors.append(FieldError(join_path(target_path, "revisionName"), message))
        elif not target.revision_name:
            message = "exactly one of [revisionName, latestRevision: true] must be specified"
            errors.append(FieldError(target_path, message))
        elif not target.revision_name.startswith(revision_prefix):
            message = f"must name a revision of this component ({revision_prefix}NNNNN)"
            errors.append(FieldError(join_path(target_path, "revisionName"), message))
        if target.percent is None or not 0 <= target.percent <= 100:
            errors.append(FieldError(join_path(target_path, "percent"), "must be between 0 and 100"))
        else:
            total += target.percent
        if target.tag:
            errors += [FieldError(join_path(target_path, "tag"), p) for p in dns1123_label_errors(target.tag)]
            if target.tag in tags:
                errors.append(FieldError(join_path(target_path, "tag"), f"duplicate tag {target.tag!r}"))
            tags.add(target.tag)
    if latest > 1:
        errors.append(FieldError(path, "at most one target may follow the latest revision"))
    if total != 100:
        errors.append(FieldError(path, f"traffic targets sum to {total}, want 100"))
    return errors
