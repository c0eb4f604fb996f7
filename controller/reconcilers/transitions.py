"""Whether a condition is about to change: Events are recorded on transitions, not on every reconcile.

A level-triggered reconcile of an unchanged object must write nothing, Events included; so a Warning
that restates the stored condition is not recorded again.
"""

from __future__ import annotations

from typing import Any

from zeroserve.controller.store import Obj

__all__ = ["keep_transition_times", "stored_condition", "transitions"]


def stored_condition(obj: Obj, condition_type: str) -> dict[str, Any] | None:
    """The condition of that type in the object's stored status, if any."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == condition_type:
            return condition
    return None


def transitions(obj: Obj, condition_type: str, status: str, reason: str | None, message: str | None) -> bool:
    """Whether setting the condition to (status, reason, message) changes what is stored.

    Args:
        obj: the object as read at the start of the reconcile.
        condition_type: e.g. ``PredictorReady``.
        status: ``True``, ``False`` or ``Unknown``.
        reason: the new reason.
        message: the new message.

    Returns:
        True when the stored condition differs (or is absent).
    """
    current = stored_condition(obj, condition_type)
    if current is None:
        return True
    return (current.get("status"), current.get("reason") or None, current.get("message") or None) != (
        status,
        reason or None,
        message or None,
    )


def keep_transition_times(stored: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Give every condition that ends a reconcile as it was stored its stored ``lastTransitionTime``.

    During one reconcile a condition may pass through intermediate values (a dependent marks
    ``Ready`` False with one reason, a later step with another); only the end state counts, so a
    condition whose status, reason and message equal the stored ones did not transition.

    Args:
        stored: the status read at the start of the reconcile.
        new: the status computed; not changed.

    Returns:
        ``new`` with the stored transition times restored where nothing changed.
    """
    before = {c.get("type"): c for c in (stored or {}).get("conditions") or [] if isinstance(c, dict)}
    conditions = []
    for condition in new.get("conditions") or []:
        old = before.get(condition.get("type"))
        if old is not None and all(
            (old.get(k) or None) == (condition.get(k) or None)
            for k in ("status", "reason", "message", "severity")
        ):
            condition = {**condition, "lastTransitionTime": old.get("lastTransitionTime")}
            if condition["lastTransitionTime"] is None:
                del condition["lastTransitionTime"]
        conditions.append(condition)
    return {**new, "conditions": conditions} if "conditions" in new else new
