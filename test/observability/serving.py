"""Serve an ASGI app with uvicorn on 127.0.0.1, a free port, on the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from support.waiting import wait_until_async

__all__ = ["serving"]


@contextlib.asynccontextmanager
async def serving(app: Any, *, lifespan: str = "off") -> AsyncIterator[str]:
    """Serve ``app`` until the block exits.

    Args:
        app: the ASGI app.
        lifespan: uvicorn's lifespan mode (``on`` for apps that start work in their lifespan).

    Yields:
        The base URL, without a trailing slash.
    """
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, lifespan=lifespan, log_level="warning", ws="none", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await wait_until_async(
            lambda: server.started or task.done(), timeout=10, what="the test server listens"
        )
        if task.done():
            task.result()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
