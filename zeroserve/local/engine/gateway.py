"""The gateway: one ASGI app in front of every revision, the local stand-in for Knative's ingress.

Per request: read the body, resolve Host and path through the current
:class:`~zeroserve.local.engine.routing.RoutingTable`, admit the request through the revision's
:class:`~zeroserve.local.engine.activator.Activator` (which holds it while the revision scales from
zero), forward it over a pooled connection, and answer with the instance's response plus the header
``zeroserve-revision: <revision name>`` naming the revision that served it. The revision's
``timeoutSeconds`` bounds the whole exchange (504 when passed); a request whose instance vanished
before answering (crash, scale down) is tried again, on another instance when one is ready (three
tries in all).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any, Protocol

from zeroserve.local.engine.activator import Activator, ActivatorRejected
from zeroserve.local.engine.instances import Instance
from zeroserve.local.engine.routing import Resolution, RoutingTable
from zeroserve.local.engine.upstream import UpstreamError, UpstreamPool, UpstreamResponse

__all__ = ["REVISION_HEADER", "Gateway", "ServedRevision"]

REVISION_HEADER = "zeroserve-revision"
"""Response header naming the revision that served a request."""

_REVISION_HEADER = REVISION_HEADER.encode()
_ATTEMPTS = 3
"""Tries per request when an instance drops the connection or refuses it."""
_SKIP_RESPONSE = frozenset(
    {b"connection", b"keep-alive", b"transfer-encoding", b"content-length", b"server", b"date"}
)


class ServedRevision(Protocol):
    """What the gateway needs of a running revision."""

    activator: Activator

    @property
    def timeout_seconds(self) -> float: ...

    @property
    def unavailable(self) -> str | None: ...


Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]


class Gateway:
    """The ASGI gateway app."""

    def __init__(
        self,
        revisions: Callable[[str, str], ServedRevision | None],
        *,
        activator_deadline: float = 300.0,
        pool: UpstreamPool | None = None,
        egress: bool = True,
    ) -> None:
        """Create the gateway.

        Args:
            revisions: ``(namespace, name) -> running revision`` (``None`` when not running).
            activator_deadline: the longest a request waits at the activator.
            pool: the upstream connection pool.
            egress: forward requests for hosts outside the platform instead of answering 404.
        """
        self.table = RoutingTable()
        self._revisions = revisions
        self._deadline = activator_deadline
        self.pool = pool or UpstreamPool()
        self._random = random.random
        self.responses: dict[tuple[str, str, int], int] = {}
        """``(namespace, revision, status) -> responses sent``, read by the metrics collector."""
        self.egress = egress
        """Forward requests for hosts outside the platform (instances reach the internet over HTTP)."""
        self.metrics: Callable[[], bytes] | None = None
        """Renders ``/metrics`` (for requests whose Host no route claims)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
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
            if path in ("/healthz", "/readyz"):
                await _respond(send, 200, b"ok\n")
                return
            if path == "/metrics" and self.metrics is not None:
                await _respond(send, 200, self.metrics(), b"text/plain; version=0.0.4; charset=utf-8")
                return
            target_host = host.decode("latin-1")
            if self.egress and _external(target_host, self.table):
                await self._egress(scope, receive, send, target_host, raw)
                return
            await _drain(receive)
            await _respond(send, 404, f"no route for host {target_host!r} and path {path!r}\n".encode())
            return
        body = await _read_body(receive)
        target = res.path.encode("latin-1")
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        if res.upstream is not None:
            try:
                resp = await self.pool.request(
                    res.upstream[0],
                    res.upstream[1],
                    scope["method"],
                    target,
                    headers,
                    body,
                    res.host.encode(),
                )
            except UpstreamError as err:
                await _respond(send, 502, f"upstream {res.host} failed: {err}\n".encode())
                return
            await _forward(send, resp, None)
            return
        await self._serve_revision(scope, send, res, target, headers, body)

    async def _serve_revision(
        self,
        scope: Scope,
        send: Send,
        res: Resolution,
        target: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        if res.revision is None:
            await _respond(send, 503, f"route {res.route} has no revision ready to take traffic\n".encode())
            return
        rev = self._revisions(res.namespace, res.revision)
        if rev is None:
            await _respond(send, 503, f"revision {res.namespace}/{res.revision} is not running\n".encode())
            return
        unavailable = rev.unavailable
        if unavailable is not None:
            self._count(res, 503)
            await _respond(send, 503, f"{unavailable}\n".encode())
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
                inst = await activator.acquire(min(self._deadline, max(0.0, deadline - loop.time())), failed)
            except ActivatorRejected as err:
                self._count(res, 503)
                await _respond(send, 503, f"{err}\n".encode())
                return
            try:
                async with asyncio.timeout_at(deadline):
                    resp = await self.pool.request(
                        "127.0.0.1", inst.port, method, target, fwd_headers, body, host_header
                    )
                self._count(res, resp.status)
                if resp.stream is None:
                    break
                # a stream holds its instance (and its concurrency slot) until it ends, within the timeout
                try:
                    async with asyncio.timeout_at(deadline):
                        await _forward(send, resp, res.revision.encode())
                except TimeoutError:
                    resp.abandon()
                return
            except UpstreamError as err:
                if attempt == _ATTEMPTS - 1:
                    self._count(res, 502)
                    await _respond(send, 502, f"revision {res.revision} failed to answer: {err}\n".encode())
                    return
                # the instance vanished (crash, kill): give the runtime a moment to take it out
                failed = inst
                await asyncio.sleep(0.005 * (attempt + 1))
            except TimeoutError:
                self._count(res, 504)
                await _respond(
                    send,
                    504,
                    f"revision {res.revision} did not answer within {timeout:g}s (timeoutSeconds)\n".encode(),
                )
                return
            finally:
                activator.release(inst)
        assert resp is not None
        await _forward(send, resp, res.revision.encode())

    async def _egress(self, scope: Scope, receive: Receive, send: Send, host: str, raw: bytes) -> None:
        """Forward a request for a host outside the platform (an instance's HTTP_PROXY traffic)."""
        name, _, port_text = host.partition(":")
        try:
            port = int(port_text) if port_text else 80
        except ValueError:
            await _respond(send, 400, f"bad Host {host!r}\n".encode())
            return
        body = await _read_body(receive)
        target = raw + (b"?" + scope["query_string"] if scope.get("query_string") else b"")
        try:
            resp = await self.pool.request(
                name, port, scope["method"], target, scope["headers"], body, host.encode()
            )
        except UpstreamError as err:
            await _respond(send, 502, f"cannot reach {host}: {err}\n".encode())
            return
        await _forward(send, resp, None)

    def _count(self, res: Resolution, status: int) -> None:
        key = (res.namespace, res.revision or "", status)
        self.responses[key] = self.responses.get(key, 0) + 1


_CLUSTER_SUFFIXES = (".svc", ".svc.cluster.local", ".cluster.local")


def _external(host: str, table: RoutingTable) -> bool:
    """Whether a Host names something outside the platform.

    Not external: localhost, cluster names (``*.svc``, ``*.svc.cluster.local``), names under the
    platform's domain, and ``<name>.<namespace>`` short names of a namespace the platform routes in
    (or ``default``). Everything else with a dot is (``httpbin.org``, ``10.0.0.5:9000``).
    """
    name = host.split(":", 1)[0].lower()
    if not name or name in ("localhost", "127.0.0.1") or "." not in name:
        return False
    if name.endswith(_CLUSTER_SUFFIXES) or name.endswith("." + table.domain.lower()):
        return False
    labels = name.split(".")
    return not (len(labels) == 2 and labels[1] in table.namespaces)


async def _forward(send: Send, resp: UpstreamResponse, revision: bytes | None) -> None:
    out = [(k, v) for k, v in resp.headers if k not in _SKIP_RESPONSE]
    if revision is not None:
        out.append((_REVISION_HEADER, revision))
    if resp.stream is not None:
        await _forward_stream(send, resp, out)
        return
    if resp.body or not any(k == b"content-length" for k, _ in resp.headers):
        out.append((b"content-length", str(len(resp.body)).encode()))
    else:  # a HEAD (or empty) response: keep the length the upstream announced
        out += [(k, v) for k, v in resp.headers if k == b"content-length"]
    await send({"type": "http.response.start", "status": resp.status, "headers": out})
    await send({"type": "http.response.body", "body": resp.body})


async def _forward_stream(send: Send, resp: UpstreamResponse, headers: list[tuple[bytes, bytes]]) -> None:
    """Relay a chunked / event-stream response as it arrives."""
    assert resp.stream is not None
    finished = False
    try:
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        while True:
            chunk = await resp.stream.get()
            if chunk is None or isinstance(chunk, UpstreamError):
                break
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        finished = chunk is None
    finally:
        if not finished:
            resp.abandon()


async def _respond(
    send: Send, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8"
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes:
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    chunks = [body]
    while message.get("more_body"):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def _drain(receive: Receive) -> None:
    message = await receive()
    while message.get("more_body"):
        message = await receive()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
