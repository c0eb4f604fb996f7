"""Where a request goes: Host and path -> a Route's revision, an HTTPRoute's backend, or an upstream.

:class:`RoutingTable` is plain data, rebuilt by the reconciler whenever Routes or HTTPRoutes change
and swapped in whole, so a lookup is a dict access and a weighted draw. Hosts a Route answers to
(Knative's ``{{.Name}}.{{.Namespace}}.{{.Domain}}``, the cluster-local forms and tag hosts
``<tag>-<name>...``) are expanded up front; ``/serving/<ns>/<name>/...`` is rewritten to the host
``<name>.<ns>`` with the prefix removed (and so is Seldon's ``/seldon/<ns>/<name>/...``).

HTTPRoute rule precedence (Gateway API leaves regular expressions to the implementation): an
``Exact`` path match first, then ``RegularExpression`` matches in order, then the longest
``PathPrefix``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zeroserve.apis.gateway.v1 import HTTPRoute
from zeroserve.apis.gateway.v1.defaults import default_http_route
from zeroserve.local.engine.auth import auth_enabled

__all__ = [
    "PATH_PREFIX",
    "VISIBILITY",
    "HTTPRouteRule",
    "Resolution",
    "RouteEntry",
    "RoutingTable",
    "http_route_rules",
    "is_cluster_local",
    "route_hosts",
]

PATH_PREFIX = "/serving/"
SELDON_PREFIX = "/seldon/"
"""Seldon's ingress paths ``/seldon/<ns>/<sdep>/...`` resolve as ``/serving/`` ones do."""
VISIBILITY = "networking.knative.dev/visibility"
"""Knative's label (or annotation) that makes a Service's Route ``cluster-local``."""


@dataclass(frozen=True)
class RouteEntry:
    """A Knative Route's resolved traffic: revision keys with percents, and tagged revisions."""

    namespace: str
    name: str
    targets: tuple[tuple[str, int], ...] = ()
    """``(revision name, percent)`` pairs with a positive percent."""
    tags: Mapping[str, str] = field(default_factory=dict)
    """tag -> revision name."""
    auth: bool = False
    """Callers must present a token the API server vouches for (``serving.kserve.io/enable-auth``)."""
    cluster_local: bool = False
    """``networking.knative.dev/visibility: cluster-local``: served on the cluster hosts only."""

    def pick(self, rand: float) -> str | None:
        """Draw a revision by the percents.

        Args:
            rand: a uniform number in [0, 1).

        Returns:
            The revision's name, or ``None`` when no traffic is assigned.
        """
        targets = self.targets
        if not targets:
            return None
        if len(targets) == 1:
            return targets[0][0]
        total = sum(p for _, p in targets)
        point = rand * total
        acc = 0
        for name, percent in targets:
            acc += percent
            if point < acc:
                return name
        return targets[-1][0]


@dataclass(frozen=True)
class HTTPRouteRule:
    """One rule of a Gateway API HTTPRoute, reduced to what the gateway uses."""

    match_type: str
    """``PathPrefix``, ``Exact`` or ``RegularExpression``."""
    value: str
    backend_namespace: str
    backend_name: str
    """The Knative Service (Route) the rule sends to."""
    rewrite_host: str | None = None
    auth: bool = False
    """The HTTPRoute carries ``serving.kserve.io/enable-auth: "true"``."""
    weighted: tuple[tuple[str, int, str | None], ...] = ()
    """With several Service backends: ``(name, weight, Host rewrite)`` of each, drawn by weight."""

    def pick(self, rand: float) -> tuple[str, str | None]:
        """The backend's name and Host rewrite for a uniform draw ``rand`` in [0, 1)."""
        total = sum(w for _, w, _ in self.weighted)
        if total <= 0:
            return self.backend_name, self.rewrite_host
        point, acc = rand * total, 0
        for name, weight, host in self.weighted:
            acc += weight
            if point < acc:
                return name, host or self.rewrite_host
        return self.weighted[-1][0], self.weighted[-1][2] or self.rewrite_host

    def matches(self, path: str) -> bool:
        """Whether the rule matches a request path."""
        if self.match_type == "Exact":
            return path == self.value
        if self.match_type == "RegularExpression":
            return re.search(self.value, path) is not None
        prefix = self.value.rstrip("/")
        return path == prefix or path.startswith(prefix + "/") or not prefix


@dataclass(frozen=True)
class Resolution:
    """The outcome of a lookup."""

    namespace: str = ""
    revision: str | None = None
    """The revision to serve (a name in ``namespace``), for Route and HTTPRoute targets."""
    upstream: tuple[str, int] | None = None
    """``(host, port)`` of a plain upstream (e.g. the broker)."""
    path: str = "/"
    host: str = ""
    """The Host header to forward."""
    route: str = ""
    """The Route that resolved it (``<ns>/<name>``), for messages."""
    auth: bool = False
    """Only callers with a reviewed bearer token may be served (see :mod:`.auth`)."""


def route_hosts(name: str, namespace: str, domain: str) -> list[str]:
    """Every host a Route (or a tag's name ``<tag>-<route>``) answers to.

    Args:
        name: the route (or tagged) name.
        namespace: its namespace.
        domain: the external domain.

    Returns:
        The hosts, lower case.
    """
    base = f"{name}.{namespace}".lower()
    return [base, f"{base}.svc", f"{base}.svc.cluster.local", f"{base}.{domain.lower()}"]


def is_cluster_local(*metadata: Mapping[str, str] | None) -> bool:
    """Whether any of these label or annotation maps says :data:`VISIBILITY` ``cluster-local``."""
    return any(str((m or {}).get(VISIBILITY, "")).strip().lower() == "cluster-local" for m in metadata)


def _sort_rules(rules: Sequence[HTTPRouteRule]) -> list[HTTPRouteRule]:
    exact = [r for r in rules if r.match_type == "Exact"]
    regex = [r for r in rules if r.match_type == "RegularExpression"]
    prefix = sorted((r for r in rules if r.match_type == "PathPrefix"), key=lambda r: -len(r.value))
    return exact + regex + prefix


class RoutingTable:
    """Immutable host -> target map (build a new one to change it)."""

    def __init__(
        self,
        routes: Sequence[RouteEntry] = (),
        http_routes: Mapping[str, Sequence[HTTPRouteRule]] | None = None,
        upstreams: Mapping[str, tuple[str, int]] | None = None,
        domain: str = "example.com",
    ) -> None:
        """Build the table.

        Args:
            routes: the Knative Routes.
            http_routes: hostname -> rules, from HTTPRoutes.
            upstreams: hostname -> ``(host, port)`` of plain upstreams.
            domain: the external domain.
        """
        self.domain = domain
        self.routes = {(r.namespace, r.name): r for r in routes}
        self.namespaces = {"default", *(r.namespace for r in routes)}
        """Namespaces with routes: ``<name>.<namespace>`` in one of them is a cluster name."""
        self._hosts: dict[str, tuple[RouteEntry, str | None]] = {}
        for entry in routes:
            # a private route has no external host (<name>.<namespace>.<domain>), as in Knative
            external = 0 if entry.cluster_local else 1
            for host in route_hosts(entry.name, entry.namespace, domain)[: 3 + external]:
                self._hosts[host] = (entry, None)
            for tag in entry.tags:
                for host in route_hosts(f"{tag}-{entry.name}", entry.namespace, domain)[: 3 + external]:
                    self._hosts.setdefault(host, (entry, tag))
        self.http_route_source: dict[str, list[HTTPRouteRule]] = {
            h: list(r) for h, r in (http_routes or {}).items()
        }
        """The HTTPRoute rules as given, by hostname (the reconciler checks what is installed)."""
        self._http_routes: dict[str, list[HTTPRouteRule]] = {}
        for hostname, rules in (http_routes or {}).items():
            host = hostname.lower()
            self.namespaces.update(r.backend_namespace for r in rules)
            ordered = _sort_rules(rules)
            self._http_routes[host] = ordered
            for suffix in (".svc.cluster.local", f".{domain.lower()}"):
                if host.endswith(suffix):
                    short = host[: -len(suffix)]
                    if short.count(".") == 1:  # <name>.<namespace>: path-prefix and short cluster hosts
                        self._http_routes.setdefault(short, ordered)
                        self._http_routes.setdefault(f"{short}.svc", ordered)
        self._upstreams = {h.lower(): v for h, v in (upstreams or {}).items()}

    def unrouted_reason(self, host: str) -> str | None:
        """Why an external host has no route when its service is private, else ``None``.

        A cluster-local InferenceService's HTTPRoute lists only ``<name>.<ns>.svc.cluster.local``
        (``networking.knative.dev/visibility: cluster-local``), and a cluster-local Knative Route (an
        InferenceGraph's router) has no external host, so ``<name>.<ns>.<domain>`` resolves to
        nothing; this says so, and where it is served.

        Args:
            host: the Host header (a port is ignored).

        Returns:
            A sentence for the 404, or ``None`` when the host is simply unknown.
        """
        host = host.split(":", 1)[0].lower()
        suffix = f".{self.domain.lower()}"
        if not host.endswith(suffix):
            return None
        short = host[: -len(suffix)]
        local = f"{short}.svc.cluster.local"
        if short.count(".") != 1 or host in self._http_routes or host in self._hosts:
            return None
        if local not in self._http_routes and local not in self._hosts:
            return None
        return (
            f"{short.replace('.', ' in namespace ', 1)} is cluster-local "
            f"(networking.knative.dev/visibility): it is served on {local} only, not on {host}"
        )

    def resolve(self, host: str, path: str, rand: float | None = None) -> Resolution | None:
        """Find where a request goes.

        Args:
            host: the Host header (a port is ignored).
            path: the request path.
            rand: a uniform draw for the traffic split (a fresh one when omitted).

        Returns:
            The resolution, or ``None`` when nothing answers to that host and path.
        """
        host = host.split(":", 1)[0].lower()
        prefix = PATH_PREFIX if path.startswith(PATH_PREFIX) else SELDON_PREFIX
        if path.startswith(prefix):
            parts = path[len(prefix) :].split("/", 2)
            if len(parts) >= 2 and parts[0] and parts[1]:
                host = f"{parts[1]}.{parts[0]}".lower()
                path = "/" + (parts[2] if len(parts) == 3 else "")
        found = self._hosts.get(host)
        if found is None:
            rules = self._http_routes.get(host)
            if rules is not None:
                return self._resolve_http_route(rules, path, rand)
            upstream = self._upstreams.get(host)
            if upstream is not None:
                return Resolution(upstream=upstream, path=path, host=host)
            return None
        entry, tag = found
        return self._pick(entry, tag, path, host, rand)

    def _pick(
        self, entry: RouteEntry, tag: str | None, path: str, host: str, rand: float | None, auth: bool = False
    ) -> Resolution:
        if tag is not None:
            revision: str | None = entry.tags.get(tag)
        else:
            revision = entry.pick(random.random() if rand is None else rand)
        return Resolution(
            namespace=entry.namespace,
            revision=revision,
            path=path,
            host=host,
            route=f"{entry.namespace}/{entry.name}",
            auth=auth or entry.auth,
        )

    def _resolve_http_route(
        self, rules: Sequence[HTTPRouteRule], path: str, rand: float | None
    ) -> Resolution | None:
        bare = path.split("?", 1)[0]
        for rule in rules:
            if rule.matches(bare):
                name, rewrite = rule.backend_name, rule.rewrite_host
                if rule.weighted:
                    name, rewrite = rule.pick(random.random() if rand is None else rand)
                entry = self.routes.get((rule.backend_namespace, name))
                host = rewrite or f"{name}.{rule.backend_namespace}.svc.cluster.local"
                if entry is None:
                    return Resolution(
                        namespace=rule.backend_namespace,
                        path=path,
                        host=host,
                        route=f"{rule.backend_namespace}/{name}",
                        auth=rule.auth,
                    )
                return self._pick(entry, None, path, host, rand, rule.auth)
        return None


def http_route_rules(route: HTTPRoute | Mapping[str, Any]) -> dict[str, list[HTTPRouteRule]]:
    """Read a ``gateway.networking.k8s.io/v1`` HTTPRoute, with Gateway API's defaults, into hostname -> rules.

    Only ``backendRefs`` of kind ``Service`` are understood (a Knative Service's Route of that name);
    a rule with several is split by their ``weight`` (each backend's own ``URLRewrite`` hostname, else
    the rule's, is its Host).

    Args:
        route: the HTTPRoute, typed or as the API server returns it.

    Returns:
        hostname -> rules.
    """
    typed = route if isinstance(route, HTTPRoute) else HTTPRoute.from_dict(dict(route))
    typed = default_http_route(typed)
    namespace = typed.namespace or "default"
    auth = auth_enabled(typed.metadata.annotations)
    rules: list[HTTPRouteRule] = []
    for rule in typed.spec.rules or []:
        backends = [b for b in rule.backend_refs or [] if b.kind == "Service"]
        if not backends:
            continue
        backend = backends[0]
        rewrite = None
        for flt in rule.filters or []:
            if flt.type == "URLRewrite" and flt.url_rewrite is not None:
                rewrite = flt.url_rewrite.hostname or rewrite
        weighted: tuple[tuple[str, int, str | None], ...] = ()
        if len(backends) > 1:
            weighted = tuple(
                (
                    b.name,
                    1 if b.weight is None else b.weight,
                    next(
                        (f.url_rewrite.hostname for f in b.filters or [] if f.url_rewrite is not None),
                        None,
                    ),
                )
                for b in backends
            )
        for match in rule.matches or []:
            if match.path is None:
                continue
            rules.append(
                HTTPRouteRule(
                    match_type=match.path.type or "PathPrefix",
                    value=match.path.value or "/",
                    backend_namespace=backend.namespace or namespace,
                    backend_name=backend.name,
                    rewrite_host=rewrite or None,
                    auth=auth,
                    weighted=weighted,
                )
            )
    return {h: rules for h in typed.spec.hostnames or []}
