"""An in-process OTLP/HTTP trace receiver: ``POST /v1/traces`` (protobuf or JSON) into a :class:`TraceStore`.

It also answers ``GET /api/traces`` (the recent traces, newest first) and ``GET /api/traces/<id>``
(one trace's spans), which ``zeroserve traces`` reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from typing import Any

import uvicorn

from zeroserve.local.traces.store import BadPayload, TraceStore, decode_json, decode_protobuf
from zeroserve.process.asgi import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    read_body,
    respond,
    respond_json,
)

__all__ = ["TraceReceiver", "receiver_app"]

_log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024


def receiver_app(store: TraceStore) -> Any:
    """The receiver's ASGI app over ``store``."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == "/v1/traces":
            if method != "POST":
                await respond_json(
                    send, 405, {"error": "POST an OTLP ExportTraceServiceRequest to /v1/traces"}
                )
                return
            await _export(scope, receive, send, store)
        elif path == "/api/traces" and method == "GET":
            await respond_json(send, 200, {"traces": store.summaries()})
        elif path.startswith("/api/traces/") and method == "GET":
            trace_id = path.removeprefix("/api/traces/")
            spans = store.trace(trace_id)
            if not spans:
                await respond_json(send, 404, {"error": f"no trace {trace_id!r} is kept here"})
                return
            await respond_json(
                send, 200, {"trace_id": spans[0].trace_id, "spans": [s.to_json() for s in spans]}
            )
        else:
            await respond_json(
                send, 404, {"error": "this is an OTLP/HTTP receiver: POST /v1/traces, GET /api/traces"}
            )

    return app


async def _export(scope: Scope, receive: Receive, send: Send, store: TraceStore) -> None:
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"application/x-protobuf").split(b";")[0].strip().lower()
    try:
        body = await read_body(receive, MAX_BODY)
    except BodyTooLarge:
        await respond_json(send, 413, {"error": f"an export may hold at most {MAX_BODY} bytes"})
        return
    except ClientDisconnected:
        return
    if headers.get(b"content-encoding", b"").lower() == b"gzip":
        import gzip

        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as err:
            await respond_json(send, 400, {"error": f"the gzip body does not decompress: {err}"})
            return
    try:
        if content_type == b"application/json":
            spans = decode_json(body)
            store.add(spans)
            await respond_json(send, 200, {})
        elif content_type == b"application/x-protobuf":
            spans = decode_protobuf(body)
            store.add(spans)
            await respond(send, 200, b"", content_type=b"application/x-protobuf")
        else:
            await respond_json(
                send, 415, {"error": "content-type must be application/x-protobuf or application/json"}
            )
    except BadPayload as err:
        await respond_json(send, 400, {"error": str(err)})


class TraceReceiver:
    """The receiver served by uvicorn on the running event loop.

    Args:
        max_traces: how many traces are kept.
        host: the address it listens on.
        port: its port (0: a free one).
    """

    def __init__(self, max_traces: int = 200, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = TraceStore(max_traces)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """The base URL (``OTEL_EXPORTER_OTLP_ENDPOINT``; spans go to ``<url>/v1/traces``)."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Start serving; returns :attr:`url`."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as err:
            sock.close()
            raise OSError(err.errno, f"the trace receiver cannot listen on {self.host}:{self.port}") from err
        sock.listen(128)
        sock.setblocking(False)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            receiver_app(self.store), loop="none", lifespan="off", access_log=False, log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server._serve(sockets=[sock]))  # the caller owns signals
        while not self._server.started:
            if self._task.done():
                await self._task
            await asyncio.sleep(0.01)
        _log.info("trace receiver listening on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._server = self._task = None
