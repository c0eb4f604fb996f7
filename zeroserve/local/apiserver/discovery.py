"""API discovery documents: ``/version``, ``/api``, ``/apis``, per group-version resource lists, the
aggregated discovery format (``apidiscovery.k8s.io/v2``) that current kubectl asks for first, and the
OpenAPI v3 documents, each answered by :func:`discovery_document` from the request's path."""

from __future__ import annotations

import re
from typing import Any

import orjson

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.openapi import OpenApiDocuments
from zeroserve.local.apiserver.resources import VERBS, ResourceType

__all__ = [
    "AGGREGATED_MEDIA",
    "aggregated_discovery",
    "api_group",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "discovery_document",
    "group_versions",
    "server_version",
    "wants_aggregated",
]

AGGREGATED_MEDIA = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")
_STATUS_VERBS = ["get", "patch", "update"]
_AUTHENTICATION = "authentication.k8s.io"  # the group of every non-status subresource served (token)


def _version_priority(version: str) -> tuple[int, int, int, str]:
    match = _VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


def wants_aggregated(accept: str) -> bool:
    """Returns: whether an ``Accept`` header prefers aggregated discovery v2."""
    for part in accept.split(","):
        compact = part.replace(" ", "")
        if "g=apidiscovery.k8s.io" in compact and "v=v2" in compact and "v=v2beta1" not in compact:
            return True
    return False


def server_version() -> dict[str, str]:
    """Returns: the ``/version`` document."""
    return {
        "major": "1",
        "minor": "33",
        "gitVersion": "v1.33.0+zeroserve",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "python",
        "compiler": "cpython",
        "platform": "linux/amd64",
    }


def group_versions(types: list[ResourceType]) -> dict[str, list[str]]:
    """Returns: each group's served versions, preferred first."""
    groups: dict[str, set[str]] = {}
    for rt in types:
        groups.setdefault(rt.group, set()).update(v.name for v in rt.versions)
    return {group: sorted(versions, key=_version_priority) for group, versions in groups.items()}


def api_versions(server_address: str) -> dict[str, Any]:
    """Returns: the legacy ``/api`` document (``APIVersions``)."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def api_group(group: str, versions: list[str]) -> dict[str, Any]:
    """Returns: one ``APIGroup``."""
    listed = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": listed,
        "preferredVersion": listed[0],
    }


def api_group_list(types: list[ResourceType]) -> dict[str, Any]:
    """Returns: the legacy ``/apis`` document (``APIGroupList``)."""
    groups = [api_group(group, versions) for group, versions in group_versions(types).items() if group]
    for group in groups:
        del group["kind"], group["apiVersion"]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(types: list[ResourceType], group: str, version: str) -> dict[str, Any] | None:
    """Build one group-version's ``APIResourceList``.

    Args:
        types: every served type.
        group: the group (empty for core).
        version: the version.

    Returns:
        The list, or ``None`` when nothing is served there.
    """
    resources: list[dict[str, Any]] = []
    for rt in types:
        if rt.group != group or rt.version(version) is None:
            continue
        entry: dict[str, Any] = {
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": rt.extra.get("verbs", VERBS),
        }
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if rt.categories:
            entry["categories"] = list(rt.categories)
        resources.append(entry)
        for name, kind in rt.extra.get("subresources", {}).items():
            resources.append(
                {
                    "name": f"{rt.plural}/{name}",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "group": _AUTHENTICATION,
                    "version": "v1",
                    "kind": kind,
                    "verbs": ["create"],
                }
            )
        version_def = rt.version(version)
        if version_def is not None and version_def.status_subresource:
            resources.append(
                {
                    "name": f"{rt.plural}/status",
                    "singularName": "",
                    "namespaced": rt.namespaced,
                    "kind": rt.kind,
                    "verbs": _STATUS_VERBS,
                }
            )
    if not resources:
        return None
    group_version = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }


def aggregated_discovery(types: list[ResourceType], *, core: bool) -> dict[str, Any]:
    """Build the aggregated discovery document for ``/api`` (core) or ``/apis`` (named groups).

    Args:
        types: every served type.
        core: describe the core group only (``/api``), else every named group.

    Returns:
        An ``APIGroupDiscoveryList`` (``apidiscovery.k8s.io/v2``).
    """
    items = []
    for group, versions in group_versions(types).items():
        if bool(group) == core:
            continue
        entries = []
        for version in versions:
            resources = []
            for rt in types:
                version_def = rt.version(version) if rt.group == group else None
                if version_def is None:
                    continue
                kind = {"group": group, "version": version, "kind": rt.kind}
                resource: dict[str, Any] = {
                    "resource": rt.plural,
                    "responseKind": kind,
                    "scope": "Namespaced" if rt.namespaced else "Cluster",
                    "singularResource": rt.singular,
                    "verbs": rt.extra.get("verbs", VERBS),
                }
                if rt.short_names:
                    resource["shortNames"] = list(rt.short_names)
                if rt.categories:
                    resource["categories"] = list(rt.categories)
                subresources = []
                if version_def.status_subresource:
                    subresources.append(
                        {"subresource": "status", "responseKind": kind, "verbs": _STATUS_VERBS}
                    )
                for name, response_kind in rt.extra.get("subresources", {}).items():
                    response = {"group": _AUTHENTICATION, "version": "v1", "kind": response_kind}
                    subresources.append({"subresource": name, "responseKind": response, "verbs": ["create"]})
                if subresources:
                    resource["subresources"] = subresources
                resources.append(resource)
            entries.append({"version": version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": entries})
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    }


def _not_found() -> errors.ApiError:
    return errors.ApiError(404, "NotFound", "the server could not find the requested resource")


def discovery_document(
    types: list[ResourceType], openapi: OpenApiDocuments, path: str, accept: str, server_address: str
) -> tuple[bytes, str] | None:
    """The discovery or OpenAPI document a ``GET`` of ``path`` asks for.

    Args:
        types: every served type.
        openapi: the OpenAPI v3 documents.
        path: the request path, without a trailing slash.
        accept: the ``Accept`` header (aggregated discovery is negotiated).
        server_address: ``host:port`` advertised in ``/api``.

    Returns:
        The body and its media type; ``None`` when ``path`` is not a discovery path.

    Raises:
        ApiError: 404 for a discovery path of nothing served.
    """
    parts = [p for p in path.split("/") if p]
    json_media = "application/json"
    if path == "/version":
        return orjson.dumps(server_version()), json_media
    if path in ("/api", "/apis"):
        if wants_aggregated(accept):
            return orjson.dumps(aggregated_discovery(types, core=path == "/api")), AGGREGATED_MEDIA
        if path == "/api":
            return orjson.dumps(api_versions(server_address)), json_media
        return orjson.dumps(api_group_list(types)), json_media
    if path == "/openapi/v3":
        return orjson.dumps(openapi.index(types)), json_media
    if path.startswith("/openapi/v3/"):
        document = openapi.document(types, path.removeprefix("/openapi/v3/"))
        if document is None:
            raise _not_found()
        return document, json_media
    if path == "/openapi/v2":
        raise _not_found()
    if parts[:1] == ["apis"] and len(parts) == 2:
        versions = group_versions(types).get(parts[1])
        if not versions or not parts[1]:
            raise _not_found()
        return orjson.dumps(api_group(parts[1], versions)), json_media
    if (parts[:1] == ["api"] and len(parts) == 2) or (parts[:1] == ["apis"] and len(parts) == 3):
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        listed = api_resource_list(types, group, version)
        if listed is None:
            raise _not_found()
        return orjson.dumps(listed), json_media
    return None
