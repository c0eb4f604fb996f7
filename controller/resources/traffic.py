"""Canary traffic, exactly as KServe splits a component's Knative traffic.

- ``canaryTrafficPercent`` P set and a rolled-out revision known: P% to the latest ready revision
  and, when P < 100, 100-P% to the last rolled-out revision, tagged ``prev``;
- otherwise (first rollout, or the field removed = promote): 100% to the latest revision;
- P = 0 pins all traffic back to the rolled-out revision (rollback);
- annotation ``serving.kserve.io/enable-tag-routing: "true"`` tags the latest target ``latest``.

The rolled-out revisions themselves are tracked by :mod:`zeroserve.controller.reconcilers.status`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["component_traffic"]


def component_traffic(
    canary_percent: int | None, latest_rolledout: str | None, tag_routing: bool
) -> list[dict[str, Any]]:
    """The ``traffic`` of a component's Knative Service.

    Args:
        canary_percent: ``spec.<component>.canaryTrafficPercent``.
        latest_rolledout: ``status.components.<component>.latestRolledoutRevision``.
        tag_routing: whether the ``enable-tag-routing`` annotation is ``"true"``.

    Returns:
        Knative traffic targets.
    """
    if canary_percent is not None and latest_rolledout:
        percent = max(0, min(100, canary_percent))
        targets: list[dict[str, Any]] = [{"latestRevision": True, "percent": percent}]
        if percent < 100:
            targets.append(
                {
                    "tag": "prev",
                    "revisionName": latest_rolledout,
                    "latestRevision": False,
                    "percent": 100 - percent,
                }
            )
    else:
        targets = [{"latestRevision": True, "percent": 100}]
    if tag_routing:
        targets[0] = {"tag": "latest", **targets[0]}
    return targets
