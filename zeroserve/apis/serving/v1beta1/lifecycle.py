"""InferenceService conditions and status propagation (KServe's ``inference_service_status.go``).

Conditions: ``<Component>Ready`` for each present component and ``IngressReady`` are the dependents
of ``Ready`` (:func:`condition_set`); ``<Component>RouteReady`` / ``<Component>ConfigurationReady``
mirror the Knative Service's ``RoutesReady`` / ``ConfigurationsReady`` as informational conditions;
``IgnoredFields`` (Info) lists the fields zeroserve keeps but does not act on.

:func:`propagate_component_status` copies a Knative Service's status into
``status.components.<component>`` with KServe's rollout bookkeeping: when the latest ready revision
carries 100% of the traffic it becomes ``latestRolledoutRevision`` and the one before becomes
``previousRolledoutRevision``; if the rolled-out revision drops below 100% (and is not the only
candidate), ``latestRolledoutRevision`` falls back to the previous one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from zeroserve.apis.conditions import ConditionManager, ConditionSet
from zeroserve.apis.knative.serving.v1.types import ServiceStatus
from zeroserve.apis.meta import Addressable
from zeroserve.apis.serving.v1beta1.types import (
    ComponentStatusSpec,
    InferenceService,
    InferenceServiceStatus,
    TrafficTarget,
)

__all__ = [
    "IGNORED_FIELDS",
    "INGRESS_READY",
    "READY",
    "component_condition",
    "condition_set",
    "manage",
    "mark_ignored_fields",
    "mark_ingress_not_ready",
    "mark_ingress_ready",
    "propagate_component_status",
]

READY = "Ready"
INGRESS_READY = "IngressReady"
IGNORED_FIELDS = "IgnoredFields"
_COMPONENT_PREFIX = {"predictor": "Predictor", "transformer": "Transformer", "explainer": "Explainer"}


def component_condition(component: str, suffix: str = "Ready") -> str:
    """The condition type for a component, e.g. ``PredictorReady`` or ``TransformerRouteReady``.

    Args:
        component: ``predictor``, ``transformer`` or ``explainer``.
        suffix: ``Ready``, ``RouteReady`` or ``ConfigurationReady``.

    Returns:
        The condition type.
    """
    return f"{_COMPONENT_PREFIX[component]}{suffix}"


def condition_set(isvc: InferenceService) -> ConditionSet:
    """``Ready`` over the present components' ``<Component>Ready`` and ``IngressReady``.

    Args:
        isvc: The InferenceService (its spec decides which components count).

    Returns:
        The living condition set.
    """
    dependents = [component_condition(name) for name in isvc.spec.components()]
    return ConditionSet.living(*dependents, INGRESS_READY)


def manage(isvc: InferenceService, now: Callable[[], datetime] | None = None) -> ConditionManager:
    """A condition manager over ``isvc.status`` (created when missing), initialized.

    Args:
        isvc: The InferenceService; its status is changed in place.
        now: The clock for transition times (real UTC time when omitted).

    Returns:
        The manager, with every condition of :func:`condition_set` present.
    """
    if isvc.status is None:
        isvc.status = InferenceServiceStatus()
    manager = condition_set(isvc).manage(isvc.status, now)
    manager.initialize()
    return manager


def propagate_component_status(
    isvc: InferenceService,
    component: str,
    ksvc_status: ServiceStatus | None,
    now: Callable[[], datetime] | None = None,
) -> ComponentStatusSpec:
    """Copy a component's Knative Service status into the InferenceService's status.

    Args:
        isvc: The InferenceService; ``status.components[component]`` and conditions change in place.
        component: ``predictor``, ``transformer`` or ``explainer``.
        ksvc_status: The status of ``<isvc>-<component>``; ``None`` when it does not exist yet.
        now: The clock for transition times.

    Returns:
        The component's updated status entry.
    """
    manager = manage(isvc, now)
    status = isvc.status
    assert status is not None
    components = dict(status.components or {})
    entry = components.get(component, ComponentStatusSpec()).model_copy(deep=True)
    ready_type = component_condition(component)
    if ksvc_status is None:
        manager.mark_unknown(
            ready_type, "ServiceNotCreated", f"the Knative Service for {component} is being created"
        )
        components[component] = entry
        status.components = components
        return entry

    entry.latest_created_revision = ksvc_status.latest_created_revision_name
    traffic = _traffic_by_revision(ksvc_status)
    latest_ready = ksvc_status.latest_ready_revision_name
    if latest_ready:
        fully_rolled_out = traffic.get(latest_ready, 0) == 100
        if fully_rolled_out and entry.latest_rolledout_revision != latest_ready:
            entry.previous_rolledout_revision = entry.latest_rolledout_revision
            entry.latest_rolledout_revision = latest_ready
        elif (
            not fully_rolled_out
            and entry.latest_rolledout_revision == latest_ready
            and entry.previous_rolledout_revision
            and traffic.get(entry.previous_rolledout_revision, 0) > 0
        ):
            entry.latest_rolledout_revision = entry.previous_rolledout_revision
        entry.latest_ready_revision = latest_ready
    entry.traffic = [TrafficTarget.model_validate(t.to_dict()) for t in ksvc_status.traffic or []] or None

    ready = ksvc_status.get_condition("Ready")
    if ready is not None and ready.is_true:
        if ksvc_status.url:
            entry.url = ksvc_status.url
        if ksvc_status.address is not None:
            entry.address = Addressable.model_validate(ksvc_status.address.to_dict())
    manager.propagate(ready_type, ready, "ServiceNotReady")
    for source, suffix in (("RoutesReady", "RouteReady"), ("ConfigurationsReady", "ConfigurationReady")):
        condition = ksvc_status.get_condition(source)
        if condition is not None:
            _copy_info(
                manager,
                component_condition(component, suffix),
                condition.status,
                condition.reason,
                condition.message,
            )
    components[component] = entry
    status.components = components
    return entry


def mark_ingress_ready(
    isvc: InferenceService, url: str, address_url: str, now: Callable[[], datetime] | None = None
) -> None:
    """Set ``status.url`` / ``status.address.url`` and mark ``IngressReady``.

    Args:
        isvc: The InferenceService.
        url: ``http://<isvc>.<ns>.<domain>``.
        address_url: ``http://<isvc>.<ns>.svc.cluster.local``.
        now: The clock for transition times.
    """
    manager = manage(isvc, now)
    assert isvc.status is not None
    isvc.status.url = url
    isvc.status.address = Addressable(url=address_url)
    manager.mark_true(INGRESS_READY)


def mark_ingress_not_ready(
    isvc: InferenceService, reason: str, message: str, now: Callable[[], datetime] | None = None
) -> None:
    """Mark ``IngressReady`` false, e.g. reason ``PredictorIngressNotCreated`` while components start.

    Args:
        isvc: The InferenceService.
        reason: CamelCase reason.
        message: e.g. ``Predictor ingress not created`` (KServe's wording).
        now: The clock for transition times.
    """
    manage(isvc, now).mark_false(INGRESS_READY, reason, message)


def mark_ignored_fields(
    isvc: InferenceService, fields: list[str], now: Callable[[], datetime] | None = None
) -> None:
    """Report fields zeroserve keeps but does not act on, as the Info condition ``IgnoredFields``.

    Args:
        isvc: The InferenceService.
        fields: Paths from :func:`~zeroserve.apis.serving.v1beta1.validation.ignored_fields`; an empty
            list removes the condition.
        now: The clock for transition times.
    """
    manager = manage(isvc, now)
    assert isvc.status is not None
    if not fields:
        isvc.status.conditions = [c for c in isvc.status.conditions or [] if c.type != IGNORED_FIELDS]
        return
    manager.mark_true(IGNORED_FIELDS, "FieldsNotSupported", "accepted but not acted on: " + ", ".join(fields))


def _copy_info(
    manager: ConditionManager, condition_type: str, status: str, reason: str | None, message: str | None
) -> None:
    if status == "True":
        manager.mark_true(condition_type, reason, message)
    elif status == "False":
        manager.mark_false(condition_type, reason or "NotReady", message or "")
    else:
        manager.mark_unknown(condition_type, reason or "Unknown", message or "")


def _traffic_by_revision(ksvc_status: ServiceStatus) -> dict[str, int]:
    shares: dict[str, int] = {}
    for target in ksvc_status.traffic or []:
        name = target.revision_name
        if not name and target.latest_revision:
            name = ksvc_status.latest_ready_revision_name
        if name:
            shares[name] = shares.get(name, 0) + (target.percent or 0)
    return shares
