"""Serve a plain ASGI app with uvicorn on an already bound socket, the same way in every command.

The commands bind first (:func:`zeroserve.process.listen.bind_socket`, so a busy port is one clear
line before anything starts), then hand the socket here: the app's lifespan runs, SIGTERM / SIGINT
stop the server gracefully, and the ready file is written once connections are accepted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from pathlib import Path
from typing import Any

from zeroserve.process.ready import write_ready_file

__all__ = ["serve_app"]

log = logging.getLogger(__name__)


async def serve_app(app: Any, sock: socket.socket, ready_file: Path | None = None) -> bool:
    """Serve ``app`` on the bound ``sock`` until SIGTERM / SIGINT.

    Args:
        app: the ASGI app (its lifespan runs).
        sock: the listening socket.
        ready_file: written once the server accepts connections, when given.

    Returns:
        Whether the server started (``False``: its lifespan startup failed).
    """
    import uvicorn

    listening = asyncio.Event()

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                listening.set()

    server = Server(uvicorn.Config(app, lifespan="on", log_config=None, access_log=False))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    waiting = asyncio.create_task(listening.wait())
    await asyncio.wait([serving, waiting], return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    started = server.started
    if started:
        host, port = sock.getsockname()[:2]
        log.info("listening on %s:%d", host, port)
        if ready_file is not None:
            write_ready_file(ready_file, port)
    await serving
    return started
