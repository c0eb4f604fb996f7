"""What every reconciler is given: the API, the controller's configuration, an Event recorder and a clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.events import EventRecorder
from zeroserve.controller.store import Store

__all__ = ["ReconcilerBase", "utc_now"]


def utc_now() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


class ReconcilerBase:
    """Holds a reconciler's collaborators; subclasses add ``reconcile(namespace, name)``.

    Args:
        store: the API.
        config: the controller configuration.
        recorder: where user-visible Events go.
        clock: current UTC time, for condition transition times.
    """

    def __init__(
        self,
        store: Store,
        config: ControllerConfig,
        recorder: EventRecorder,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._store = store
        self._config = config
        self._recorder = recorder
        self._clock = clock
