"""What a reconcile tells the loop."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Result"]


@dataclass(frozen=True)
class Result:
    """The outcome of one reconcile; errors are raised instead (and retried with backoff)."""

    requeue_after: float | None = None
    """Reconcile again after this many seconds even without a change (e.g. waiting on another object)."""
    also: tuple[tuple[str, str, str], ...] = ()
    """Other objects, as ``(kind, namespace, name)``, to reconcile now because this reconcile changed
    what they depend on (e.g. the sibling TrainedModels of a rewritten model config)."""
