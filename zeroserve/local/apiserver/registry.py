"""The object registry: Kubernetes' storage semantics over an in-memory index and SQLite.

Every operation runs synchronously on the server's event loop, so a read-check-write never interleaves
with another. Writes go to :class:`~zeroserve.local.apiserver.storage.Storage` first, then to the index,
then to open watches. Deletion with finalizers and garbage collection live in
:mod:`zeroserve.local.apiserver.collector`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.admission import (
    CRD_KEY,
    NAMESPACE_KEY,
    admit,
    decode,
    generation_body,
    prepare,
)
from zeroserve.local.apiserver.apply import server_side_apply
from zeroserve.local.apiserver.meta import generate_name, new_uid, now_timestamp
from zeroserve.local.apiserver.patches import APPLY_PATCH, apply_patch
from zeroserve.local.apiserver.resources import ResourceType, builtin_types, crd_resource_type
from zeroserve.local.apiserver.selectors import Selector
from zeroserve.local.apiserver.storage import ObjectKey, Storage
from zeroserve.local.apiserver.watch import Watcher, WatchEvent, WatchHub

__all__ = ["CRD_KEY", "NAMESPACE_KEY", "Registry"]

_SERVER_OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
_STALE = "the object has been modified; please apply your changes to the latest version and try again"


class Registry:
    """All objects of one API server.

    Args:
        storage: where objects and the event log persist; loaded on construction.
        hub: the watches to notify of every change.
    """

    def __init__(self, storage: Storage, hub: WatchHub) -> None:
        self._storage = storage
        self._hub = hub
        self._types: dict[tuple[str, str], ResourceType] = {rt.key: rt for rt in builtin_types()}
        self._builtin = set(self._types)
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict[str, Any]]] = {}
        self._rv = storage.resource_version
        self.after_delete: list[Callable[[], None]] = []
        """Callbacks run after each committed deletion or finalizer change (the garbage collector)."""
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
        """
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

    def create(
        self,
        rt: ResourceType,
        version: str,
        namespace: str | None,
        body: Any,
        *,
        dry_run: bool = False,
        field_validation: str = "Warn",
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        """Create an object.

        Args:
            rt: the resource type.
            version: the version the body is in.
            namespace: the namespace from the URL (``None`` for cluster-scoped paths).
            body: the decoded request body.
            dry_run: validate and return the result without storing it.
            field_validation: ``Strict``, ``Warn`` or ``Ignore`` (unknown fields).
            managed_fields: ``metadata.managedFields`` to record (server-side apply).

        Returns:
            The created object (stored version) and warnings for the client.

        Raises:
            ApiError: 400, 404 (namespace), 409 AlreadyExists, 422 Invalid.
        """
        obj = decode(rt, version, body)
        meta = obj["metadata"]
        if rt.namespaced:
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = meta.get("namespace") or namespace or "default"
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = generate_name(str(meta["generateName"]))
        for key in (*_SERVER_OWNED, "resourceVersion"):
            meta.pop(key, None)
        version_def = rt.version(version) or rt.storage_version
        if version_def.status_subresource:
            obj.pop("status", None)
        warnings = admit(rt, version, obj, field_validation, self._builtin)
        if rt.namespaced:
            self.require_namespace(meta["namespace"])
        if self.lookup(rt, meta.get("namespace", ""), meta["name"]) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        meta["uid"] = new_uid()
        meta["creationTimestamp"] = now_timestamp()
        meta["generation"] = 1
        if managed_fields:
            meta["managedFields"] = managed_fields
        prepare(rt, obj, None)
        if dry_run:
            meta["resourceVersion"] = str(self._rv)
            return obj, warnings
        return self.commit(rt, "ADDED", obj, None), warnings

    def update(
        self,
        rt: ResourceType,
        version: str,
        namespace: str,
        name: str,
        body: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Warn",
    ) -> tuple[dict[str, Any], list[str]]:
        """Replace an object (PUT), or only its status when ``subresource`` is ``status``.

        Args:
            rt: the resource type.
            version: the version the body is in.
            namespace: the namespace from the URL.
            name: the name from the URL.
            body: the decoded request body.
            subresource: ``""`` or ``"status"``.
            dry_run: validate without storing.
            field_validation: ``Strict``, ``Warn`` or ``Ignore``.

        Returns:
            The stored object and warnings.

        Raises:
            ApiError: 404, 409 Conflict on a stale ``resourceVersion``, 400, 422.
        """
        current = self.get(rt, namespace, name)
        obj = decode(rt, version, body)
        meta = obj["metadata"]
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        if rt.namespaced and meta.get("namespace", namespace) != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        wanted = meta.get("resourceVersion")
        if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, _STALE)
        return self._replace(rt, version, current, obj, subresource, dry_run, field_validation)

    def patch(
        self,
        rt: ResourceType,
        version: str,
        namespace: str,
        name: str,
        content_type: str,
        body: bytes,
        *,
        subresource: str = "",
        dry_run: bool = False,
        field_validation: str = "Warn",
        field_manager: str = "",
    ) -> tuple[dict[str, Any], list[str]]:
        """Patch an object; a server-side apply of a missing object creates it.

        Args:
            rt: the resource type.
            version: the served version.
            namespace: the namespace from the URL.
            name: the name from the URL.
            content_type: the patch media type.
            body: the raw patch.
            subresource: ``""`` or ``"status"``.
            dry_run: validate without storing.
            field_validation: ``Strict``, ``Warn`` or ``Ignore``.
            field_manager: the ``fieldManager`` parameter (required for server-side apply).

        Returns:
            The stored object and warnings.
        """
        current = self.lookup(rt, namespace, name)
        if content_type.split(";")[0].strip() == APPLY_PATCH and not subresource:
            return self._apply(
                rt, version, namespace, name, current, body, field_manager, dry_run, field_validation
            )
        if current is None:
            raise errors.not_found(rt.plural, rt.group, name)
        patched = apply_patch(self.output(rt, version, current), content_type, body)
        if not isinstance(patched.get("metadata"), dict):
            raise errors.bad_request("metadata must be an object")
        wanted = patched["metadata"].get("resourceVersion")
        if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, _STALE)
        if patched["metadata"].get("name", name) != name:
            raise errors.bad_request("metadata.name cannot be changed by a patch")
        obj = decode(rt, version, patched)
        return self._replace(rt, version, current, obj, subresource, dry_run, field_validation)

    def _apply(
        self,
        rt: ResourceType,
        version: str,
        namespace: str,
        name: str,
        current: dict[str, Any] | None,
        body: bytes,
        field_manager: str,
        dry_run: bool,
        field_validation: str,
    ) -> tuple[dict[str, Any], list[str]]:
        if not field_manager:
            raise errors.bad_request(
                "PATCH with application/apply-patch+yaml requires the fieldManager parameter"
            )
        applied = apply_patch({}, APPLY_PATCH, body)
        meta = applied.setdefault("metadata", {})
        if not isinstance(meta, dict) or meta.setdefault("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        live = self.output(rt, version, current) if current is not None else None
        merged = server_side_apply(live, applied, field_manager, rt.api_version(version))
        managed = merged["metadata"].pop("managedFields")
        if current is None:
            return self.create(
                rt,
                version,
                namespace if rt.namespaced else None,
                merged,
                dry_run=dry_run,
                field_validation=field_validation,
                managed_fields=managed,
            )
        merged["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        obj = decode(rt, version, merged)
        return self._replace(rt, version, current, obj, "", dry_run, field_validation, managed_fields=managed)

    def _replace(
        self,
        rt: ResourceType,
        version: str,
        current: dict[str, Any],
        obj: dict[str, Any],
        subresource: str,
        dry_run: bool,
        field_validation: str,
        managed_fields: list[dict[str, Any]] | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        version_def = rt.version(version) or rt.storage_version
        if subresource == "status":
            new = copy.deepcopy(current)
            if "status" in obj:
                new["status"] = obj["status"]
            else:
                new.pop("status", None)
        elif subresource:
            raise errors.not_found(f"{rt.plural}/{subresource}", rt.group, current["metadata"]["name"])
        else:
            new = obj
            if version_def.status_subresource:
                if "status" in current:
                    new["status"] = copy.deepcopy(current["status"])
                else:
                    new.pop("status", None)
        meta = new["metadata"]
        for key in _SERVER_OWNED:
            if key in current["metadata"]:
                meta[key] = current["metadata"][key]
            else:
                meta.pop(key, None)
        meta["name"] = current["metadata"]["name"]
        if rt.namespaced:
            meta["namespace"] = current["metadata"]["namespace"]
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        if managed_fields is not None:
            meta["managedFields"] = managed_fields
        elif "managedFields" in current["metadata"]:
            meta["managedFields"] = current["metadata"]["managedFields"]
        warnings = admit(rt, version, new, field_validation, self._builtin)
        deleting = "deletionTimestamp" in meta
        if deleting:
            added = set(meta.get("finalizers") or []) - set(current["metadata"].get("finalizers") or [])
            if added:
                raise errors.invalid(
                    rt.kind,
                    rt.group,
                    meta["name"],
                    [
                        errors.FieldError(
                            "FieldValueForbidden",
                            "metadata.finalizers",
                            "Forbidden: no new finalizers can be added if the object is being deleted",
                        )
                    ],
                )
        prepare(rt, new, current)
        if generation_body(new, version_def.status_subresource) != generation_body(
            current, version_def.status_subresource
        ):
            meta["generation"] = int(current["metadata"].get("generation", 1)) + 1
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)
        if new == current:
            return current, warnings
        if dry_run:
            return new, warnings
        if deleting and not meta.get("finalizers"):
            stored = self.commit(rt, "DELETED", new, current)
        else:
            stored = self.commit(rt, "MODIFIED", new, current)
        if deleting or current["metadata"].get("finalizers") != meta.get("finalizers"):
            self.after_deletion()
        return stored, warnings

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
