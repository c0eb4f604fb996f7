"""Knative Serving's validation of Service, Configuration, Revision and Route, returning every error.

Rules (a subset of Knative's webhook, the ones a user or the controller can break):

- revision spec: at least one container, each with an ``image``; with several containers exactly one
  declares ``ports``; ``containerConcurrency`` 0..1000; ``timeoutSeconds`` 0..600 (Knative's
  ``max-revision-timeout-seconds``); unique container names;
- template: a revision name given in ``template.metadata.name`` starts with ``<service>-``;
- autoscaling annotations on the template: ``min-scale`` / ``max-scale`` non-negative integers with
  min <= max (max 0 means unbounded), a known ``class``, a ``metric`` the class supports;
- traffic: every target names a revision (``revisionName``) or follows the latest
  (``latestRevision: true``), not both; ``percent`` 0..100 and the percents sum to 100; tags are
  DNS-1123 labels and unique; a Service's traffic may not name a configuration.
"""

from __future__ import annotations

from collections.abc import Mapping

from zeroserve.apis.field_errors import FieldError, join_path
from zeroserve.apis.knative.serving.v1.types import (
    Configuration,
    Revision,
    RevisionSpec,
    RevisionTemplateSpec,
    Route,
    Service,
    TrafficTarget,
)
from zeroserve.apis.names import dns1035_label_errors, dns1123_label_errors
from zeroserve.apis.serving.autoscaling import (
    AUTOSCALER_CLASS_ANNOTATION,
    HPA_CLASS,
    HPA_METRICS,
    KPA_CLASS,
    KPA_METRICS,
)

__all__ = [
    "MAX_CONTAINER_CONCURRENCY",
    "MAX_REVISION_TIMEOUT_SECONDS",
    "validate_autoscaling_annotations",
    "validate_configuration",
    "validate_configuration_update",
    "validate_revision",
    "validate_revision_spec",
    "validate_revision_update",
    "validate_route",
    "validate_service",
    "validate_service_update",
    "validate_traffic",
]

MAX_CONTAINER_CONCURRENCY = 1000
MAX_REVISION_TIMEOUT_SECONDS = 600
MIN_SCALE_ANNOTATION = "autoscaling.knative.dev/min-scale"
MAX_SCALE_ANNOTATION = "autoscaling.knative.dev/max-scale"
METRIC_ANNOTATION = "autoscaling.knative.dev/metric"


def validate_service(service: Service) -> list[FieldError]:
    """Check a Knative Service (normally after its defaults).

    Args:
        service: The Service.

    Returns:
        Every broken rule.
    """
    errors = _validate_name(service.name)
    errors += _validate_template("spec.template", service.spec.template, service.name)
    errors += validate_traffic("spec.traffic", service.spec.traffic or [], allow_configuration=False)
    return errors


def validate_configuration(configuration: Configuration) -> list[FieldError]:
    """Check a Configuration.

    Args:
        configuration: The Configuration.

    Returns:
        Every broken rule.
    """
    errors = _validate_name(configuration.name)
    errors += _validate_template("spec.template", configuration.spec.template, configuration.name)
    return errors


def validate_revision(revision: Revision) -> list[FieldError]:
    """Check a Revision.

    Args:
        revision: The Revision.

    Returns:
        Every broken rule.
    """
    errors = validate_revision_spec("spec", revision.spec)
    errors += validate_autoscaling_annotations("metadata.annotations", revision.annotations)
    return errors


def validate_route(route: Route) -> list[FieldError]:
    """Check a Route.

    Args:
        route: The Route.

    Returns:
        Every broken rule.
    """
    errors = _validate_name(route.name)
    if not route.spec.traffic:
        errors.append(FieldError("spec.traffic", "is required"))
    errors += validate_traffic("spec.traffic", route.spec.traffic or [], allow_configuration=True)
    return errors


def _validate_name(name: str) -> list[FieldError]:
    if not name:
        return [FieldError("metadata.name", "is required")]
    return [FieldError("metadata.name", problem) for problem in dns1035_label_errors(name)]


def _validate_template(path: str, template: RevisionTemplateSpec, parent: str) -> list[FieldError]:
    errors = validate_revision_spec(join_path(path, "spec"), template.spec)
    metadata = template.metadata
    if metadata is not None:
        if metadata.name and parent and not metadata.name.startswith(f"{parent}-"):
            errors.append(FieldError(join_path(path, "metadata.name"), f"must have prefix {parent}-"))
        errors += validate_autoscaling_annotations(
            join_path(path, "metadata.annotations"), metadata.annotations or {}
        )
    return errors


def validate_revision_spec(path: str, spec: RevisionSpec) -> list[FieldError]:
    """Check a revision spec.

    Args:
        path: Where the spec is, e.g. ``"spec.template.spec"``.
        spec: The spec.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    containers = spec.containers or []
    if not containers:
        errors.append(FieldError(join_path(path, "containers"), "is required"))
    names: set[str] = set()
    for index, container in enumerate(containers):
        if not container.image:
            errors.append(FieldError(join_path(path, "containers", index, "image"), "is required"))
        if container.name:
            if container.name in names:
                message = f"duplicate container name {container.name!r}"
                errors.append(FieldError(join_path(path, "containers", index, "name"), message))
            names.add(container.name)
    if len(containers) > 1 and sum(1 for c in containers if c.ports) != 1:
        errors.append(
            FieldError(
                join_path(path, "containers"), "exactly one container must declare ports (the serving one)"
            )
        )
    for container_index, container in enumerate(containers):
        if len(container.ports or []) > 1:
            errors.append(
                FieldError(
                    join_path(path, "containers", container_index, "ports"), "at most one port is allowed"
                )
            )
    concurrency = spec.container_concurrency
    if concurrency is not None and not 0 <= concurrency <= MAX_CONTAINER_CONCURRENCY:
        errors.append(
            FieldError(
                join_path(path, "containerConcurrency"), f"must be between 0 and {MAX_CONTAINER_CONCURRENCY}"
            )
        )
    for field, value in (
        ("timeoutSeconds", spec.timeout_seconds),
        ("responseStartTimeoutSeconds", spec.response_start_timeout_seconds),
        ("idleTimeoutSeconds", spec.idle_timeout_seconds),
    ):
        if value is not None and not 0 <= value <= MAX_REVISION_TIMEOUT_SECONDS:
            errors.append(
                FieldError(join_path(path, field), f"must be between 0 and {MAX_REVISION_TIMEOUT_SECONDS}")
            )
    return errors


def validate_autoscaling_annotations(path: str, annotations: Mapping[str, str]) -> list[FieldError]:
    """Check ``autoscaling.knative.dev/*`` annotations.

    Args:
        path: Where the annotations are, e.g. ``"spec.template.metadata.annotations"``.
        annotations: The annotations.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    bounds: dict[str, int] = {}
    for key in (MIN_SCALE_ANNOTATION, MAX_SCALE_ANNOTATION):
        raw = annotations.get(key)
        if raw is None:
            continue
        try:
            value = int(raw)
        except ValueError:
            value = -1
        if value < 0:
            errors.append(FieldError(join_path(path, f"[{key}]"), "must be a non-negative integer"))
        else:
            bounds[key] = value
    low, high = bounds.get(MIN_SCALE_ANNOTATION), bounds.get(MAX_SCALE_ANNOTATION)
    if low is not None and high is not None and high > 0 and low > high:
        errors.append(
            FieldError(join_path(path, f"[{MIN_SCALE_ANNOTATION}]"), f"must be <= {MAX_SCALE_ANNOTATION}")
        )
    autoscaler = annotations.get(AUTOSCALER_CLASS_ANNOTATION, KPA_CLASS)
    if autoscaler not in (KPA_CLASS, HPA_CLASS):
        message = f"must be {KPA_CLASS} or {HPA_CLASS}"
        errors.append(FieldError(join_path(path, f"[{AUTOSCALER_CLASS_ANNOTATION}]"), message))
    metric = annotations.get(METRIC_ANNOTATION)
    if metric is not None:
        allowed = KPA_METRICS if autoscaler == KPA_CLASS else HPA_METRICS
        if autoscaler in (KPA_CLASS, HPA_CLASS) and metric not in allowed:
            message = f"the autoscaler {autoscaler} supports {', '.join(sorted(allowed))}"
            errors.append(FieldError(join_path(path, f"[{METRIC_ANNOTATION}]"), message))
    return errors


def validate_traffic(
    path: str, traffic: list[TrafficTarget], *, allow_configuration: bool
) -> list[FieldError]:
    """Check a traffic block.

    Args:
        path: e.g. ``"spec.traffic"``.
        traffic: The targets (after defaulting).
        allow_configuration: Whether targets may name a configuration (Routes: yes; Services: no).

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    total = 0
    tags: set[str] = set()
    for index, target in enumerate(traffic):
        target_path = join_path(path, index)
        if target.configuration_name and not allow_configuration:
            errors.append(
                FieldError(join_path(target_path, "configurationName"), "must not be set in a Service")
            )
        if target.latest_revision and target.revision_name:
            message = "may not set revisionName when latestRevision is true"
            errors.append(FieldError(join_path(target_path, "revisionName"), message))
        if target.latest_revision is False and not target.revision_name:
            errors.append(
                FieldError(join_path(target_path, "revisionName"), "is required when latestRevision is false")
            )
        if not target.latest_revision and not target.revision_name and not target.configuration_name:
            message = "exactly one of [revisionName, latestRevision: true] must be specified"
            errors.append(FieldError(target_path, message))
        if target.percent is not None:
            if not 0 <= target.percent <= 100:
                errors.append(FieldError(join_path(target_path, "percent"), "must be between 0 and 100"))
            total += target.percent
        if target.tag:
            errors += [FieldError(join_path(target_path, "tag"), p) for p in dns1123_label_errors(target.tag)]
            if target.tag in tags:
                errors.append(FieldError(join_path(target_path, "tag"), f"duplicate tag {target.tag!r}"))
            tags.add(target.tag)
        if target.url:
            errors.append(FieldError(join_path(target_path, "url"), "must not be set in spec (it is status)"))
    if traffic and total != 100:
        errors.append(FieldError(path, f"traffic targets sum to {total}, want 100"))
    return errors


def validate_revision_update(old: Revision, new: Revision) -> list[FieldError]:
    """A Revision's spec is immutable.

    Args:
        old: The stored Revision.
        new: The updated one.

    Returns:
        Every broken rule.
    """
    if old.spec.to_dict() != new.spec.to_dict():
        return [FieldError("spec", "is immutable: a Revision cannot change once created")]
    return []


def validate_service_update(old: Service, new: Service) -> list[FieldError]:
    """A template that names its revision must change that name whenever the template changes.

    Args:
        old: The stored Service.
        new: The updated one.

    Returns:
        Every broken rule.
    """
    return _template_name_changed("spec.template", old.spec.template, new.spec.template)


def validate_configuration_update(old: Configuration, new: Configuration) -> list[FieldError]:
    """As :func:`validate_service_update`, for a Configuration.

    Args:
        old: The stored Configuration.
        new: The updated one.

    Returns:
        Every broken rule.
    """
    return _template_name_changed("spec.template", old.spec.template, new.spec.template)


def _template_name_changed(
    path: str, old: RevisionTemplateSpec, new: RevisionTemplateSpec
) -> list[FieldError]:
    old_name = old.metadata.name if old.metadata is not None else None
    new_name = new.metadata.name if new.metadata is not None else None
    if old_name and old_name == new_name and old.to_dict() != new.to_dict():
        message = f"must change when the template changes (revision {old_name} already exists)"
        return [FieldError(join_path(path, "metadata.name"), message)]
    return []
