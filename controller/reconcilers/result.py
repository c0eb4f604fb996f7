"""What a reconcile tells the loop."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Result"]


@dataclass(frozen=True)
class Result:
    """The outcome of one reconcile; errors are raised instead (and retried with backoff)."""

    requeue_after: float | None = None
    """Reconcile again after this many seconds even without a change (e.g. waiting on another object)."""
