"""Small step services for router tests: echo, fail on purpose, slow, header mirror.

One ASGI app serves them all by path, and :class:`ServiceThread` runs an ASGI app with uvicorn on
port 0 in a background thread (its own event loop), so tests reach it over real HTTP.

Paths (any method):

- ``/echo/<name>``: 200 ``{"service": name, "request": <body JSON>, "headers": {lower-case: value}}``;
- ``/predict/<label>``: 200 ``{"predictions": [label], "request": <body JSON>}``;
- ``/status/<code>``: ``code`` with ``{"error": "failing on purpose", "code": code}``;
- ``/text/<code>``: ``code`` with the plain text ``not json``;
- ``/list``: 200 with a JSON array;
- ``/slow/<ms>``: waits ``ms`` milliseconds, then 200 ``{"predictions": ["slow"]}``.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import threading
from typing import Any

import orjson
import uvicorn
import uvloop

__all__ = ["ServiceThread", "StepServices"]


class StepServices:
    """The ASGI app of the step services; ``calls`` counts requests per path."""

    def __init__(self) -> None:
        self.calls: collections.Counter[str] = collections.Counter()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        try:
            request: Any = orjson.loads(raw)
        except orjson.JSONDecodeError:
            request = raw.decode("utf-8", "replace")
        path: str = scope["path"]
        self.calls[path] = self.calls[path] + 1
        kind, _, arg = path.strip("/").partition("/")
        status, content_type = 200, b"application/json"
        if kind == "echo":
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            body = orjson.dumps({"service": arg, "request": request, "headers": headers})
        elif kind == "predict":
            body = orjson.dumps({"predictions": [arg], "request": request})
        elif kind == "status":
            status = int(arg)
            body = orjson.dumps({"error": "failing on purpose", "code": status})
        elif kind == "text":
            status, content_type, body = int(arg), b"text/plain", b"not json"
        elif kind == "list":
            body = orjson.dumps([1, 2, 3])
        elif kind == "slow":
            await asyncio.sleep(int(arg) / 1000)
            body = orjson.dumps({"predictions": ["slow"]})
        else:
            status, body = 404, orjson.dumps({"error": f"no such test service {path}"})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Server(uvicorn.Server):
    """uvicorn's server, signalling a thread-safe event once its sockets listen."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


class ServiceThread:
    """Serves an ASGI app with uvicorn on 127.0.0.1, port 0, in a daemon thread.

    Args:
        app: the ASGI app.
    """

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, lifespan="off", log_level="warning", ws="none", http="httptools", timeout_graceful_shutdown=1
        )
        self.server = _Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        # uvloop: asyncio's own loop answers ~40 ms late on sockets handed to uvicorn (delayed ACKs)
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(self.server.serve(sockets=[self.sock]))

    def start(self, timeout: float = 10.0) -> ServiceThread:
        """Start serving and wait until the socket listens."""
        self.thread.start()
        if not self.server.listening.wait(timeout) or not self.server.started:
            raise RuntimeError("test service did not start")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        self.server.should_exit = True
        self.thread.join(10)
