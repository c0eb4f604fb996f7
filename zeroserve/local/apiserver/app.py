"""The HTTP layer: Kubernetes REST paths and verbs mapped onto the registry, as an ASGI app.

Handles discovery, OpenAPI, ``/metrics``, get / list / watch / create / update / patch / delete /
deletecollection and the ``status`` subresource, ServiceAccount ``token`` requests and TokenReviews,
content negotiation for ``Table`` and aggregated discovery, bearer-token authentication, request
bodies within Kubernetes' limits (with ``fieldValidation`` of duplicate fields), and the rendering of
every error as ``metav1.Status`` (an unexpected one as a plain ``InternalError``, its details logged).
"""

from __future__ import annotations

import hmac
import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from zeroserve.local.apiserver import discovery, errors
from zeroserve.local.apiserver.collector import delete_object
from zeroserve.local.apiserver.decoding import BodyLimits, DecodedBody, decode_body, read_limited
from zeroserve.local.apiserver.metrics import ApiServerMetrics
from zeroserve.local.apiserver.openapi import OpenApiDocuments
from zeroserve.local.apiserver.patches import APPLY_PATCH
from zeroserve.local.apiserver.registry import Registry
from zeroserve.local.apiserver.resources import ResourceType
from zeroserve.local.apiserver.selectors import Selector, parse_field_selector, parse_label_selector
from zeroserve.local.apiserver.tables import table_for, wants_table
from zeroserve.local.apiserver.tokens import (
    TokenIssuer,
    ensure_default_service_accounts,
    load_or_create_key,
    token_request,
    token_review,
)
from zeroserve.local.apiserver.watchstream import WatchOptions, watch_response
from zeroserve.local.apiserver.writes import create_object, patch_object, update_object

__all__ = ["create_app"]

_log = logging.getLogger(__name__)
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
_SERVICE_ACCOUNTS = ("", "serviceaccounts")
_TOKEN_REVIEWS = ("authentication.k8s.io", "tokenreviews")
_NAMESPACES = ("", "namespaces")
_HEALTH = ("/healthz", "/livez", "/readyz")
_DEFAULT_WATCH_SECONDS = 1800


@dataclass(frozen=True)
class _Target:
    """A parsed resource path."""

    group: str
    version: str
    plural: str
    namespace: str | None
    name: str
    subresource: str
    watch: bool


def _json(body: Any, code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=code, media_type="application/json", headers=headers)


def _number(text: str, parameter: str) -> float:
    """A numeric query parameter; 400 naming it when it is not a non-negative number."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise errors.bad_request(f"the {parameter} parameter must be a non-negative number, not {text!r}")
    return value


def _parse_target(parts: list[str]) -> _Target | None:
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    watch = rest[0] == "watch"
    if watch:
        rest = rest[1:]
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and rest[2] not in ("status", "finalize"):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    padded = [*rest, "", ""]
    return _Target(group, version, padded[0], namespace, padded[1], padded[2], watch)


def _classify(request: Request) -> tuple[str, str]:
    """Returns: the request's ``(verb, resource)`` for metrics."""
    parts = [p for p in request.url.path.split("/") if p]
    target = _parse_target(parts)
    if target is None:
        return request.method.lower(), parts[0] if parts else "root"
    query = request.query_params
    method = request.method
    if method == "GET":
        verb = (
            "watch"
            if target.watch or query.get("watch") in ("true", "1")
            else "get"
            if target.name
            else "list"
        )
    elif method == "DELETE":
        verb = "delete" if target.name else "deletecollection"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch"}.get(method, method.lower())
    return verb, target.plural + (f"/{target.subresource}" if target.subresource else "")


class _Handlers:
    def __init__(
        self,
        registry: Registry,
        token: str | None,
        server_address: str,
        bookmark_interval: float,
        metrics: ApiServerMetrics,
        limits: BodyLimits,
        issuer: TokenIssuer,
    ) -> None:
        self.limits = limits
        self.issuer = issuer
        self.registry = registry
        self.metrics = metrics
        self.bookmark_interval = bookmark_interval
        self.token = token
        self.server_address = server_address
        self.openapi = OpenApiDocuments()

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            response = await self._dispatch(request)
        except errors.ApiError as exc:
            response = _json(exc.to_status(), exc.code)
        except Exception:
            _log.exception("%s %s failed", request.method, request.url.path)
            message = "an internal error occurred; the API server's log has the details"
            response = _json(errors.status_object(500, "InternalError", message), 500)
        verb, resource = _classify(request)
        self.metrics.observe(verb, resource, response.status_code, time.perf_counter() - started)
        return response

    def _authenticate(self, request: Request) -> None:
        if self.token is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, credential = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            credential.strip().encode(), self.token.encode()
        ):
            raise errors.unauthorized()

    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path.rstrip("/") or "/"
        if path in _HEALTH:
            return PlainTextResponse("ok")
        self._authenticate(request)
        if path == "/metrics":
            return Response(self.metrics.render(), media_type="text/plain; version=0.0.4")
        parts = [p for p in path.split("/") if p]
        if request.method == "GET":
            accept = request.headers.get("accept", "")
            types = self.registry.types()
            found = discovery.discovery_document(types, self.openapi, path, accept, self.server_address)
            if found is not None:
                return Response(found[0], media_type=found[1])
        target = _parse_target(parts)
        if target is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        rt = self.registry.resolve(target.group, target.version, target.plural)
        if target.namespace is not None and not rt.namespaced:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.namespaced and target.name and target.namespace is None:
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        if rt.key == _SERVICE_ACCOUNTS and target.subresource == "token" and target.name:
            if request.method != "POST":
                raise errors.method_not_allowed(request.method, "serviceaccounts/token")
            decoded = await self._body(request, rt, target.version, "Ignore")
            issued = token_request(
                self.registry, self.issuer, target.namespace or "", target.name, decoded.value
            )
            return _json(issued, 201)
        if rt.key == _TOKEN_REVIEWS:
            if request.method != "POST" or target.name or target.watch:
                raise errors.method_not_allowed(request.method, rt.group_resource)
            decoded = await self._body(request, rt, target.version, "Ignore")
            return _json(token_review(self.registry, self.issuer, decoded.value, self.token), 201)
        if target.subresource and target.subresource != "status":
            raise errors.ApiError(404, "NotFound", "the server could not find the requested resource")
        return await self._resource(request, rt, target)

    async def _resource(self, request: Request, rt: ResourceType, target: _Target) -> Response:
        query = request.query_params
        method = request.method
        namespace = target.namespace
        registry = self.registry
        version = target.version
        dry_run = bool(query.get("dryRun"))
        field_validation = query.get("fieldValidation") or "Warn"
        if field_validation not in ("Strict", "Warn", "Ignore"):
            raise errors.bad_request(
                f"fieldValidation must be Strict, Warn or Ignore, not {field_validation!r}"
            )
        if method == "GET":
            if target.watch or query.get("watch") in ("true", "1"):
                return self._watch(request, rt, target)
            if target.name:
                obj = registry.get(rt, namespace or "", target.name)
                if target.subresource == "status" or not wants_table(request.headers.get("accept", "")):
                    return _json(registry.output(rt, version, obj))
                return self._table(
                    request, rt, version, [obj], {"resourceVersion": obj["metadata"]["resourceVersion"]}
                )
            return self._list(request, rt, target)
        if target.watch:
            raise errors.method_not_allowed(method, rt.group_resource)
        if method == "POST" and not target.name:
            decoded = await self._body(request, rt, version, field_validation)
            created, warnings = create_object(
                registry,
                rt,
                version,
                namespace,
                decoded.value,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return self._written(rt, version, created, decoded.duplicates + warnings, 201)
        if method == "PUT" and target.name:
            decoded = await self._body(request, rt, version, field_validation)
            updated, warnings = update_object(
                registry,
                rt,
                version,
                namespace or "",
                target.name,
                decoded.value,
                subresource=target.subresource,
                dry_run=dry_run,
                field_validation=field_validation,
            )
            return self._written(rt, version, updated, decoded.duplicates + warnings, 200)
        if method == "PATCH" and target.name:
            raw = await read_limited(request.receive, request.headers, self.limits)
            content_type = request.headers.get("content-type", "")
            shape = "application/yaml" if content_type.startswith(APPLY_PATCH) else "application/json"
            decode_body(raw, shape, self.limits)
            patched, warnings = patch_object(
                registry,
                rt,
                version,
                namespace or "",
                target.name,
                request.headers.get("content-type", ""),
                raw,
                subresource=target.subresource,
                dry_run=dry_run,
                field_validation=field_validation,
                field_manager=query.get("fieldManager") or "",
            )
            return self._written(rt, version, patched, warnings, 200)
        if method == "DELETE" and not target.subresource:
            raw = await read_limited(request.receive, request.headers, self.limits)
            options = decode_body(raw, request.headers.get("content-type", ""), self.limits).value
            if not isinstance(options, dict):
                raise errors.bad_request("DeleteOptions must be an object")
            policy = query.get("propagationPolicy") or options.get("propagationPolicy")
            if not policy:
                policy = "Orphan" if options.get("orphanDependents") else "Background"
            if policy not in ("Background", "Foreground", "Orphan"):
                raise errors.bad_request(
                    f"propagationPolicy {policy!r} is not one of Background, Foreground, Orphan"
                )
            dry_run = dry_run or bool(options.get("dryRun"))
            if target.name:
                return self._delete_one(rt, version, namespace or "", target.name, options, policy, dry_run)
            selectors = self._selectors(request)
            deleted = [
                registry.output(rt, version, delete_object(registry, rt, obj, policy, dry_run=dry_run))
                for obj in registry.list_objects(rt, namespace, selectors)
            ]
            return _json(
                self._list_body(rt, version, deleted, {"resourceVersion": str(registry.resource_version)})
            )
        raise errors.method_not_allowed(method, rt.group_resource)

    async def _body(
        self, request: Request, rt: ResourceType, version: str, field_validation: str
    ) -> DecodedBody:
        """Read and decode a create or update body; repeated keys refused under ``Strict``."""
        raw = await read_limited(request.receive, request.headers, self.limits)
        content_type = request.headers.get("content-type", "")
        decoded = decode_body(raw, content_type, self.limits, duplicates=field_validation != "Ignore")
        if decoded.duplicates and field_validation == "Strict":
            prefix = f'{rt.kind} in version "{version}" cannot be handled as a {rt.kind}'
            raise errors.bad_request(f"{prefix}: strict decoding error: {', '.join(decoded.duplicates)}")
        return decoded

    def _delete_one(
        self,
        rt: ResourceType,
        version: str,
        namespace: str,
        name: str,
        options: dict[str, Any],
        policy: str,
        dry_run: bool,
    ) -> Response:
        current = self.registry.get(rt, namespace, name)
        preconditions = options.get("preconditions") or {}
        meta = current["metadata"]
        if preconditions.get("uid") and preconditions["uid"] != meta.get("uid"):
            given = preconditions["uid"]
            why = f"Precondition failed: UID in precondition: {given}, UID in object meta: {meta['uid']}"
            raise errors.conflict(rt.plural, rt.group, name, why)
        wanted = preconditions.get("resourceVersion")
        if wanted and wanted != meta["resourceVersion"]:
            actual = meta["resourceVersion"]
            why = f"Precondition failed: ResourceVersion in precondition: {wanted}, in object meta: {actual}"
            raise errors.conflict(rt.plural, rt.group, name, why)
        result = delete_object(self.registry, rt, current, policy, dry_run=dry_run)
        code = 202 if "deletionTimestamp" in result["metadata"] and not dry_run else 200
        return _json(self.registry.output(rt, version, result), code)

    def _written(
        self, rt: ResourceType, version: str, obj: dict[str, Any], warnings: list[str], code: int
    ) -> Response:
        if rt.key == _NAMESPACES and self.registry.lookup(rt, "", obj["metadata"]["name"]) is obj:
            ensure_default_service_accounts(self.registry, obj["metadata"]["name"])
        response = _json(self.registry.output(rt, version, obj), code)
        for warning in warnings:
            response.headers.append("Warning", f'299 - "{warning.replace(chr(34), chr(92) + chr(34))}"')
        return response

    @staticmethod
    def _selectors(request: Request) -> tuple[Selector, ...]:
        selectors: list[Selector] = []
        if request.query_params.get("labelSelector"):
            selectors.append(parse_label_selector(request.query_params["labelSelector"]))
        if request.query_params.get("fieldSelector"):
            selectors.append(parse_field_selector(request.query_params["fieldSelector"]))
        return tuple(selectors)

    def _list_body(
        self, rt: ResourceType, version: str, items: list[dict[str, Any]], meta: dict[str, Any]
    ) -> dict[str, Any]:
        return {"kind": rt.list_kind, "apiVersion": rt.api_version(version), "metadata": meta, "items": items}

    def _list(self, request: Request, rt: ResourceType, target: _Target) -> Response:
        registry = self.registry
        items = registry.list_objects(rt, target.namespace, self._selectors(request))
        meta: dict[str, Any] = {"resourceVersion": str(registry.resource_version)}
        start = request.query_params.get("continue")
        if start:
            try:
                after = tuple(orjson.loads(bytes.fromhex(start)))
            except ValueError:
                raise errors.bad_request("invalid continue token") from None
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after]
        limit = int(_number(request.query_params.get("limit") or "0", "limit"))
        if 0 < limit < len(items):
            items = items[:limit]
            last = items[-1]["metadata"]
            meta["continue"] = orjson.dumps([last.get("namespace", ""), last["name"]]).hex()
        if wants_table(request.headers.get("accept", "")):
            return self._table(request, rt, target.version, items, meta)
        out = [registry.output(rt, target.version, o) for o in items]
        return _json(self._list_body(rt, target.version, out, meta))

    def _table(
        self,
        request: Request,
        rt: ResourceType,
        version: str,
        items: list[dict[str, Any]],
        meta: dict[str, Any],
    ) -> Response:
        version_def = rt.version(version) or rt.storage_version
        objects = [self.registry.output(rt, version, o) for o in items]
        include = request.query_params.get("includeObject") or "Metadata"
        return _json(table_for(version_def, objects, include_object=include, list_meta=meta))

    def _watch(self, request: Request, rt: ResourceType, target: _Target) -> Response:
        query = request.query_params
        selectors = list(self._selectors(request))
        if target.name:
            selectors.append(parse_field_selector(f"metadata.name={target.name}"))
        options = WatchOptions(
            version=target.version,
            namespace=target.namespace,
            selectors=tuple(selectors),
            resource_version=query.get("resourceVersion"),
            timeout=_number(query.get("timeoutSeconds") or str(_DEFAULT_WATCH_SECONDS), "timeoutSeconds"),
            initial_events=query.get("sendInitialEvents") == "true",
            bookmarks=query.get("allowWatchBookmarks") == "true",
            bookmark_interval=self.bookmark_interval,
            table=wants_table(request.headers.get("accept", "")),
            include_object=query.get("includeObject") or "Metadata",
        )
        return watch_response(self.registry, rt, options)


def create_app(
    registry: Registry,
    *,
    token: str | None,
    server_address: str = "127.0.0.1",
    bookmark_interval: float = 60.0,
    metrics: ApiServerMetrics | None = None,
    limits: BodyLimits | None = None,
    issuer: TokenIssuer | None = None,
) -> Starlette:
    """Build the API server's ASGI application.

    Args:
        registry: the objects it serves.
        token: the bearer token every request except health checks must present; ``None`` disables auth.
        server_address: ``host:port`` advertised in ``/api``.
        bookmark_interval: seconds of quiet after which a watch that allows bookmarks gets one.
        metrics: where request metrics go (served at ``/metrics``); a fresh registry when omitted.
        limits: request body limits (size, nesting, YAML alias expansion); Kubernetes' when omitted.
        issuer: signs and verifies ServiceAccount tokens; one with a fresh in-memory key when omitted.

    Returns:
        The Starlette application.
    """
    handlers = _Handlers(
        registry,
        token,
        server_address,
        bookmark_interval,
        metrics or ApiServerMetrics(),
        limits or BodyLimits(),
        issuer or TokenIssuer(load_or_create_key(None)),
    )
    return Starlette(routes=[Route("/{path:path}", handlers.handle, methods=_METHODS)])
