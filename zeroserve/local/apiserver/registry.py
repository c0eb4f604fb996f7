"""The object registry: Kubernetes' storage semantics over an in-memory index and SQLite.

Every operation runs synchronously on the server's event loop, so a read-check-write never interleaves
with another. Writes go to :class:`~zeroserve.local.apiserver.storage.Storage` first, then to the index,
then to open watches. The write operations live in :mod:`zeroserve.local.apiserver.writes`, deletion
with finalizers and garbage collection in :mod:`zeroserve.local.apiserver.collector`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.admission import (
    CRD_KEY,
    NAMESPACE_KEY,
)
from zeroserve.local.apiserver.resources import ResourceType, builtin_types, crd_resource_type
from zeroserve.local.apiserver.selectors import Selector
from zeroserve.local.apiserver.storage import ObjectKey, Storage
from zeroserve.local.apiserver.watch import Watcher, WatchEvent, WatchHub

__all__ = ["CRD_KEY", "NAMESPACE_KEY", "Registry"]


class Registry:
    """All objects of one API server.

    Args:
        storage: where objects and the event log persist; loaded on construction.
        hub: the watches to notify of every change.
        max_object_bytes: the largest object stored, as JSON; ``None`` for no limit.
    """

    def __init__(self, storage: Storage, hub: WatchHub, *, max_object_bytes: int | None = None) -> None:
        self._max_object_bytes = max_object_bytes
        self._storage = storage
        self._hub = hub
        self._types: dict[tuple[str, str], ResourceType] = {rt.key: rt for rt in builtin_types()}
        self._builtin = set(self._types)
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._rv = storage.resource_version
        self.after_delete: list[Callable[[], None]] = []
        """Callbacks run after each committed deletion or finalizer change, and after an object is
        stored with owner references it did not have (the garbage collector: a child created after
        its owner was deleted, or while it is being deleted, is collected too)."""
        for key, obj in storage.load():
            self._objects.setdefault((key.group, key.resource), {})[(key.namespace, key.name)] = obj
        for crd in self._objects.get(CRD_KEY, {}).values():
            self._register_crd(crd)

    # -- types ----------------------------------------------------------------------------------------

    def types(self) -> list[ResourceType]:
        """Returns: every served resource type, built-ins first."""
        return list(self._types.values())

    def resolve(self, group: str, version: str, plural: str) -> ResourceType:
        """Find a served resource.

        Args:
            group: the API group (empty for core).
            version: the requested version.
            plural: the plural resource name.

        Returns:
            The resource type.

        Raises:
            ApiError: 404 when the group, version or resource is not served.
        """
        rt = self._types.get((group, plural))
        if rt is None or rt.version(version) is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        return rt

    def _register_crd(self, crd: dict[str, Any]) -> None:
        rt = crd_resource_type(crd)
        if rt.versions:
            self._types[rt.key] = rt
        else:
            self._types.pop(rt.key, None)

    @property
    def reserved(self) -> set[tuple[str, str]]:
        """``(group, plural)`` of the built-in kinds (CRDs may not define them)."""
        return self._builtin

    @property
    def resource_version(self) -> int:
        """The newest resource version."""
        return self._rv

    # -- reads ------------------------------------------------------------------------------------------

    def output(self, rt: ResourceType, version: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Returns: ``obj`` as served in ``version`` (a shallow copy with that ``apiVersion``)."""
        out = dict(obj)
        out["apiVersion"] = rt.api_version(version)
        out["kind"] = rt.kind
        return out

    def lookup(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any] | None:
        """Returns: the stored object, or ``None`` (the index's own dict: do not modify it)."""
        return self._objects.get(rt.key, {}).get((namespace if rt.namespaced else "", name))

    def get(self, rt: ResourceType, namespace: str, name: str) -> dict[str, Any]:
        """Returns: the stored object. Raises: ApiError 404."""
        obj = self.lookup(rt, namespace, name)
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    def objects(self, key: tuple[str, str]) -> list[dict[str, Any]]:
        """Returns: every object of one resource, by ``(group, plural)``."""
        return list(self._objects.get(key, {}).values())

    def all_objects(self) -> Iterator[tuple[ResourceType, dict[str, Any]]]:
        """Yields: every stored object with its type (a snapshot, safe to write while iterating)."""
        for key, objects in list(self._objects.items()):
            rt = self._types.get(key)
            if rt is not None:
                for obj in list(objects.values()):
                    yield rt, obj

    def list_objects(
        self, rt: ResourceType, namespace: str | None, selectors: tuple[Selector, ...] = ()
    ) -> list[dict[str, Any]]:
        """List objects, sorted by namespace and name.

        Args:
            rt: the resource type.
            namespace: only this namespace; ``None`` for all.
            selectors: label and field selectors every item must match.

        Returns:
            The matching stored objects.
        """
        items = [
            obj
            for (ns, _), obj in sorted(self._objects.get(rt.key, {}).items())
            if (namespace is None or ns == namespace) and all(select(obj) for select in selectors)
        ]
        return items

    # -- writes -------------------------------------------------------------------------------------------

    def commit(
        self, rt: ResourceType, event_type: str, obj: dict[str, Any], old: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Persist one change and notify watches.

        Args:
            rt: the object's type.
            event_type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
            obj: the new state, a dict the registry now owns (its resourceVersion is set here).
            old: the previous state.

        Returns:
            ``obj``.

        Raises:
            ApiError: 413 when the object is larger than the registry's object size limit.
        """
        if self._max_object_bytes is not None and event_type != "DELETED":
            size = len(orjson.dumps(obj))
            if size > self._max_object_bytes:
                raise errors.ApiError(
                    413,
                    "RequestEntityTooLarge",
                    f"the object would be {size} bytes once stored; the limit is {self._max_object_bytes} "
                    "bytes (setting ZEROSERVE_APISERVER_MAX_OBJECT_BYTES)",
                )
        self._rv += 1
        meta = obj["metadata"]
        meta["resourceVersion"] = str(self._rv)
        namespace = meta.get("namespace", "") if rt.namespaced else ""
        self._storage.write(
            ObjectKey(rt.group, rt.plural, namespace, meta["name"]), self._rv, event_type, obj
        )
        index = self._objects.setdefault(rt.key, {})
        if event_type == "DELETED":
            index.pop((namespace, meta["name"]), None)
        else:
            index[(namespace, meta["name"])] = obj
        self._hub.publish(rt.group, rt.plural, event_type, obj, old)
        if rt.key == CRD_KEY:
            self._crd_changed(obj, event_type)
        refs = meta.get("ownerReferences")
        new_refs = bool(refs) and (old is None or old["metadata"].get("ownerReferences") != refs)
        if event_type != "DELETED" and new_refs:
            self.after_deletion()
        return obj

    def _crd_changed(self, crd: dict[str, Any], event_type: str) -> None:
        if event_type != "DELETED":
            self._register_crd(crd)
            return
        served = crd_resource_type(crd)
        rt = self._types.pop(served.key, None)
        if rt is not None:
            for obj in self.objects(rt.key):
                self.commit(rt, "DELETED", copy.deepcopy(obj), obj)

    def require_namespace(self, namespace: str) -> None:
        """Raises: ApiError 404 when ``namespace`` does not exist, 403 when it is terminating."""
        ns = self._objects.get(NAMESPACE_KEY, {}).get(("", namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if "deletionTimestamp" in ns["metadata"]:
            raise errors.forbidden(
                f"unable to create new content in namespace {namespace} because it is being terminated"
            )

    def after_deletion(self) -> None:
        """Run the ``after_delete`` callbacks (deletions and finalizer changes call it)."""
        for callback in self.after_delete:
            callback()

    # -- watches ------------------------------------------------------------------------------------------

    def watch(
        self,
        rt: ResourceType,
        namespace: str | None,
        selectors: tuple[Selector, ...],
        resource_version: str | None,
        *,
        initial: bool = False,
    ) -> tuple[Watcher, list[WatchEvent]]:
        """Open a watch.

        Args:
            rt: the resource type.
            namespace: only this namespace; ``None`` for all.
            selectors: label and field selectors.
            resource_version: resume after this version; empty or ``"0"`` starts with the current state.
            initial: send the current state first even when resuming (``sendInitialEvents``).

        Returns:
            The registered watcher and the events to send before the live ones.

        Raises:
            ApiError: 410 when ``resource_version`` is older than the event log, 400 when malformed.
        """
        watcher = self._hub.subscribe(Watcher(rt.group, rt.plural, namespace, selectors))
        if initial or resource_version in (None, "", "0"):
            return watcher, [WatchEvent("ADDED", obj) for obj in self.list_objects(rt, namespace, selectors)]
        try:
            since = int(str(resource_version))
        except ValueError:
            self._hub.unsubscribe(watcher)
            raise errors.bad_request(f"invalid resource version: {resource_version!r}") from None
        events = self._storage.events_since(rt.group, rt.plural, since)
        if events is None:
            self._hub.unsubscribe(watcher)
            raise errors.gone(f"too old resource version: {since} ({self._storage.compacted + 1})")
        return watcher, [WatchEvent(e.type, e.object) for e in events if watcher.matches(e.object)]

    def unwatch(self, watcher: Watcher) -> None:
        """Close a watch opened with :meth:`watch`."""
        self._hub.unsubscribe(watcher)
