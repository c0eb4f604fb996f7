"""An in-memory store that answers like the API server, for tests of the reconcile logic.

This is a test double of the *API server*, not of our own code: the embedded API server is being
built in parallel, and until it exists the controller's logic is tested against this. It keeps the
behaviours reconcilers rely on: ``resourceVersion`` on every write and 409 for a stale one,
``AlreadyExists`` on create, ``generation`` bumped on spec changes only, the status subresource
(``update`` ignores status, ``update_status`` ignores everything else), ``uid`` and
``creationTimestamp``, equality label selectors, watches from a ``resourceVersion``, and garbage
collection of objects whose owner reference points at a deleted uid.
"""

from __future__ import annotations

import copy
import itertools
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from zeroserve.controller.errors import AlreadyExists, Conflict, Gone, NotFound
from zeroserve.controller.kinds import Kind
from zeroserve.controller.store import Obj, ObjectList, WatchEvent

_NO_STATUS = {"Event", "Lease", "ConfigMap"}


def _matches(obj: Obj, selector: str) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class _MemWatch:
    def __init__(self, store: MemStore, kind: Kind, namespace: str | None, rv: int, timeout: float) -> None:
        self._store, self._kind, self._ns, self._rv, self._timeout = store, kind, namespace, rv, timeout
        self._closed = False

    def __iter__(self) -> Iterator[WatchEvent]:
        return self._store._stream(self)

    def close(self) -> None:
        self._closed = True
        with self._store._cond:
            self._store._cond.notify_all()


class MemStore:
    """The store interface over dicts, with the API server's concurrency rules."""

    def __init__(self) -> None:
        self._objects: dict[tuple[Kind, str, str], Obj] = {}
        self._log: list[tuple[int, Kind, str, Obj]] = []
        self._rv = itertools.count(1)
        self._last_rv = 0
        self._cond = threading.Condition()
        self.writes: list[tuple[str, str, str]] = []
        """(verb, kind, name) of every successful write, for assertions."""

    # -- reads -------------------------------------------------------------------------------------
    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        with self._cond:
            obj = self._objects.get((kind, namespace if kind.namespaced else "", name))
            if obj is None:
                raise NotFound(f"{kind.plural} {name!r} not found", 404)
            return copy.deepcopy(obj)

    def list(self, kind: Kind, namespace: str | None = None, label_selector: str = "") -> ObjectList:
        with self._cond:
            items = [
                copy.deepcopy(o)
                for (k, ns, _), o in sorted(self._objects.items(), key=lambda kv: kv[0][1:])
                if k == kind and (namespace is None or ns == namespace) and _matches(o, label_selector)
            ]
            return ObjectList(items, str(self._last_rv))

    # -- writes ------------------------------------------------------------------------------------
    def create(self, kind: Kind, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        ns = meta.get("namespace", "default") if kind.namespaced else ""
        if kind.namespaced:
            meta["namespace"] = ns
        with self._cond:
            key = (kind, ns, meta["name"])
            if key in self._objects:
                raise AlreadyExists(f"{kind.plural} {meta['name']!r} already exists", 409)
            meta["uid"] = str(uuid.uuid4())
            meta["generation"] = 1
            meta["creationTimestamp"] = "2026-01-01T00:00:00Z"
            obj.setdefault("apiVersion", kind.api_version)
            obj.setdefault("kind", kind.kind)
            return self._store_locked(kind, key, obj, "ADDED", "create")

    def update(self, kind: Kind, obj: Obj) -> Obj:
        return self._update(kind, obj, status=False)

    def update_status(self, kind: Kind, obj: Obj) -> Obj:
        return self._update(kind, obj, status=True)

    def delete(self, kind: Kind, namespace: str, name: str) -> None:
        with self._cond:
            key = (kind, namespace if kind.namespaced else "", name)
            obj = self._objects.pop(key, None)
            if obj is None:
                raise NotFound(f"{kind.plural} {name!r} not found", 404)
            self._emit_locked(kind, "DELETED", obj)
            self.writes.append(("delete", kind.kind, name))
            uid = obj["metadata"]["uid"]
            orphans = [
                k
                for k, o in self._objects.items()
                if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
            ]
        for k, ns, n in orphans:
            self.delete(k, ns, n)

    # -- watch -------------------------------------------------------------------------------------
    def watch(
        self, kind: Kind, namespace: str | None, resource_version: str, timeout_seconds: int
    ) -> _MemWatch:
        rv = int(resource_version or 0)
        with self._cond:
            if self._log and rv < self._log[0][0] - 1:
                raise Gone("too old resource version", 410)
        return _MemWatch(self, kind, namespace, rv, timeout_seconds)

    def _stream(self, w: _MemWatch) -> Iterator[WatchEvent]:
        rv = w._rv
        while True:
            with self._cond:
                while not w._closed:
                    pending = [e for e in self._log if e[0] > rv and e[1] == w._kind]
                    if pending:
                        break
                    if not self._cond.wait(w._timeout):
                        return
                if w._closed:
                    return
            for erv, _, etype, obj in pending:
                rv = erv
                if w._ns is None or obj["metadata"].get("namespace") == w._ns:
                    yield WatchEvent(etype, copy.deepcopy(obj))

    # -- internals ---------------------------------------------------------------------------------
    def _update(self, kind: Kind, obj: Obj, status: bool) -> Obj:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace", "default") if kind.namespaced else ""
        with self._cond:
            key = (kind, ns, meta["name"])
            current = self._objects.get(key)
            if current is None:
                raise NotFound(f"{kind.plural} {meta['name']!r} not found", 404)
            sent_rv = meta.get("resourceVersion")
            if sent_rv and sent_rv != current["metadata"]["resourceVersion"]:
                raise Conflict(
                    f"Operation cannot be fulfilled on {kind.plural} {meta['name']!r}: "
                    "the object has been modified; please apply your changes to the latest version",
                    409,
                )
            new = copy.deepcopy(current)
            if status:
                new["status"] = copy.deepcopy(obj.get("status"))
            else:
                for field, value in obj.items():
                    if field in ("metadata", "status") and not (
                        field == "status" and kind.kind in _NO_STATUS
                    ):
                        continue
                    new[field] = copy.deepcopy(value)
                for field in ("labels", "annotations", "ownerReferences", "finalizers"):
                    if field in meta:
                        new["metadata"][field] = copy.deepcopy(meta[field])
                    else:
                        new["metadata"].pop(field, None)
                if new.get("spec") != current.get("spec"):
                    new["metadata"]["generation"] = current["metadata"]["generation"] + 1
            if new == current:
                return copy.deepcopy(current)
            return self._store_locked(kind, key, new, "MODIFIED", "update_status" if status else "update")

    def _store_locked(self, kind: Kind, key: tuple[Kind, str, str], obj: Obj, etype: str, verb: str) -> Obj:
        rv = next(self._rv)
        self._last_rv = rv
        obj["metadata"]["resourceVersion"] = str(rv)
        self._objects[key] = obj
        self._emit_locked(kind, etype, obj, rv)
        self.writes.append((verb, kind.kind, key[2]))
        return copy.deepcopy(obj)

    def _emit_locked(self, kind: Kind, etype: str, obj: Obj, rv: int | None = None) -> None:
        if rv is None:
            rv = next(self._rv)
            self._last_rv = rv
        self._log.append((rv, kind, etype, copy.deepcopy(obj)))
        self._cond.notify_all()

    def force_status(self, kind: Kind, namespace: str, name: str, status: dict[str, Any]) -> Obj:
        """Write status as another controller (e.g. Knative) would, at the current version."""
        current = self.get(kind, namespace, name)
        current["status"] = status
        return self.update_status(kind, current)
