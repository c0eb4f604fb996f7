"""Kubernetes Events (core/v1) for what a user should see in ``kubectl describe``.

Repeats of the same (object, type, reason, message) update one Event's ``count`` and
``lastTimestamp`` instead of creating new ones, as client-go's recorder does. Recording never fails
a reconcile: API errors are logged and dropped.
"""

from __future__ import annotations

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

from zeroserve.controller.errors import StoreError
from zeroserve.controller.kinds import EVENT
from zeroserve.controller.store import Obj, Store

__all__ = ["NORMAL", "WARNING", "EventRecorder"]

log = logging.getLogger(__name__)

NORMAL = "Normal"
WARNING = "Warning"
_CACHE_SIZE = 4096


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Records Events about objects.

    Args:
        store: the API.
        component: ``source.component`` / ``reportingComponent`` of every Event.
        instance: ``reportingInstance`` (e.g. the pod name).
        clock: current time (UTC), injected for tests.
    """

    def __init__(
        self,
        store: Store,
        component: str = "zeroserve-controller",
        instance: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._component = component
        self._instance = instance
        self._clock = clock
        self._seen: OrderedDict[tuple[str, ...], str] = OrderedDict()

    def event(self, obj: Obj, type_: str, reason: str, message: str) -> None:
        """Record that ``reason``/``message`` happened to ``obj``.

        Args:
            obj: the object the Event is about (needs apiVersion, kind and metadata).
            type_: :data:`NORMAL` or :data:`WARNING`.
            reason: a short CamelCase reason, e.g. ``"Created"``.
            message: a sentence for humans.
        """
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        key = (namespace, meta.get("uid") or meta.get("name", ""), type_, reason, message)
        now = _timestamp(self._clock())
        try:
            name = self._seen.get(key)
            if name is not None and self._bump(namespace, name, now):
                self._seen.move_to_end(key)
                return
            name = f"{meta.get('name', 'object')}.{secrets.token_hex(8)}"
            self._store.create(EVENT, self._new_event(obj, namespace, name, type_, reason, message, now))
        except StoreError as exc:
            log.warning("recording event %s on %s failed: %s", reason, meta.get("name"), exc)
            return
        self._seen[key] = name
        if len(self._seen) > _CACHE_SIZE:
            self._seen.popitem(last=False)

    def _bump(self, namespace: str, name: str, now: str) -> bool:
        try:
            current = self._store.get(EVENT, namespace, name)
            current["count"] = int(current.get("count") or 1) + 1
            current["lastTimestamp"] = now
            self._store.update(EVENT, current)
        except StoreError:
            return False
        return True

    def _new_event(
        self, obj: Obj, namespace: str, name: str, type_: str, reason: str, message: str, now: str
    ) -> Obj:
        meta = obj.get("metadata") or {}
        involved = {
            "apiVersion": obj.get("apiVersion", ""),
            "kind": obj.get("kind", ""),
            "name": meta.get("name", ""),
            "namespace": namespace,
        }
        for src, dst in (("uid", "uid"), ("resourceVersion", "resourceVersion")):
            if meta.get(src):
                involved[dst] = meta[src]
        return {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": self._component},
            "reportingComponent": self._component,
            "reportingInstance": self._instance or self._component,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
