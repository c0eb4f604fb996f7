"""Fan-out of committed changes to open watches.

The registry publishes every committed change synchronously; each :class:`Watcher` filters by resource,
namespace and selectors and queues what its client should see. A change that makes an object leave a
watch's selector is delivered as ``DELETED``, one that makes it enter as ``ADDED``, as Kubernetes does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from zeroserve.local.apiserver.selectors import Selector

__all__ = ["WatchEvent", "WatchHub", "Watcher"]


@dataclass(frozen=True)
class WatchEvent:
    """One change as a watch delivers it."""

    type: str
    """``ADDED``, ``MODIFIED``, ``DELETED``, ``BOOKMARK`` or ``ERROR``."""
    object: dict[str, Any]


@dataclass(eq=False)
class Watcher:
    """One open watch: its filters and the queue of events waiting for its client."""

    group: str
    resource: str
    namespace: str | None
    selectors: tuple[Selector, ...] = ()
    queue: asyncio.Queue[WatchEvent | None] = field(default_factory=asyncio.Queue)

    def matches(self, obj: dict[str, Any] | None) -> bool:
        """Returns: whether ``obj`` is in this watch's scope."""
        if obj is None:
            return False
        if self.namespace is not None and obj.get("metadata", {}).get("namespace", "") != self.namespace:
            return False
        return all(select(obj) for select in self.selectors)

    def offer(self, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        """Queue a committed change if this watch should see it.

        Args:
            event_type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
            obj: the object after the change (its last state for ``DELETED``).
            old: the object before the change, when known.
        """
        now_in = self.matches(obj)
        was_in = self.matches(old) if old is not None else now_in
        if event_type == "MODIFIED" and now_in != was_in:
            event_type = "ADDED" if now_in else "DELETED"
            now_in = True
        if now_in:
            self.queue.put_nowait(WatchEvent(event_type, obj))


class WatchHub:
    """All open watches of one API server."""

    def __init__(self) -> None:
        self._watchers: set[Watcher] = set()
        self._closed = False

    def subscribe(self, watcher: Watcher) -> Watcher:
        """Register a watch; it receives every change published from now on.

        Args:
            watcher: the watch.

        Returns:
            The same watcher.
        """
        if self._closed:
            watcher.queue.put_nowait(None)
        self._watchers.add(watcher)
        return watcher

    def unsubscribe(self, watcher: Watcher) -> None:
        """Stop delivering to a watch; safe to call twice."""
        self._watchers.discard(watcher)

    def publish(
        self, group: str, resource: str, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        """Deliver a committed change to every interested watch.

        Args:
            group: the API group of the object.
            resource: its plural resource name.
            event_type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
            obj: the object after the change.
            old: the object before it.
        """
        for watcher in list(self._watchers):
            if watcher.group == group and watcher.resource == resource:
                watcher.offer(event_type, obj, old)

    def close(self) -> None:
        """End every open watch (server shutdown)."""
        self._closed = True
        for watcher in self._watchers:
            watcher.queue.put_nowait(None)
