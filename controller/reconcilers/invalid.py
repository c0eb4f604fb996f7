"""The status of an object that fails validation: ``Ready=False``, reason ``InvalidSpec``, every message.

Works on the status as JSON, because an invalid object may not even parse into its type; all other
status fields (conditions of the last good reconcile, URLs, revisions) are kept as they were.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from zeroserve.apis.conditions import ConditionSet
from zeroserve.apis.meta import Condition, Status

__all__ = ["INVALID_SPEC", "invalid_status"]

INVALID_SPEC = "InvalidSpec"

_READY_ALONE = ConditionSet.independent("Ready")


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
        The status with ``Ready`` False; the other conditions as stored.
    """
    new = dict(status or {})
    conditions = []
    for stored in new.get("conditions") or []:
        try:
            conditions.append(Condition.from_dict(stored))
        except (ValidationError, TypeError, ValueError):
            continue  # not a condition at all: dropped, as a real status could not hold it
    typed = Status(conditions=conditions)
    _READY_ALONE.manage(typed, lambda: now).mark_false("Ready", INVALID_SPEC, "; ".join(messages))
    new["conditions"] = [condition.to_dict() for condition in typed.conditions or []]
    if generation is not None:
        new["observedGeneration"] = generation
    return new
