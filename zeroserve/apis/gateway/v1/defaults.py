"""Gateway API's defaulting of an HTTPRoute (the values its CRD declares), as a pure function.

A rule without matches matches every path (``PathPrefix /``); a path match without a type is a
``PathPrefix``; a backend reference is a core ``Service`` (group ``""``) with weight 1; a parent
reference is a ``Gateway`` of group ``gateway.networking.k8s.io``.
"""

from __future__ import annotations

from zeroserve.apis.gateway.v1.types import HTTPPathMatch, HTTPRoute, HTTPRouteMatch

__all__ = ["GATEWAY_GROUP", "default_http_route"]

GATEWAY_GROUP = "gateway.networking.k8s.io"


def default_http_route(route: HTTPRoute) -> HTTPRoute:
    """Default an HTTPRoute.

    Args:
        route: The route.

    Returns:
        A defaulted copy.
    """
    result = route.model_copy(deep=True)
    for parent in result.spec.parent_refs or []:
        parent.group = GATEWAY_GROUP if parent.group is None else parent.group
        parent.kind = parent.kind or "Gateway"
    for rule in result.spec.rules or []:
        if not rule.matches:
            rule.matches = [HTTPRouteMatch(path=HTTPPathMatch(type="PathPrefix", value="/"))]
        for match in rule.matches:
            if match.path is None and not match.headers and not match.method and not match.query_params:
                match.path = HTTPPathMatch(type="PathPrefix", value="/")
            if match.path is not None:
                match.path.type = match.path.type or "PathPrefix"
                match.path.value = match.path.value or "/"
            for header in match.headers or []:
                header.type = header.type or "Exact"
        for backend in rule.backend_refs or []:
            backend.group = "" if backend.group is None else backend.group
            backend.kind = backend.kind or "Service"
            backend.weight = 1 if backend.weight is None else backend.weight
    return result
