"""Test helpers for CloudEvents producers and consumers: an ASGI app on a free port, a CloudEvents
sink, and a ``zeroserve`` command run as a process.

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
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import uvicorn
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from zeroserve.process.asgi import Receive, Scope, Send, read_body, respond, serve_lifespan
from zeroserve.process.listen import bind_socket
from zeroserve.process.ready import read_ready_file

__all__ = ["EventSink", "RunningServer", "serve", "zeroserve_process"]


@dataclass
class RunningServer:
    """A uvicorn server started by :func:`serve`."""

    server: uvicorn.Server
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.asynccontextmanager
async def serve(
    app: Any, *, lifespan: Literal["auto", "on", "off"] = "on", sock: socket.socket | None = None
) -> AsyncIterator[RunningServer]:
    """Run an ASGI app with uvicorn in the current event loop, on a free port of 127.0.0.1.

    Args:
        app: the ASGI app.
        lifespan: uvicorn's lifespan mode.
        sock: a socket bound (listening or not) to serve on instead of a fresh one, e.g. to bring
            a sink back on the address it had.
    """
    sock = sock if sock is not None else bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan=lifespan, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # uvicorn sets no event: poll, with the task's failure as the deadline
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
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
    answers every request with ``fail_status``. ``headers`` keeps each request's headers (lower-case
    names), accepted or not.
    """

    fail_first: int = 0
    fail_status: int = 503
    reject_all: bool = False
    events: list[BaseCloudEvent] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    reply: Callable[[BaseCloudEvent], tuple[int, list[tuple[bytes, bytes]], bytes] | None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        body = await read_body(receive)
        self.attempts += 1
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.headers.append(headers)
        if self.reject_all or self.attempts <= self.fail_first:
            await respond(send, self.fail_status, b"try again")
            return
        event = from_http_event(HTTPMessage(headers=headers, body=body))
        self.events.append(event)
        self.arrived.set()
        answer = self.reply(event) if self.reply else None
        if answer is None:
            await respond(send, 202)
        else:
            status, reply_headers, reply_body = answer
            await respond(send, status, reply_body, reply_headers)

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


@contextlib.asynccontextmanager
async def zeroserve_process(
    folder: Path, *args: str, env: Mapping[str, str] | None = None, deadline_s: float = 60.0
) -> AsyncIterator[str]:
    """Run ``python -m zeroserve <args> --host 127.0.0.1 --http-port 0 --ready-file F``.

    Args:
        folder: where the ready file goes.
        *args: the command line after ``zeroserve``.
        env: extra environment variables (``NO_PROXY=*`` is always set).
        deadline_s: how long the process may take to become ready.

    Yields:
        The process's base URL; it is stopped with SIGTERM on exit. Its stderr (the log) is kept
        beside the ready file, ``<ready file>.log``.
    """
    ready = folder / f"ready-{args[0]}-{os.urandom(4).hex()}.json"
    log_path = ready.with_suffix(".log")
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zeroserve", *args,
            "--host", "127.0.0.1", "--http-port", "0", "--ready-file", str(ready),
            stderr=log_file,
            env={**os.environ, "NO_PROXY": "*", **(env or {})},
        )  # fmt: skip
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + deadline_s
        while (doc := read_ready_file(ready)) is None:
            if process.returncode is not None or loop.time() > deadline:
                log = log_path.read_text(errors="replace")
                raise AssertionError(f"{args[0]} did not start: {log[-2000:]}")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{doc['http_port']}"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=20)
