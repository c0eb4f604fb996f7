"""``gateway.networking.k8s.io/v1`` HTTPRoute: the subset the controller uses for top-level routing.

The controller routes ``http://<isvc>.<ns>.<domain>`` with one HTTPRoute named after the
InferenceService (see ``docs/contracts.md``): hostnames, rules matched by path (``PathPrefix`` or
``RegularExpression``), a ``URLRewrite`` filter that sets the target Knative Service's hostname, and
``backendRefs`` to that Service. The local engine implements exactly this subset; on a cluster any
Gateway API implementation does. Fields outside the subset are kept as written.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zeroserve.apis.meta import KubeModel, KubeObject, LooseModel, int_field

__all__ = [
    "API_VERSION",
    "HTTPBackendRef",
    "HTTPHeaderMatch",
    "HTTPPathMatch",
    "HTTPPathModifier",
    "HTTPRoute",
    "HTTPRouteFilter",
    "HTTPRouteMatch",
    "HTTPRouteParentStatus",
    "HTTPRouteRule",
    "HTTPRouteSpec",
    "HTTPRouteStatus",
    "HTTPRouteTimeouts",
    "HTTPURLRewriteFilter",
    "HeaderModifier",
    "ParentReference",
]

API_VERSION = "gateway.networking.k8s.io/v1"


class ParentReference(KubeModel):
    """``parentRefs[]``: the Gateway the route attaches to."""

    group: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str
    section_name: str | None = None
    port: int | None = int_field("int32")


class HTTPPathMatch(KubeModel):
    """``matches[].path``: ``Exact``, ``PathPrefix`` (default) or ``RegularExpression``."""

    type: str | None = None
    value: str | None = None


class HTTPHeaderMatch(KubeModel):
    """``matches[].headers[]``."""

    type: str | None = None
    name: str
    value: str


class HTTPRouteMatch(KubeModel):
    """``rules[].matches[]``: all conditions of a match must hold."""

    path: HTTPPathMatch | None = None
    headers: list[HTTPHeaderMatch] | None = None
    query_params: list[dict[str, Any]] | None = None
    method: str | None = None


class HeaderModifier(KubeModel):
    """``requestHeaderModifier`` / ``responseHeaderModifier``."""

    set: list[dict[str, str]] | None = None
    add: list[dict[str, str]] | None = None
    remove: list[str] | None = None


class HTTPPathModifier(KubeModel):
    """``urlRewrite.path``: ``ReplaceFullPath`` or ``ReplacePrefixMatch``."""

    type: str
    replace_full_path: str | None = None
    replace_prefix_match: str | None = None


class HTTPURLRewriteFilter(KubeModel):
    """``filters[].urlRewrite``: rewrite the Host header and/or the path."""

    hostname: str | None = None
    path: HTTPPathModifier | None = None


class HTTPRouteFilter(LooseModel):
    """``filters[]``: ``URLRewrite`` and ``RequestHeaderModifier`` are acted on; others are kept."""

    type: str
    url_rewrite: HTTPURLRewriteFilter | None = Field(default=None, alias="urlRewrite")
    request_header_modifier: HeaderModifier | None = None
    response_header_modifier: HeaderModifier | None = None


class HTTPBackendRef(KubeModel):
    """``backendRefs[]``: a Service (default kind) and port, with a relative weight (default 1)."""

    group: str | None = None
    kind: str | None = None
    name: str
    namespace: str | None = None
    port: int | None = int_field("int32")
    weight: int | None = int_field("int32")
    filters: list[HTTPRouteFilter] | None = None


class HTTPRouteTimeouts(KubeModel):
    """``rules[].timeouts``: Gateway API durations such as ``"300s"``."""

    request: str | None = None
    backend_request: str | None = None


class HTTPRouteRule(KubeModel):
    """``rules[]``: matches (any may match), filters, and backends."""

    name: str | None = None
    matches: list[HTTPRouteMatch] | None = None
    filters: list[HTTPRouteFilter] | None = None
    backend_refs: list[HTTPBackendRef] | None = None
    timeouts: HTTPRouteTimeouts | None = None


class HTTPRouteSpec(KubeModel):
    """An HTTPRoute's spec."""

    parent_refs: list[ParentReference] | None = None
    hostnames: list[str] | None = None
    rules: list[HTTPRouteRule] | None = None


class HTTPRouteParentStatus(KubeModel):
    """``status.parents[]``: whether a parent (gateway) accepted the route."""

    parent_ref: ParentReference
    controller_name: str
    conditions: list[dict[str, Any]] | None = None


class HTTPRouteStatus(KubeModel):
    """An HTTPRoute's status."""

    parents: list[HTTPRouteParentStatus] | None = None


class HTTPRoute(KubeObject):
    """A Gateway API ``HTTPRoute``."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "HTTPRoute"

    api_version: str | None = API_VERSION
    kind: str | None = "HTTPRoute"
    spec: HTTPRouteSpec = Field(default_factory=HTTPRouteSpec)
    status: HTTPRouteStatus | None = None
