"""Validation of an HTTPRoute: the rules of Gateway API's CRD for the subset zeroserve implements.

- ``hostnames``: at most 16, each a lower-case DNS name, optionally with a leading ``*.``;
- ``rules``: at most 16; path matches ``Exact`` / ``PathPrefix`` / ``RegularExpression`` with a value
  starting with ``/`` (a regular expression must compile); header matches ``Exact`` /
  ``RegularExpression``;
- filters: a ``URLRewrite`` filter carries ``urlRewrite`` (with a valid path modifier), a
  ``RequestHeaderModifier`` carries ``requestHeaderModifier``; other filter types are reported as
  unsupported by zeroserve's gateway;
- backends: a ``Service`` backend has a ``port``; weights 0..1000000.
"""

from __future__ import annotations

import re

from zeroserve.apis.field_errors import FieldError, join_path
from zeroserve.apis.gateway.v1.types import HTTPRoute, HTTPRouteFilter, HTTPRouteRule

__all__ = ["SUPPORTED_FILTERS", "validate_http_route"]

SUPPORTED_FILTERS: tuple[str, ...] = ("URLRewrite", "RequestHeaderModifier", "ResponseHeaderModifier")
_PATH_TYPES = ("Exact", "PathPrefix", "RegularExpression")
_HEADER_TYPES = ("Exact", "RegularExpression")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_MAX_ITEMS = 16
_MAX_WEIGHT = 1_000_000


def validate_http_route(route: HTTPRoute) -> list[FieldError]:
    """Check an HTTPRoute (normally after its defaults).

    Args:
        route: The route.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    if not route.name:
        errors.append(FieldError("metadata.name", "is required"))
    hostnames = route.spec.hostnames or []
    if len(hostnames) > _MAX_ITEMS:
        errors.append(FieldError("spec.hostnames", f"must have at most {_MAX_ITEMS} items"))
    for index, hostname in enumerate(hostnames):
        if len(hostname) > 253 or not _HOSTNAME.match(hostname):
            errors.append(FieldError(join_path("spec.hostnames", index), "must be a lower-case DNS name"))
    rules = route.spec.rules or []
    if len(rules) > _MAX_ITEMS:
        errors.append(FieldError("spec.rules", f"must have at most {_MAX_ITEMS} items"))
    for index, rule in enumerate(rules):
        errors += _validate_rule(join_path("spec.rules", index), rule)
    return errors


def _validate_rule(path: str, rule: HTTPRouteRule) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, match in enumerate(rule.matches or []):
        match_path = join_path(path, "matches", index)
        if match.path is not None:
            kind = match.path.type or "PathPrefix"
            value = match.path.value or "/"
            if kind not in _PATH_TYPES:
                message = f"must be one of {', '.join(_PATH_TYPES)}"
                errors.append(FieldError(join_path(match_path, "path.type"), message))
            elif kind == "RegularExpression":
                try:
                    re.compile(value)
                except re.error as exc:
                    message = f"invalid regular expression: {exc}"
                    errors.append(FieldError(join_path(match_path, "path.value"), message))
            elif not value.startswith("/"):
                errors.append(FieldError(join_path(match_path, "path.value"), "must start with '/'"))
        for header_index, header in enumerate(match.headers or []):
            if header.type is not None and header.type not in _HEADER_TYPES:
                message = f"must be one of {', '.join(_HEADER_TYPES)}"
                errors.append(FieldError(join_path(match_path, "headers", header_index, "type"), message))
    for index, route_filter in enumerate(rule.filters or []):
        errors += _validate_filter(join_path(path, "filters", index), route_filter)
    for index, backend in enumerate(rule.backend_refs or []):
        backend_path = join_path(path, "backendRefs", index)
        if (backend.kind or "Service") == "Service" and not backend.group and backend.port is None:
            errors.append(FieldError(join_path(backend_path, "port"), "is required for a Service backend"))
        if backend.weight is not None and not 0 <= backend.weight <= _MAX_WEIGHT:
            errors.append(
                FieldError(join_path(backend_path, "weight"), f"must be between 0 and {_MAX_WEIGHT}")
            )
        for filter_index, route_filter in enumerate(backend.filters or []):
            errors += _validate_filter(join_path(backend_path, "filters", filter_index), route_filter)
    return errors


def _validate_filter(path: str, route_filter: HTTPRouteFilter) -> list[FieldError]:
    errors: list[FieldError] = []
    if route_filter.type not in SUPPORTED_FILTERS:
        message = (
            f"filter type {route_filter.type!r} is not supported (supported: {', '.join(SUPPORTED_FILTERS)})"
        )
        return [FieldError(join_path(path, "type"), message)]
    if route_filter.type == "URLRewrite":
        rewrite = route_filter.url_rewrite
        if rewrite is None:
            errors.append(FieldError(join_path(path, "urlRewrite"), "is required for type URLRewrite"))
        elif rewrite.path is not None:
            modifier = rewrite.path
            field = {"ReplaceFullPath": "replaceFullPath", "ReplacePrefixMatch": "replacePrefixMatch"}.get(
                modifier.type
            )
            if field is None:
                message = "must be ReplaceFullPath or ReplacePrefixMatch"
                errors.append(FieldError(join_path(path, "urlRewrite.path.type"), message))
            elif (
                getattr(
                    modifier, "replace_full_path" if field == "replaceFullPath" else "replace_prefix_match"
                )
                is None
            ):
                errors.append(
                    FieldError(join_path(path, "urlRewrite.path", field), f"is required for {modifier.type}")
                )
    if route_filter.type == "RequestHeaderModifier" and route_filter.request_header_modifier is None:
        message = "is required for type RequestHeaderModifier"
        errors.append(FieldError(join_path(path, "requestHeaderModifier"), message))
    if route_filter.type == "ResponseHeaderModifier" and route_filter.response_header_modifier is None:
        message = "is required for type ResponseHeaderModifier"
        errors.append(FieldError(join_path(path, "responseHeaderModifier"), message))
    return errors
