"""Test helpers for CloudEvents consumers: an ASGI app on a free port, and a CloudEvents sink.

The sink parses what it receives with the ``cloudevents`` library, not with zeroserve's own codec, so
tests (ours, and users' tests of their Triggers and detectors) check the wire format against an
independent implementation::

    sink = EventSink()
    async with serve(sink) as server:
        ...  # send events to server.url
        events = await sink.wait_for(2)
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import uvicorn
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

__all__ = ["EventSink", "RunningServer", "serve"]


@dataclass
class RunningServer:
    """A uvicorn server started by :func:`serve`."""

    server: uvicorn.Server
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serve(app: Any, *, lifespan: Literal["auto", "on", "off"] = "on") -> AsyncIterator[RunningServer]:
    """Run an ASGI app with uvicorn on a free port of 127.0.0.1 in the current event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield RunningServer(server, port)
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class EventSink:
    """An ASGI CloudEvents receiver that records events and can be told to fail.

    ``fail_first`` answers that many requests with ``fail_status`` before accepting; ``reject_all``
    answers every request with ``fail_status``.
    """

    fail_first: int = 0
    fail_status: int = 503
    reject_all: bool = False
    events: list[BaseCloudEvent] = field(default_factory=list)
    attempts: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    reply: Callable[[BaseCloudEvent], tuple[int, list[tuple[bytes, bytes]], bytes] | None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.attempts += 1
        if self.reject_all or self.attempts <= self.fail_first:
            await _respond(send, self.fail_status, [], b"try again")
            return
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        event = from_http_event(HTTPMessage(headers=headers, body=body))
        self.events.append(event)
        self.arrived.set()
        answer = self.reply(event) if self.reply else None
        if answer is None:
            await _respond(send, 202, [], b"")
        else:
            await _respond(send, *answer)

    async def wait_for_attempts(self, count: int, deadline_s: float = 10.0) -> None:
        """Wait until at least ``count`` requests (accepted or not) arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while self.attempts < count:
            assert loop.time() < deadline, f"sink got {self.attempts} requests, wanted {count}"
            await asyncio.sleep(0.05)

    async def wait_for(self, count: int, deadline_s: float = 10.0) -> list[BaseCloudEvent]:
        """Wait until at least ``count`` events arrived (poll with a deadline)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while len(self.events) < count:
            if loop.time() > deadline:
                raise AssertionError(f"sink got {len(self.events)} events, wanted {count}")
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout=0.2)
        return self.events


async def _respond(send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
