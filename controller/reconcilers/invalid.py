"""The status of an object that fails validation: ``Ready=False``, reason ``InvalidSpec``, every message.

Works on the status as JSON, because an invalid object may not even parse into its type; all other
status fields (conditions of the last good reconcile, URLs, revisions) are kept as they were.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from zeroserve.apis.conditions import rfc3339

__all__ = ["INVALID_SPEC", "invalid_status"]

INVALID_SPEC = "InvalidSpec"


def invalid_status(
    status: dict[str, Any] | None, messages: list[str], generation: int | None, now: datetime
) -> dict[str, Any]:
    """The new status of an invalid object.

    Args:
        status: the stored status (JSON), if any.
        messages: every validation message, each ``<field path>: <what is wrong>``.
        generation: ``metadata.generation``, recorded as ``observedGeneration``.
        now: for ``lastTransitionTime`` (kept when the condition did not change).

    Returns:
        The status with ``Ready`` False.
    """
    new = dict(status or {})
    message = "; ".join(messages)
    ready: dict[str, Any] = {"type": "Ready", "status": "False", "reason": INVALID_SPEC, "message": message}
    conditions = [dict(c) for c in new.get("conditions") or [] if isinstance(c, dict)]
    for index, condition in enumerate(conditions):
        if condition.get("type") == "Ready":
            same = all(condition.get(k) == v for k, v in ready.items())
            ready["lastTransitionTime"] = condition.get("lastTransitionTime") if same else rfc3339(now)
            conditions[index] = ready
            break
    else:
        ready["lastTransitionTime"] = rfc3339(now)
        conditions.append(ready)
    new["conditions"] = sorted(conditions, key=lambda c: str(c.get("type")))
    if generation is not None:
        new["observedGeneration"] = generation
    return new
