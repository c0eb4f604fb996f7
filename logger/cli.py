"""``zeroserve logger-agent``: the payload-logging sidecar as a process.

It follows the process conventions of ``docs/contracts.md`` through :mod:`zeroserve.process`:
``--http-port`` (or ``PORT``, else 8080; 0 binds a free port; a busy port is one line naming it
and the flag), ``--ready-file`` with ``{"pid", "http_port", "grpc_port"}`` once bound, JSON log
lines on stderr, and an ``(argv) -> int`` entry point with no import-time work.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from zeroserve.process.listen import PortInUse, bind_socket, default_http_port
from zeroserve.process.logs import configure_logging
from zeroserve.process.ready import write_ready_file

__all__ = ["agent"]

log = logging.getLogger(__name__)


def agent(argv: list[str]) -> int:
    """``zeroserve logger-agent --upstream URL [--http-port P] --log-url URL ...``.

    Args:
        argv: the command's arguments.

    Returns:
        The exit code: 0 after a clean stop, 2 when the port cannot be bound.
    """
    from zeroserve.logger.config import add_logger_arguments, config_from_args

    parser = argparse.ArgumentParser(
        prog="zeroserve logger-agent", description="payload-logging sidecar proxy"
    )
    parser.add_argument("--upstream", required=True, help="the model container's base URL")
    parser.add_argument("--http-port", "--http_port", "--port", dest="http_port", type=int, default=None)
    parser.add_argument("--host", default="0.0.0.0", help="interface to bind (default all)")
    parser.add_argument("--ready-file", dest="ready_file", type=Path, default=None)
    add_logger_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    if config is None:
        parser.error("--log-url is required")
    port = args.http_port if args.http_port is not None else default_http_port()
    try:
        sock = bind_socket(args.host, port, flag="--http-port")
    except PortInUse as exc:
        print(f"zeroserve logger-agent: {exc}", file=sys.stderr)
        return 2
    configure_logging()
    from zeroserve.logger.agent import create_agent_app

    started = asyncio.run(serve_app(create_agent_app(args.upstream, config), sock, args.ready_file))
    return 0 if started else 1


async def serve_app(app: Any, sock: socket.socket, ready_file: Path | None) -> bool:
    """Serve ``app`` with uvicorn on the bound ``sock`` until SIGTERM / SIGINT.

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
