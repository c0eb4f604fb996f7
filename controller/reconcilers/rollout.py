"""KServe's rolled-out revision bookkeeping (``PropagateStatus`` in KServe's Knative mode).

From a component's Knative Service status, for the traffic target that is the latest ready revision
and follows the latest revision:

- it carries 100% and is not yet the latest rolled-out revision: the old one becomes
  ``previousRolledoutRevision`` and it becomes ``latestRolledoutRevision``;
- it *is* the latest rolled-out revision, is also the latest created one, carries less than 100% but
  the revision as a whole carries 100% (the traffic was split over the same revision: a canary or
  pin set right after a promotion), then ``latestRolledoutRevision`` falls back to the previous one,
  so the next traffic split pins the revision before it (rollback).
"""

from __future__ import annotations

from zeroserve.apis.knative.serving.v1 import ServiceStatus

__all__ = ["track_rollout"]


def track_rollout(
    latest_rolledout: str | None, previous_rolledout: str | None, ksvc: ServiceStatus
) -> tuple[str | None, str | None]:
    """Advance (or roll back) the rolled-out revisions from a Knative Service's status.

    Args:
        latest_rolledout: ``latestRolledoutRevision`` before this status.
        previous_rolledout: ``previousRolledoutRevision`` before this status.
        ksvc: the component's Knative Service status.

    Returns:
        The new ``(latestRolledoutRevision, previousRolledoutRevision)``.
    """
    latest_ready = ksvc.latest_ready_revision_name
    if not latest_ready:
        return latest_rolledout, previous_rolledout
    by_revision: dict[str, int] = {}
    for target in ksvc.traffic or []:
        if target.revision_name and target.percent is not None:
            by_revision[target.revision_name] = by_revision.get(target.revision_name, 0) + target.percent
    for target in ksvc.traffic or []:
        if target.revision_name != latest_ready or not target.latest_revision:
            continue
        if latest_rolledout != latest_ready:
            if target.percent == 100:
                previous_rolledout, latest_rolledout = latest_rolledout, latest_ready
        elif (
            latest_ready == ksvc.latest_created_revision_name
            and (target.percent or 0) < 100
            and by_revision.get(target.revision_name) == 100
            and previous_rolledout
        ):
            latest_rolledout = previous_rolledout
    return latest_rolledout, previous_rolledout
