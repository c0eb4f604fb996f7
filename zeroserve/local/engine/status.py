"""What a running revision reports, marked onto its Revision with the apis lifecycle helpers.

:class:`RevisionObservation` is a snapshot of a runtime (taken on the event loop, read in the
reconciler's worker thread); :func:`mark_revision_status` turns it into Knative's conditions
(``Ready`` over ``ResourcesAvailable`` and ``ContainerHealthy``; ``Active`` informational) through
:mod:`zeroserve.apis.knative.serving.v1.lifecycle`, whose condition manager alone stamps transition
times. :class:`Problem` is why a revision cannot serve: a reason and a one-line message.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from zeroserve.apis.knative.serving.v1 import Revision, RevisionStatus, lifecycle

__all__ = [
    "DEPLOYING",
    "Problem",
    "RevisionObservation",
    "mark_revision_status",
    "mark_revision_unobserved",
    "one_line",
]

DEPLOYING = "Deploying"
STARTING = "Instances are starting."


@dataclass(frozen=True)
class Problem:
    """Why a revision cannot serve (or an instance failed): a CamelCase reason and one readable line."""

    reason: str
    message: str


@dataclass(frozen=True)
class RevisionObservation:
    """A revision runtime's state, as its status reports it."""

    ready: int = 0
    """Instances serving now."""
    desired: int = 0
    """Instances the autoscaler wants."""
    ever_ready: bool = False
    """The revision reached its initial scale once (Knative's Ready stays True through scale to zero)."""
    fatal: Problem | None = None
    """It can never serve (image, annotations)."""
    failure: Problem | None = None
    """Its last instance start failed."""
    crash: Problem | None = None
    """An instance crashed recently (shown while no instance serves)."""


def mark_revision_status(
    revision: Revision, seen: RevisionObservation, now: Callable[[], datetime] | None = None
) -> None:
    """Mark a Revision's conditions and replica counts from what its runtime reports.

    Args:
        revision: the Revision; its status changes in place (conditions not reported keep their times).
        seen: the runtime's state.
        now: the clock for transition times.
    """
    fatal = seen.fatal
    if fatal is not None:
        lifecycle.mark_revision_resources_unavailable(revision, fatal.reason, fatal.message, now)
        lifecycle.mark_revision_container_healthy_unknown(revision, fatal.reason, fatal.message, now)
        lifecycle.mark_revision_activating(revision, fatal.reason, fatal.message, now)
    else:
        crash = seen.crash
        if crash is not None and not seen.ready:
            lifecycle.mark_revision_container_unhealthy(revision, crash.reason, crash.message, now)
        else:
            lifecycle.mark_revision_container_healthy(revision, now)
        failure = seen.failure
        if seen.ever_ready and (seen.ready or failure is None):
            lifecycle.mark_revision_resources_available(revision, now)
        elif failure is not None:
            lifecycle.mark_revision_resources_unavailable(revision, failure.reason, failure.message, now)
        else:
            lifecycle.mark_revision_resources_unknown(revision, DEPLOYING, STARTING, now)
        if seen.ready:
            lifecycle.mark_revision_active(revision, now)
        elif seen.desired == 0 and seen.ever_ready:
            lifecycle.mark_revision_inactive(revision, now=now)
        else:
            lifecycle.mark_revision_activating(revision, "Activating", STARTING, now)
    status = revision.status
    assert status is not None
    status.actual_replicas = seen.ready
    status.desired_replicas = seen.desired


def mark_revision_unobserved(revision: Revision, now: Callable[[], datetime] | None = None) -> None:
    """A Revision the engine does not run: its last conditions stay (scaled to zero), or ``Deploying``.

    Args:
        revision: the Revision; its status changes in place.
        now: the clock for transition times.
    """
    if revision.status is not None and revision.status.conditions:
        revision.status.actual_replicas = 0
        return
    revision.status = RevisionStatus(actual_replicas=0)
    lifecycle.mark_revision_container_healthy_unknown(revision, DEPLOYING, now=now)
    lifecycle.mark_revision_resources_unknown(revision, DEPLOYING, now=now)
    lifecycle.mark_revision_activating(revision, DEPLOYING, now=now)


def one_line(text: str) -> str:
    """A failure's text (a headline, then log lines or a traceback) as one readable line.

    The headline is kept and followed by the cause: the message of the last ``ERROR`` line of a
    JSON log, else the last line that is not part of a traceback's frames (the exception itself).

    Args:
        text: the failure's text.

    Returns:
        ``"<headline>: <cause>"``, or the headline alone.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    head, cause = lines[0], _cause(lines[1:])
    return f"{head}: {cause}" if cause and cause not in head else head


def _cause(lines: list[str]) -> str:
    plain = ""
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if isinstance(doc, dict) and str(doc.get("level", "")).upper() in ("ERROR", "CRITICAL"):
                return str(doc.get("msg") or "").split("\n", 1)[0]
            continue
        if not plain and not line.startswith(("File ", "Traceback", "^", "~", "---")):
            plain = line
    return plain
