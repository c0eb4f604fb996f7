"""OpenAPI v3 documents: the ``/openapi/v3`` index and one document per group-version.

kubectl reads them to decide that the server validates fields itself (the ``fieldValidation`` query
parameter on each kind's PATCH operation), which patch types a kind accepts, and for ``kubectl explain``.
Each kind's schema is its CRD ``openAPIV3Schema`` (a permissive object for built-ins) tagged with
``x-kubernetes-group-version-kind``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from zeroserve.local.apiserver.resources import ResourceType, ResourceVersionDef

__all__ = ["OpenApiDocuments"]

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml")
_PARAMETERS = ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")


def _schema_name(rt: ResourceType, version: str) -> str:
    if not rt.group:
        return f"io.k8s.api.core.v1.{rt.kind}"
    reverse = ".".join(reversed(rt.group.split(".")))
    return f"{reverse}.{version}.{rt.kind}"


def _object_meta() -> dict[str, Any]:
    string_map = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "type": "object",
        "description": "Standard object's metadata.",
        "properties": {
            "name": {"type": "string"},
            "generateName": {"type": "string"},
            "namespace": {"type": "string"},
            "uid": {"type": "string"},
            "resourceVersion": {"type": "string"},
            "generation": {"type": "integer", "format": "int64"},
            "creationTimestamp": {"type": "string", "format": "date-time"},
            "deletionTimestamp": {"type": "string", "format": "date-time"},
            "labels": string_map,
            "annotations": string_map,
            "finalizers": {"type": "array", "items": {"type": "string"}},
            "ownerReferences": {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
            "managedFields": {
                "type": "array",
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
    }


def _kind_schema(rt: ResourceType, version: ResourceVersionDef) -> dict[str, Any]:
    schema = dict(version.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    properties = dict(schema.get("properties") or {})
    properties.setdefault("apiVersion", {"type": "string"})
    properties.setdefault("kind", {"type": "string"})
    properties["metadata"] = {"allOf": [{"$ref": f"#/components/schemas/{_OBJECT_META}"}]}
    schema["properties"] = properties
    schema["x-kubernetes-group-version-kind"] = [
        {"group": rt.group, "version": version.name, "kind": rt.kind}
    ]
    return schema


def _operation(
    rt: ResourceType, version: str, action: str, ref: str, body_types: tuple[str, ...] = ()
) -> dict[str, Any]:
    content = {"application/json": {"schema": {"$ref": ref}}}
    operation: dict[str, Any] = {
        "operationId": f"{action}{rt.kind}",
        "parameters": [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _PARAMETERS],
        "responses": {"200": {"description": "OK", "content": content}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": rt.group, "version": version, "kind": rt.kind},
    }
    if body_types:
        operation["requestBody"] = {
            "content": {t: {"schema": {"type": "object"}} for t in body_types},
            "required": True,
        }
    return operation


def _paths(rt: ResourceType, version: str, ref: str) -> dict[str, Any]:
    prefix = f"/apis/{rt.group}/{version}" if rt.group else f"/api/{version}"
    collection = (
        f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
    )
    item = {
        "get": _operation(rt, version, "get", ref),
        "put": _operation(rt, version, "put", ref, ("application/json",)),
        "patch": _operation(rt, version, "patch", ref, _PATCH_TYPES),
        "delete": _operation(rt, version, "delete", ref),
    }
    paths = {
        collection: {
            "get": _operation(rt, version, "list", ref),
            "post": _operation(rt, version, "post", ref, ("application/json",)),
        },
        f"{collection}/{{name}}": item,
    }
    version_def = rt.version(version)
    if version_def is not None and version_def.status_subresource:
        paths[f"{collection}/{{name}}/status"] = {
            "get": _operation(rt, version, "get", ref),
            "put": _operation(rt, version, "put", ref, ("application/json",)),
            "patch": _operation(rt, version, "patch", ref, _PATCH_TYPES),
        }
    return paths


class OpenApiDocuments:
    """Builds and caches the OpenAPI v3 documents for a set of types."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[int, ...], bytes, str]] = {}

    def _build(self, types: list[ResourceType], gv_path: str) -> tuple[bytes, str] | None:
        schemas: dict[str, Any] = {_OBJECT_META: _object_meta()}
        paths: dict[str, Any] = {}
        for rt in types:
            for version in rt.versions:
                prefix = f"apis/{rt.group}/{version.name}" if rt.group else f"api/{version.name}"
                if prefix != gv_path:
                    continue
                name = _schema_name(rt, version.name)
                schemas[name] = _kind_schema(rt, version)
                paths.update(_paths(rt, version.name, f"#/components/schemas/{name}"))
        if not paths:
            return None
        document = {
            "openapi": "3.0.0",
            "info": {"title": "zeroserve", "version": "v1.33.0"},
            "paths": paths,
            "components": {"schemas": schemas},
        }
        body = orjson.dumps(document)
        return body, hashlib.sha512(body).hexdigest()[:32].upper()

    def _document(self, types: list[ResourceType], gv_path: str) -> tuple[bytes, str] | None:
        signature = tuple(id(rt) for rt in types)
        cached = self._cache.get(gv_path)
        if cached is not None and cached[0] == signature:
            return cached[1], cached[2]
        built = self._build(types, gv_path)
        if built is not None:
            self._cache[gv_path] = (signature, *built)
        return built

    def index(self, types: list[ResourceType]) -> dict[str, Any]:
        """Returns: the ``/openapi/v3`` document, one entry per served group-version."""
        paths: dict[str, Any] = {}
        for rt in types:
            for version in rt.versions:
                gv_path = f"apis/{rt.group}/{version.name}" if rt.group else f"api/{version.name}"
                if gv_path in paths:
                    continue
                built = self._document(types, gv_path)
                if built is not None:
                    paths[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={built[1]}"}
        return {"paths": paths}

    def document(self, types: list[ResourceType], gv_path: str) -> bytes | None:
        """Returns: the serialised document of one group-version (``apis/<g>/<v>`` or ``api/v1``)."""
        built = self._document(types, gv_path)
        return built[0] if built else None
