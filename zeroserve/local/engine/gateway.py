"""The gateway: one ASGI app in front of every revision, the local stand-in for Knative's ingress.

Per request: resolve Host and path through the current
:class:`~zeroserve.local.engine.routing.RoutingTable`, admit the request through the revision's
:class:`~zeroserve.local.engine.activator.Activator` (which holds it while the revision scales from
zero), forward it over a pooled connection, and answer with the instance's response plus the header
``zeroserve-revision: <revision name>`` naming the revision that served it. The revision's
``timeoutSeconds`` bounds the whole exchange (504 when passed); a request whose instance vanished
before answering (crash, scale down) is tried again, on another instance when one is ready (three
tries in all).

What it refuses (a JSON ``{"error": ...}`` saying why):

- hosts and paths that are not the platform's own (404): there is no open proxy. Requests for outside
  hosts are forwarded only when egress is enabled, and then only when they carry the platform's
  proxy credentials (which only its instances get, in their ``HTTP_PROXY``);
- the model repository API (``/v2/repository/...``, 404): loading and unloading models is not for
  clients of the platform;
- bodies over the size limit (413). A body already in hand when the request starts (the usual small
  inference payload) is sent as it is; a larger one is streamed to the instance as it arrives.

gRPC calls (HTTP/2 with prior knowledge, on the same port) are served by :attr:`Gateway.grpc`, a
:class:`~zeroserve.local.engine.grpc_proxy.GrpcProxy` over the same routes, revisions and activators.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Protocol

from zeroserve.local.engine.activator import Activator, ActivatorRejected
from zeroserve.local.engine.auth import TokenReviewer
from zeroserve.local.engine.egress import EgressPolicy
from zeroserve.local.engine.grpc_proxy import GrpcProxy
from zeroserve.local.engine.instances import Instance
from zeroserve.local.engine.metrics import RequestLatencies
from zeroserve.local.engine.relay import (
    REVISION_HEADER,
    RequestBody,
    answer_too_large,
    forward_response,
    is_repository_path,
)
from zeroserve.local.engine.routing import PATH_PREFIX, Resolution, RoutingTable
from zeroserve.local.engine.upstream import UpstreamError, UpstreamPool, UpstreamResponse
from zeroserve.process import tracing
from zeroserve.process.asgi import (
    BodyTooLarge,
    ClientDisconnected,
    Message,
    Receive,
    Scope,
    Send,
    respond,
    respond_json,
    serve_lifespan,
)

__all__ = ["REVISION_HEADER", "Gateway", "ServedRevision"]

_REVISION_HEADER = REVISION_HEADER.encode()
_ATTEMPTS = 3
"""Tries per request when an instance drops the connection or refuses it."""


class ServedRevision(Protocol):
    """What the gateway needs of a running revision."""

    activator: Activator

    @property
    def timeout_seconds(self) -> float: ...

    @property
    def unavailable(self) -> str | None: ...


class Gateway:
    """The ASGI gateway app."""

    def __init__(
        self,
        revisions: Callable[[str, str], ServedRevision | None],
        *,
        activator_deadline: float = 300.0,
        pool: UpstreamPool | None = None,
        egress: bool = False,
        egress_token: str | None = None,
        max_body_bytes: int = 100 * 2**20,
        reviewer: TokenReviewer | None = None,
    ) -> None:
        """Create the gateway.

        Args:
            revisions: ``(namespace, name) -> running revision`` (``None`` when not running).
            activator_deadline: the longest a request waits at the activator.
            pool: the upstream connection pool.
            egress: forward requests for hosts outside the platform instead of answering 404.
            egress_token: when set, egress requests must carry it as proxy credentials
                (``Proxy-Authorization: Basic zeroserve:<token>``), so only the platform's instances
                use the gateway as a proxy.
            max_body_bytes: the largest request body forwarded (413 above it).
            reviewer: reviews bearer tokens for routes with ``serving.kserve.io/enable-auth``;
                without one such routes answer 503 (they are never served unauthenticated).
        """
        self.table = RoutingTable()
        self._revisions = revisions
        self._deadline = activator_deadline
        self.pool = pool or UpstreamPool()
        self._random = random.random
        self.responses: dict[tuple[str, str, int], int] = {}
        """``(namespace, revision, status) -> responses sent``, read by the metrics collector."""
        self.latencies = RequestLatencies()
        """Time to each revision's response, read by the metrics collector."""
        self.egress = egress
        """Forward requests for hosts outside the platform (instances reach the internet over HTTP)."""
        self._egress_policy = EgressPolicy(egress_token)
        self.max_body_bytes = max_body_bytes
        self.reviewer = reviewer
        self.metrics: Callable[[], bytes] | None = None
        """Renders ``/metrics`` (for requests whose Host no route claims)."""
        self.opened = asyncio.Event()
        """Set once the routes are known; requests wait for it (a restarted platform serves its last
        routes at once instead of answering 404 while it reads them)."""
        self.opened.set()
        self.grpc = GrpcProxy(self)
        """Serves gRPC calls (HTTP/2 streams; see :func:`~zeroserve.local.engine.h2c.sniffing_protocol`)."""

    @property
    def activator_deadline(self) -> float:
        """The longest a request waits at the activator."""
        return self._deadline

    def draw(self) -> float:
        """A uniform draw in [0, 1) for the traffic split."""
        return self._random()

    def revision(self, namespace: str, name: str) -> ServedRevision | None:
        """The running revision ``namespace/name``, if any."""
        return self._revisions(namespace, name)

    def count(self, res: Resolution, status: int) -> None:
        """Count a response in :attr:`responses`."""
        self._count(res, status)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if not self.opened.is_set():
            await self.opened.wait()
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        host = b""
        for name, value in headers:
            if name == b"host":
                host = value
                break
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1")
        res = self.table.resolve(host.decode("latin-1"), path, self._random())
        if res is None:
            await self._unrouted(scope, receive, send, host.decode("latin-1"), path, raw)
            return
        if is_repository_path(res.path):
            await respond_json(
                send,
                404,
                {"error": f"{res.path!r}: the model repository API is not served through the gateway"},
            )
            return
        if res.auth and not await self._authorized(send, headers, res.namespace):
            return
        body = await self._body(receive, headers, send)
        if body is None:
            return
        target = res.path.encode("latin-1")
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        if res.upstream is not None:
            await self._proxy(send, res.upstream, scope["method"], target, headers, body, res.host)
            return
        if tracing.on:
            await self._serve_traced(scope, send, res, target, headers, body)
            return
        await self._serve_revision(scope, send, res, target, headers, body)

    async def _serve_traced(
        self,
        scope: Scope,
        send: Send,
        res: Resolution,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | RequestBody,
    ) -> None:
        """:meth:`_serve_revision` in a server span; the instance gets this span as its parent."""
        attributes = {
            "http.request.method": scope["method"],
            "url.path": res.path,
            "server.address": res.host,
            "zeroserve.route": res.route,
            "zeroserve.revision": res.revision or "",
            "k8s.namespace.name": res.namespace,
        }
        parent = tracing.extract(headers)
        with tracing.span("gateway", kind="server", attributes=attributes, parent=parent) as span:
            carrier: dict[str, str] = {}
            tracing.inject(carrier)
            traced = [(k, v) for k, v in headers if k not in (b"traceparent", b"tracestate")]
            traced += [(k.encode(), v.encode("latin-1")) for k, v in carrier.items()]

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start" and span is not None:
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self._serve_revision(scope, send_status, res, target, traced, body)

    async def _authorized(self, send: Send, headers: list[tuple[bytes, bytes]], namespace: str) -> bool:
        """Whether the caller may reach a route with authentication on; answers 401/403/503 if not."""
        if self.reviewer is None:
            await respond_json(
                send, 503, {"error": "this service requires authentication, which is not set up"}
            )
            return False
        authorization = next((v.decode("latin-1") for k, v in headers if k == b"authorization"), None)
        decision = await self.reviewer.decide(authorization, namespace)
        if decision.allowed:
            return True
        extra = [(b"www-authenticate", b'Bearer realm="zeroserve"')] if decision.status == 401 else []
        await respond_json(send, decision.status, {"error": decision.message}, extra)
        return False

    async def _unrouted(
        self, scope: Scope, receive: Receive, send: Send, host: str, path: str, raw: bytes
    ) -> None:
        if path in ("/healthz", "/readyz"):
            await respond(send, 200, b"ok\n", content_type=b"text/plain; charset=utf-8")
            return
        if path == "/metrics" and self.metrics is not None:
            await respond(send, 200, self.metrics(), content_type=b"text/plain; version=0.0.4; charset=utf-8")
            return
        if self.egress and self._egress_policy.allows(host, scope["headers"], self.table):
            await self._egress(scope, receive, send, host, raw)
            return
        reason = self.table.unrouted_reason(host)
        if reason is not None:
            await respond_json(send, 404, {"error": reason})
            return
        message = (
            f"no route for host {host!r} and path {path!r}: the gateway serves the platform's routes "
            f"(<name>.<namespace>, <name>.<namespace>.svc[.cluster.local], "
            f"<name>.<namespace>.{self.table.domain}) and the path prefix {PATH_PREFIX}<namespace>/<name>/"
        )
        await respond_json(send, 404, {"error": message})

    async def _body(
        self, receive: Receive, headers: list[tuple[bytes, bytes]], send: Send
    ) -> bytes | RequestBody | None:
        """The body in hand, or a stream of it when it is still arriving; ``None`` once answered."""
        limit = self.max_body_bytes
        length: int | None = None
        for name, value in headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    await respond_json(
                        send, 400, {"error": f"bad content-length {value.decode('latin-1')!r}"}
                    )
                    return None
                if length > limit:
                    await answer_too_large(send, limit)
                    return None
                break
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if not message.get("more_body", False):
            body: bytes = message.get("body", b"")
            if len(body) > limit:
                await answer_too_large(send, limit)
                return None
            return body
        return RequestBody(message, receive, length, limit)

    async def _proxy(
        self,
        send: Send,
        upstream: tuple[str, int],
        method: str,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | RequestBody,
        host: str,
    ) -> None:
        """Forward to a plain upstream (the broker, or an outside host for egress)."""
        try:
            resp = await self.pool.request(
                upstream[0], upstream[1], method, target, headers, body, host.encode()
            )
        except UpstreamError as err:
            await respond_json(send, 502, {"error": f"upstream {host} failed: {err}"})
            return
        except BodyTooLarge as err:
            await answer_too_large(send, err.limit)
            return
        except ClientDisconnected:
            return
        await forward_response(send, resp, None)

    async def _serve_revision(
        self,
        scope: Scope,
        send: Send,
        res: Resolution,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes | RequestBody,
    ) -> None:
        if res.revision is None:
            await respond_json(
                send, 503, {"error": f"route {res.route} has no revision ready to take traffic"}
            )
            return
        rev = self._revisions(res.namespace, res.revision)
        if rev is None:
            await respond_json(
                send, 503, {"error": f"revision {res.namespace}/{res.revision} is not running"}
            )
            return
        unavailable = rev.unavailable
        if unavailable is not None:
            self._count(res, 503)
            await respond_json(send, 503, {"error": unavailable})
            return
        timeout = rev.timeout_seconds
        activator = rev.activator
        fwd_headers = [
            *headers,
            (b"knative-serving-revision", res.revision.encode()),
            (b"knative-serving-namespace", res.namespace.encode()),
        ]
        host_header = res.host.encode()
        method = scope["method"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        resp: UpstreamResponse | None = None
        failed: Instance | None = None
        for attempt in range(_ATTEMPTS):
            try:
                wait = min(self._deadline, max(0.0, deadline - loop.time()))
                if tracing.on:
                    with tracing.span("activator", attributes={"zeroserve.cold_start": not activator.ready}):
                        inst = await activator.acquire(wait, failed)
                else:
                    inst = await activator.acquire(wait, failed)
            except ActivatorRejected as err:
                self._count(res, 503)
                await respond_json(send, 503, {"error": str(err)})
                return
            try:
                async with asyncio.timeout_at(deadline):
                    resp = await self.pool.request(
                        "127.0.0.1", inst.port, method, target, fwd_headers, body, host_header
                    )
                self._count(res, resp.status)
                self.latencies.observe(res.namespace, res.revision, loop.time() - deadline + timeout)
                if resp.stream is None:
                    break
                # a stream holds its instance (and its concurrency slot) until it ends, within the timeout
                try:
                    async with asyncio.timeout_at(deadline):
                        await forward_response(send, resp, res.revision.encode())
                except TimeoutError:
                    resp.abandon()
                return
            except UpstreamError as err:
                replayable = isinstance(body, bytes) or not body.started
                if attempt == _ATTEMPTS - 1 or not replayable:
                    self._count(res, 502)
                    await respond_json(
                        send, 502, {"error": f"revision {res.revision} failed to answer: {err}"}
                    )
                    return
                # the instance vanished (crash, kill): give the runtime a moment to take it out
                failed = inst
                await asyncio.sleep(0.005 * (attempt + 1))
            except BodyTooLarge as err:
                self._count(res, 413)
                await answer_too_large(send, err.limit)
                return
            except ClientDisconnected:
                return
            except TimeoutError:
                self._count(res, 504)
                message = f"revision {res.revision} did not answer within {timeout:g}s (timeoutSeconds)"
                await respond_json(send, 504, {"error": message})
                return
            finally:
                activator.release(inst)
        assert resp is not None
        await forward_response(send, resp, res.revision.encode())

    async def _egress(self, scope: Scope, receive: Receive, send: Send, host: str, raw: bytes) -> None:
        """Forward a request for a host outside the platform (an instance's HTTP_PROXY traffic)."""
        name, _, port_text = host.partition(":")
        try:
            port = int(port_text) if port_text else 80
        except ValueError:
            await respond_json(send, 400, {"error": f"bad Host {host!r}"})
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        body = await self._body(receive, headers, send)
        if body is None:
            return
        target = raw + (b"?" + scope["query_string"] if scope.get("query_string") else b"")
        await self._proxy(send, (name, port), scope["method"], target, headers, body, host)

    def _count(self, res: Resolution, status: int) -> None:
        key = (res.namespace, res.revision or "", status)
        self.responses[key] = self.responses.get(key, 0) + 1
