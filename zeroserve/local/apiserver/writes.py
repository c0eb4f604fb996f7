"""Writes: create, replace (PUT), patch and server-side apply, with Kubernetes' semantics.

Each write decodes and admits the object (:mod:`~zeroserve.local.apiserver.admission`), enforces
optimistic concurrency on ``resourceVersion``, keeps the fields the server owns, bumps ``generation``
on spec changes only, skips no-op writes, and completes a deletion when the last finalizer goes.
"""

from __future__ import annotations

import copy
from typing import Any

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.admission import admit, decode, generation_body, prepare
from zeroserve.local.apiserver.apply import server_side_apply
from zeroserve.local.apiserver.meta import generate_name, new_uid, now_timestamp
from zeroserve.local.apiserver.patches import APPLY_PATCH, apply_patch
from zeroserve.local.apiserver.registry import Registry
from zeroserve.local.apiserver.resources import ResourceType

__all__ = ["create_object", "patch_object", "update_object"]

_SERVER_OWNED = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")
_STALE = "the object has been modified; please apply your changes to the latest version and try again"


def create_object(
    registry: Registry,
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
        registry: the registry to write to.
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
    warnings = admit(rt, version, obj, field_validation, registry.reserved)
    if rt.namespaced:
        registry.require_namespace(meta["namespace"])
    if registry.lookup(rt, meta.get("namespace", ""), meta["name"]) is not None:
        raise errors.already_exists(rt.plural, rt.group, meta["name"])
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now_timestamp()
    meta["generation"] = 1
    if managed_fields:
        meta["managedFields"] = managed_fields
    prepare(rt, obj, None)
    if dry_run:
        meta["resourceVersion"] = str(registry.resource_version)
        return obj, warnings
    return registry.commit(rt, "ADDED", obj, None), warnings


def update_object(
    registry: Registry,
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
        registry: the registry to write to.
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
    current = registry.get(rt, namespace, name)
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
    return _replace(registry, rt, version, current, obj, subresource, dry_run, field_validation)


def patch_object(
    registry: Registry,
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
        registry: the registry to write to.
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
    current = registry.lookup(rt, namespace, name)
    if content_type.split(";")[0].strip() == APPLY_PATCH and not subresource:
        return _apply(
            registry, rt, version, namespace, name, current, body, field_manager, dry_run, field_validation
        )
    if current is None:
        raise errors.not_found(rt.plural, rt.group, name)
    patched = apply_patch(registry.output(rt, version, current), content_type, body)
    if not isinstance(patched.get("metadata"), dict):
        raise errors.bad_request("metadata must be an object")
    wanted = patched["metadata"].get("resourceVersion")
    if wanted and str(wanted) != current["metadata"]["resourceVersion"]:
        raise errors.conflict(rt.plural, rt.group, name, _STALE)
    if patched["metadata"].get("name", name) != name:
        raise errors.bad_request("metadata.name cannot be changed by a patch")
    obj = decode(rt, version, patched)
    return _replace(registry, rt, version, current, obj, subresource, dry_run, field_validation)


def _apply(
    registry: Registry,
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
    live = registry.output(rt, version, current) if current is not None else None
    merged = server_side_apply(live, applied, field_manager, rt.api_version(version))
    managed = merged["metadata"].pop("managedFields")
    if current is None:
        return create_object(
            registry,
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
    return _replace(
        registry, rt, version, current, obj, "", dry_run, field_validation, managed_fields=managed
    )


def _replace(
    registry: Registry,
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
    warnings = admit(
        rt, version, new, field_validation, registry.reserved, old=current, webhooks=subresource != "status"
    )
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
        stored = registry.commit(rt, "DELETED", new, current)
    else:
        stored = registry.commit(rt, "MODIFIED", new, current)
    if deleting or current["metadata"].get("finalizers") != meta.get("finalizers"):
        registry.after_deletion()
    return stored, warnings
