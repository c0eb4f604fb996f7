"""``workers > 1``: forked HTTP worker processes sharing one listening socket.

The main process loads the models (so workers share the loaded memory copy-on-write), binds the
HTTP socket, forks the workers, then runs gRPC, writes the ready file and waits. SIGTERM / SIGINT
(or any worker dying) stops everything: workers get SIGTERM and finish in-flight requests.
Each worker keeps its own metrics registry; ``/metrics`` shows the worker that answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from zeroserve.process.listen import bind_socket
from zeroserve.process.logs import configure_logging
from zeroserve.process.ready import write_ready_file
from zeroserve.servers.model import Model

if TYPE_CHECKING:
    from zeroserve.servers.model_server import ModelServer

__all__ = ["run_workers"]

_log = logging.getLogger(__name__)


def run_workers(server: ModelServer, models: Sequence[Model]) -> None:
    """Serve ``models`` with ``server.settings.workers`` HTTP processes until SIGTERM / SIGINT.

    Args:
        server: the configured server (its settings, repository and metrics).
        models: the models to load before forking.
    """
    from zeroserve.servers.model_server import new_event_loop

    s = server.settings
    new_loop = functools.partial(new_event_loop, s.event_loop)
    if s.configure_logging:
        configure_logging(s.log_level, server.request_id)
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(server.load_models(models))
    sock = bind_socket(s.host, s.http_port, flag="--http_port")
    if s.grpc_port > 0:  # fail fast with the one-line message, before any worker forks
        try:
            bind_socket(s.host, s.grpc_port, flag="--grpc_port").close()
        except OSError:
            sock.close()
            raise
    children: list[int] = []
    for _ in range(s.workers):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                with asyncio.Runner(loop_factory=new_loop) as runner:
                    runner.run(_worker(server, sock))
            except BaseException:
                _log.exception("worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(_supervise(server, sock, children))
    finally:
        _stop_children(children)
        sock.close()


async def _worker(server: ModelServer, sock: socket.socket) -> None:
    from zeroserve.servers.model_server import uvicorn_server

    app = server.create_application()
    http = uvicorn_server(app, server.settings)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        http.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await http.serve(sockets=[sock])
    finally:
        await server.aclose()


async def _supervise(server: ModelServer, sock: socket.socket, children: list[int]) -> None:
    s = server.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # A worker dying stops the server (the event loop owns SIGCHLD handling, so use signal.signal).
    signal.signal(signal.SIGCHLD, lambda *_: loop.call_soon_threadsafe(stop.set))
    grpc_server = None
    grpc_port: int | None = None
    if s.grpc_port >= 0:
        from zeroserve.servers.grpc.server import start_grpc_server

        grpc_server, grpc_port = await start_grpc_server(
            server.dataplane,
            server.metrics,
            server.request_id,
            s.host,
            s.grpc_port,
            s.grpc_max_message_length,
            enable_model_repository=s.enable_model_repository,
        )
    http_port = sock.getsockname()[1]
    if s.ready_file is not None:
        write_ready_file(s.ready_file, http_port, grpc_port)
    _log.info(
        "serving with %d workers", len(children), extra={"http_port": http_port, "grpc_port": grpc_port}
    )
    try:
        await stop.wait()
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _log.info("shutting down")
    server.dataplane.live = False
    if grpc_server is not None:
        await grpc_server.stop(s.graceful_shutdown_seconds)


def _stop_children(children: list[int]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
