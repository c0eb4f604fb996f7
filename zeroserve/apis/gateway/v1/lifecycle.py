"""HTTPRoute status in Gateway API's shape: per parent (gateway), ``Accepted`` and ``ResolvedRefs``.

Gateway API conditions are ``metav1.Condition`` (``type``, ``status``, ``reason``, ``message``,
``observedGeneration``, ``lastTransitionTime``), kept in ``status.parents[].conditions``.
:func:`set_parent_conditions` records the local gateway's verdict for one parent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from zeroserve.apis.conditions import ConditionSet
from zeroserve.apis.gateway.v1.types import HTTPRoute, HTTPRouteParentStatus, HTTPRouteStatus, ParentReference
from zeroserve.apis.meta import Condition, Status

__all__ = ["DEFAULT_PARENT", "PARENT_CONDITIONS", "is_accepted", "set_parent_conditions"]

PARENT_CONDITIONS = ConditionSet.independent("Accepted", "ResolvedRefs")
"""A parent's conditions (``metav1.Condition``): each stands alone."""

DEFAULT_PARENT = ParentReference(
    group="gateway.networking.k8s.io", kind="Gateway", namespace="zeroserve-system", name="zeroserve-gateway"
)
"""The parent recorded for a route that names none (the embedded platform's gateway)."""


def set_parent_conditions(
    route: HTTPRoute,
    controller_name: str,
    *,
    accepted: bool | None,
    resolved_refs: bool,
    message: str = "",
    parent: ParentReference | None = None,
    now: Callable[[], datetime] | None = None,
) -> None:
    """Record ``Accepted`` and ``ResolvedRefs`` for one parent of the route.

    Transition times come from :class:`~zeroserve.apis.conditions.ConditionManager`: a condition whose
    status, reason and message did not change keeps its time.

    Args:
        route: The route; its status changes in place.
        controller_name: e.g. ``zeroserve.io/gateway``.
        accepted: Whether the gateway serves the route; ``None`` while it is being installed
            (``Unknown``, reason ``Pending``).
        resolved_refs: Whether every backend reference resolved.
        message: Why not, when either is not true.
        parent: The parent; the route's first ``parentRefs`` entry, else :data:`DEFAULT_PARENT`.
        now: The clock for transition times.
    """
    parent = parent or (route.spec.parent_refs or [DEFAULT_PARENT])[0]
    generation = route.metadata.generation or 0
    entries = list(route.status.parents or []) if route.status is not None else []
    existing = next(
        (e for e in entries if e.parent_ref == parent and e.controller_name == controller_name), None
    )
    previous = [Condition.from_dict(c) for c in existing.conditions or []] if existing is not None else []
    status = Status(conditions=previous)
    manager = PARENT_CONDITIONS.manage(status, now)
    if accepted is None:
        manager.mark_unknown("Accepted", "Pending", message)
    elif accepted:
        manager.mark_true("Accepted", "Accepted", "")
    else:
        manager.mark_false("Accepted", "NotAllowedByListeners", message)
    if resolved_refs:
        manager.mark_true("ResolvedRefs", "ResolvedRefs", "")
    else:
        manager.mark_false("ResolvedRefs", "BackendNotFound", message)
    conditions = []
    for condition in status.conditions or []:
        condition.observed_generation = generation
        condition.message = condition.message or ""
        conditions.append(condition.to_dict())
    entry = HTTPRouteParentStatus(parent_ref=parent, controller_name=controller_name, conditions=conditions)
    entries = [e if e is not existing else entry for e in entries]
    if existing is None:
        entries.append(entry)
    route.status = HTTPRouteStatus(parents=entries)


def is_accepted(route: HTTPRoute) -> bool:
    """Whether some parent accepted the route.

    Args:
        route: The route.

    Returns:
        True when any parent status has ``Accepted=True``.
    """
    for parent in (route.status.parents or []) if route.status is not None else []:
        for condition in parent.conditions or []:
            if condition.get("type") == "Accepted" and condition.get("status") == "True":
                return True
    return False
