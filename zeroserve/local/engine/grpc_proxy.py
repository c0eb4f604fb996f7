"""gRPC through the gateway: HTTP/2 streams routed by ``:authority`` and relayed to a revision's gRPC port.

A gRPC call arrives as one HTTP/2 stream (see :mod:`.h2c`). :class:`GrpcProxy` resolves its
``:authority`` with the gateway's routing table (the Host rules of HTTP: ``<name>.<ns>``, ``.svc``,
``.svc.cluster.local``, ``<name>.<ns>.<domain>``, tag hosts; the canary split drawn per call) or, when
the call has ``seldon`` (and ``namespace``, default ``default``) metadata as Seldon's clients send in
gateway mode, as the host ``<seldon>.<namespace>.svc.cluster.local`` (a SeldonDeployment's route, to
its predictors' orchestrators by their traffic weights), checks
``enable-auth`` tokens in the ``authorization`` metadata, and admits the call through the revision's
activator exactly as an HTTP request (it waits there while the revision scales from zero, and counts
in the autoscaler's concurrency for as long as it runs). It then opens a stream to the instance's gRPC
port (the ``grpc_port`` of its ready file, or the container port itself for an ``h2c`` port) and
relays headers, messages and trailers as they come, both ways, under HTTP/2 flow control. The
response's initial metadata gains ``zeroserve-revision``. A client's cancellation (RST_STREAM) resets
the upstream stream; ``grpc-timeout`` bounds the wait and is passed on, less the time spent waiting.

Calls the gateway cannot serve end with a gRPC status and a message saying why, never a connection
error: ``NOT_FOUND`` (no route for the host), ``UNIMPLEMENTED`` (the model repository API, hosts that
are not revisions, revisions without a gRPC port), ``UNAVAILABLE`` (no revision, it cannot start, its
instance went away), ``DEADLINE_EXCEEDED`` (``grpc-timeout`` or the revision's ``timeoutSeconds``
passed), ``UNAUTHENTICATED`` / ``PERMISSION_DENIED`` (``enable-auth``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from zeroserve.local.engine.activator import ActivatorRejected
from zeroserve.local.engine.h2c import H2ClientPool, H2Stream, Headers, StreamReset
from zeroserve.local.engine.instances import Instance
from zeroserve.local.engine.routing import Resolution

if TYPE_CHECKING:
    from zeroserve.local.engine.gateway import Gateway, ServedRevision

__all__ = ["GrpcProxy", "GrpcStatus", "grpc_message", "parse_grpc_timeout"]

_LOG = logging.getLogger(__name__)


class GrpcStatus:
    """gRPC status codes the gateway answers with."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    PERMISSION_DENIED = 7
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    UNAUTHENTICATED = 16


_HTTP_EQUIVALENT = {
    GrpcStatus.DEADLINE_EXCEEDED: 504,
    GrpcStatus.NOT_FOUND: 404,
    GrpcStatus.PERMISSION_DENIED: 403,
    GrpcStatus.UNIMPLEMENTED: 404,
    GrpcStatus.UNAVAILABLE: 503,
    GrpcStatus.UNAUTHENTICATED: 401,
}
"""The status counted in the gateway's response metrics for a call it ended itself."""

_ATTEMPTS = 3
"""Tries per call when an instance's gRPC port refuses the connection (nothing was sent yet)."""
_REPOSITORY_METHODS = b"/inference.GRPCInferenceService/Repository"
_DROP_REQUEST = frozenset({b"host", b"grpc-timeout", b"connection", b"keep-alive", b"proxy-authorization"})
_TIMEOUT_UNITS = {b"H": 3600.0, b"M": 60.0, b"S": 1.0, b"m": 1e-3, b"u": 1e-6, b"n": 1e-9}


def parse_grpc_timeout(value: bytes) -> float | None:
    """Seconds in a ``grpc-timeout`` header (``<up to 8 digits><H|M|S|m|u|n>``); ``None`` if malformed."""
    digits, unit = value[:-1], value[-1:]
    if not digits.isdigit() or len(digits) > 8 or unit not in _TIMEOUT_UNITS:
        return None
    return int(digits) * _TIMEOUT_UNITS[unit]


def grpc_message(text: str) -> bytes:
    """Percent-encode a status message for ``grpc-message`` (gRPC's HTTP/2 mapping)."""
    out = bytearray()
    for byte in text.encode():
        if 0x20 <= byte <= 0x7E and byte != 0x25:
            out.append(byte)
        else:
            out += b"%%%02X" % byte
    return bytes(out)


def _status_headers(code: int, message: str) -> Headers:
    return [(b"grpc-status", str(code).encode()), (b"grpc-message", grpc_message(message))]


class _Ended(Exception):
    """The call was answered with a gRPC status by the gateway."""


class GrpcProxy:
    """Serves the gateway's HTTP/2 streams (gRPC calls)."""

    def __init__(self, gateway: Gateway) -> None:
        """Create the proxy of a gateway.

        Args:
            gateway: the gateway whose routes, revisions, activators and token reviewer it uses.
        """
        self.gateway = gateway
        self.pool = H2ClientPool()

    async def __call__(self, stream: H2Stream) -> None:
        """Serve one call.

        Args:
            stream: the client's stream, its request headers received.
        """
        gateway = self.gateway
        if not gateway.opened.is_set():
            await gateway.opened.wait()
        headers = stream.headers.result()
        authority = path = content_type = b""
        timeout_value: bytes | None = None
        authorization: bytes | None = None
        seldon: bytes | None = None
        seldon_namespace = b"default"
        for name, value in headers:
            if name == b":authority" or (name == b"host" and not authority):
                authority = value
            elif name == b"seldon":
                seldon = value
            elif name == b"namespace":
                seldon_namespace = value
            elif name == b":path":
                path = value
            elif name == b"content-type":
                content_type = value
            elif name == b"grpc-timeout":
                timeout_value = value
            elif name == b"authorization":
                authorization = value
        if not content_type.startswith(b"application/grpc"):
            message = (
                b"the gateway serves gRPC over HTTP/2 (content-type application/grpc); "
                b"use HTTP/1.1 for REST\n"
            )
            stream.send_headers([(b":status", b"415"), (b"content-type", b"text/plain; charset=utf-8")])
            await stream.write(message, end=True)
            return
        loop = asyncio.get_running_loop()
        start = loop.time()
        call_deadline: float | None = None
        if timeout_value is not None:
            seconds = parse_grpc_timeout(timeout_value)
            if seconds is None:
                text = (
                    f"bad grpc-timeout {timeout_value.decode('latin-1')!r}: "
                    "expected up to 8 digits and a unit"
                )
                self._end(stream, GrpcStatus.INTERNAL, text)
                return
            call_deadline = start + seconds
        host = authority.decode("latin-1")
        if seldon:  # Seldon's clients in gateway mode (Ambassador / Istio style) name the deployment
            host = f"{seldon.decode('latin-1')}.{seldon_namespace.decode('latin-1')}.svc.cluster.local"
        res = gateway.table.resolve(host, path.decode("latin-1"), gateway.draw())
        if res is None:
            self._end(
                stream,
                GrpcStatus.NOT_FOUND,
                f"no route for host {host!r}: the gateway serves the platform's routes (<name>.<namespace>, "
                f"<name>.<namespace>.svc[.cluster.local], <name>.<namespace>.{gateway.table.domain})",
            )
            return
        if res.upstream is not None:
            self._end(stream, GrpcStatus.UNIMPLEMENTED, f"host {host!r} is not served over gRPC")
            return
        if path.startswith(_REPOSITORY_METHODS):
            text = f"{path.decode('latin-1')}: the model repository API is not served through the gateway"
            self._end(stream, GrpcStatus.UNIMPLEMENTED, text, res)
            return
        try:
            if res.auth:
                await self._authorize(stream, res, authorization)
            rev = self._revision(stream, res)
            await self._serve(stream, res, rev, headers, path, start, call_deadline)
        except _Ended:
            return

    async def _authorize(self, stream: H2Stream, res: Resolution, authorization: bytes | None) -> None:
        reviewer = self.gateway.reviewer
        if reviewer is None:
            self._end(
                stream,
                GrpcStatus.UNAVAILABLE,
                "this service requires authentication, which is not set up",
                res,
            )
            raise _Ended
        decision = await reviewer.decide(
            authorization.decode("latin-1") if authorization is not None else None, res.namespace
        )
        if decision.allowed:
            return
        code = GrpcStatus.UNAUTHENTICATED if decision.status == 401 else GrpcStatus.PERMISSION_DENIED
        if decision.status >= 500:
            code = GrpcStatus.UNAVAILABLE
        self._end(stream, code, decision.message, res)
        raise _Ended

    def _revision(self, stream: H2Stream, res: Resolution) -> ServedRevision:
        if res.revision is None:
            self._end(
                stream,
                GrpcStatus.UNAVAILABLE,
                f"route {res.route} has no revision ready to take traffic",
                res,
            )
            raise _Ended
        rev = self.gateway.revision(res.namespace, res.revision)
        if rev is None:
            text = f"revision {res.namespace}/{res.revision} of {res.route} is not running"
            self._end(stream, GrpcStatus.UNAVAILABLE, text, res)
            raise _Ended
        unavailable = rev.unavailable
        if unavailable is not None:
            self._end(stream, GrpcStatus.UNAVAILABLE, f"{res.route}: {unavailable}", res)
            raise _Ended
        return rev

    async def _serve(
        self,
        stream: H2Stream,
        res: Resolution,
        rev: ServedRevision,
        headers: Headers,
        path: bytes,
        start: float,
        call_deadline: float | None,
    ) -> None:
        loop = asyncio.get_running_loop()
        timeout = rev.timeout_seconds
        deadline = start + timeout
        end = deadline if call_deadline is None else min(deadline, call_deadline)
        activator = rev.activator
        revision = (res.revision or "").encode()
        failed: Instance | None = None
        for attempt in range(_ATTEMPTS):
            try:
                wait = min(self.gateway.activator_deadline, max(0.0, end - loop.time()))
                inst = await activator.acquire(wait, failed)
            except ActivatorRejected as err:
                if call_deadline is not None and loop.time() >= call_deadline:
                    text = f"deadline passed while {res.route} had no instance ready ({err})"
                    self._end(stream, GrpcStatus.DEADLINE_EXCEEDED, text, res)
                else:
                    self._end(stream, GrpcStatus.UNAVAILABLE, f"{res.route}: {err}", res)
                return
            sent = [False]
            try:
                port = _grpc_port(inst, rev)
                if port is None:
                    text = f"revision {res.revision} serves no gRPC port (its server runs without gRPC)"
                    self._end(stream, GrpcStatus.UNIMPLEMENTED, text, res)
                    return
                async with asyncio.timeout_at(end):
                    await self._relay(stream, res, revision, headers, path, port, call_deadline, sent)
                return
            except TimeoutError:
                if call_deadline is not None and call_deadline <= deadline:
                    text = "deadline exceeded (grpc-timeout) at the gateway"
                else:
                    text = f"revision {res.revision} did not answer within {timeout:g}s (timeoutSeconds)"
                self._end(stream, GrpcStatus.DEADLINE_EXCEEDED, text, res, trailers=sent[0])
                return
            except StreamReset as err:
                if not stream.local_ended and not stream.failed:  # the upstream failed, not the client
                    text = f"revision {res.revision} failed to answer: {err}"
                    self._end(stream, GrpcStatus.UNAVAILABLE, text, res, trailers=sent[0])
                return
            except OSError as err:
                # nothing was sent: the instance went away (crash, scale down); another one may serve it
                if attempt == _ATTEMPTS - 1:
                    text = f"revision {res.revision} failed to answer: cannot connect to its gRPC port: {err}"
                    self._end(stream, GrpcStatus.UNAVAILABLE, text, res)
                    return
                failed = inst
            finally:
                activator.release(inst)
            await asyncio.sleep(0.005 * (attempt + 1))

    async def _relay(
        self,
        stream: H2Stream,
        res: Resolution,
        revision: bytes,
        headers: Headers,
        path: bytes,
        port: int,
        call_deadline: float | None,
        sent: list[bool],
    ) -> None:
        loop = asyncio.get_running_loop()
        out: Headers = [
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path),
            (b":authority", res.host.encode()),
        ]
        out += [(k, v) for k, v in headers if not k.startswith(b":") and k not in _DROP_REQUEST]
        if call_deadline is not None:
            left_ms = max(1, int((call_deadline - loop.time()) * 1000))
            out.append((b"grpc-timeout", b"%dm" % left_ms))
        out += [
            (b"knative-serving-revision", revision),
            (b"knative-serving-namespace", res.namespace.encode()),
        ]
        conn = await self.pool.connection("127.0.0.1", port)
        upstream = conn.open(out)
        pump: asyncio.Task[None] | None = None
        if stream.remote_ended:  # a unary call's request is usually whole by now: send it in one go
            await _pump(stream, upstream)
        else:
            pump = loop.create_task(_pump(stream, upstream))
        try:
            response = await upstream.headers
            response = [*response, (b"zeroserve-revision", revision)]
            self.gateway.count(res, 200)
            stream.send_headers(response, end=upstream.headers_ended)
            sent[0] = True
            if upstream.headers_ended:
                return
            while True:
                data = await upstream.read()
                if data is None:
                    break
                await stream.write(data)
                upstream.ack()
            if upstream.trailers is not None:
                stream.send_headers(upstream.trailers, end=True)
            else:
                stream.end()
        finally:
            if pump is not None and not pump.done():
                pump.cancel()
            elif pump is not None and not pump.cancelled():
                pump.exception()  # retrieved: the relay's own outcome is the one reported
            upstream.release()

    def _end(
        self,
        stream: H2Stream,
        code: int,
        message: str,
        res: Resolution | None = None,
        *,
        trailers: bool = False,
    ) -> None:
        """Answer the call with a status: trailers-only, or trailers after headers already sent."""
        if res is not None:
            self.gateway.count(res, _HTTP_EQUIVALENT.get(code, 500))
        block = _status_headers(code, message)
        if not trailers:
            block = [(b":status", b"200"), (b"content-type", b"application/grpc"), *block]
        with contextlib.suppress(StreamReset):
            stream.send_headers(block, end=True)

    def close(self) -> None:
        """Close the upstream connections."""
        self.pool.close()


async def _pump(source: H2Stream, sink: H2Stream) -> None:
    """Relay the client's messages to the upstream, acknowledging each once passed on."""
    while True:
        data = await source.read()
        if data is None:
            sink.end()
            return
        if source.remote_ended and not source.pending:  # the last piece: send it with END_STREAM
            await sink.write(data, end=True)
            source.ack()
            return
        await sink.write(data)
        source.ack()


def _grpc_port(inst: Instance, rev: ServedRevision) -> int | None:
    """The instance's gRPC port: the one its ready file names, else its own port when that is ``h2c``."""
    port = inst.grpc_port
    if port is not None and port > 0:
        return port
    spec = getattr(rev, "spec", None)
    container = getattr(spec, "container", None) or {}
    ports = container.get("ports") or []
    if ports and ports[0].get("name") == "h2c":
        return inst.port
    return None
