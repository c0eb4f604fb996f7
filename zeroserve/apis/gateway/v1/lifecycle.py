"""HTTPRoute status in Gateway API's shape: per parent (gateway), ``Accepted`` and ``ResolvedRefs``.

Gateway API conditions are ``metav1.Condition`` (``type``, ``status``, ``reason``, ``message``,
``observedGeneration``, ``lastTransitionTime``), kept in ``status.parents[].conditions``.
:func:`set_parent_conditions` records the local gateway's verdict for one parent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from zeroserve.apis.conditions import rfc3339
from zeroserve.apis.gateway.v1.types import HTTPRoute, HTTPRouteParentStatus, HTTPRouteStatus, ParentReference

__all__ = ["DEFAULT_PARENT", "is_accepted", "set_parent_conditions"]

DEFAULT_PARENT = ParentReference(
    group="gateway.networking.k8s.io", kind="Gateway", namespace="zeroserve-system", name="zeroserve-gateway"
)
"""The parent recorded for a route that names none (the embedded platform's gateway)."""


def set_parent_conditions(
    route: HTTPRoute,
    controller_name: str,
    *,
    accepted: bool,
    resolved_refs: bool,
    message: str = "",
    parent: ParentReference | None = None,
    now: Callable[[], datetime] | None = None,
) -> None:
    """Record ``Accepted`` and ``ResolvedRefs`` for one parent of the route.

    Args:
        route: The route; its status changes in place.
        controller_name: e.g. ``zeroserve.io/gateway``.
        accepted: Whether the gateway serves the route.
        resolved_refs: Whether every backend reference resolved.
        message: Why not, when either is false.
        parent: The parent; the route's first ``parentRefs`` entry, else :data:`DEFAULT_PARENT`.
        now: The clock for transition times.
    """
    clock = now or (lambda: datetime.now(UTC))
    parent = parent or (route.spec.parent_refs or [DEFAULT_PARENT])[0]
    generation = route.metadata.generation
    entries = list(route.status.parents or []) if route.status is not None else []
    existing = next(
        (e for e in entries if e.parent_ref == parent and e.controller_name == controller_name), None
    )
    previous = {c.get("type"): c for c in (existing.conditions or [])} if existing is not None else {}
    moment = rfc3339(clock())
    conditions = []
    for kind, ok, good, bad in (
        ("Accepted", accepted, "Accepted", "NotAllowedByListeners"),
        ("ResolvedRefs", resolved_refs, "ResolvedRefs", "BackendNotFound"),
    ):
        status = "True" if ok else "False"
        old = previous.get(kind) or {}
        changed = old.get("status") != status
        conditions.append(
            {
                "type": kind,
                "status": status,
                "reason": good if ok else bad,
                "message": "" if ok else message,
                "observedGeneration": generation or 0,
                "lastTransitionTime": moment if changed else old.get("lastTransitionTime"),
            }
        )
    entry = HTTPRouteParentStatus(parent_ref=parent, controller_name=controller_name, conditions=conditions)
    entries = [e for e in entries if e is not existing] + [entry]
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
