"""``zeroserve router --seldon-json JSON``: run one SeldonDeployment predictor's orchestrator.

The graph is checked before the port is bound (exit 2 with the problem on stderr); a busy port exits 1
with one line. Components are called through ``httpx`` honouring ``HTTP_PROXY`` / ``NO_PROXY`` (the
local gateway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

from zeroserve.process.listen import PortInUse, bind_socket, default_http_port
from zeroserve.process.logs import configure_logging
from zeroserve.process.ready import write_ready_file
from zeroserve.router.bandit.store import BanditStore
from zeroserve.router.seldon.app import SeldonOrchestrator
from zeroserve.router.seldon.graph import SeldonGraph, SeldonGraphError, load_seldon_json
from zeroserve.router.seldon.grpc import start_grpc_server
from zeroserve.router.seldon.walk import GraphWalker

__all__ = ["run"]

log = logging.getLogger(__name__)


def run(
    text: str,
    *,
    host: str = "0.0.0.0",
    port: int | None = None,
    ready_file: Path | None = None,
    log_level: str = "info",
    state_dir: Path | None = None,
    grpc_port: int | None = None,
) -> int:
    """Serve the orchestrator until SIGTERM / SIGINT.

    Args:
        text: the ``--seldon-json`` document.
        host: the address to listen on.
        port: the HTTP port (``$PORT`` or 8080 when ``None``).
        ready_file: where to report readiness and the port.
        log_level: the log level.
        state_dir: where bandit units keep their arms; for a graph with bandits, by default
            ``$ZEROSERVE_HOME/router/<namespace>/<deployment>-<predictor>``.
        grpc_port: the port of Seldon's gRPC engine API (``seldon.protos.Seldon``; 0 picks a free
            one, reported in the ready file); ``None`` or negative: REST only.

    Returns:
        0 after a clean shutdown, 2 for an invalid graph, 1 when a port is taken.
    """
    try:
        graph = load_seldon_json(text)
    except SeldonGraphError as exc:
        print(f"invalid seldon graph: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(host, port if port is not None else default_http_port(), flag="--http-port")
    except PortInUse as exc:
        print(f"zeroserve router: {exc}", file=sys.stderr)
        return 1
    configure_logging(log_level)
    with (
        contextlib.closing(sock),
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=_loop_factory()) as runner,
    ):
        try:
            runner.run(_serve(graph, sock, ready_file, _state_dir(graph, state_dir), host, grpc_port))
        except PortInUse as exc:
            print(f"zeroserve router: {exc}", file=sys.stderr)
            return 1
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server with an event set once its socket listens."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed, as for the graph router (asyncio's loop answers late on pre-bound sockets)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _state_dir(graph: SeldonGraph, state_dir: Path | None) -> Path | None:
    if state_dir is not None or not any(u.bandit for u in graph.root.walk()):
        return state_dir
    home = Path(os.environ.get("ZEROSERVE_HOME") or Path.home() / ".zeroserve")
    return home / "router" / graph.namespace / f"{graph.deployment}-{graph.predictor}"


async def _serve(
    graph: SeldonGraph,
    sock: socket.socket,
    ready_file: Path | None,
    state_dir: Path | None,
    host: str = "0.0.0.0",
    grpc_port: int | None = None,
) -> None:
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=httpx.Timeout(None), limits=limits, trust_env=True) as http:
        store = BanditStore(state_dir) if state_dir is not None else None
        walker = GraphWalker(graph, http, store=store)
        app = SeldonOrchestrator(graph, http, walker)
        config = uvicorn.Config(
            app, http="httptools", lifespan="on", access_log=False, log_config=None, ws="none"
        )
        server = _Server(config)
        grpc_server, bound_grpc = None, -1
        if grpc_port is not None and grpc_port >= 0:
            grpc_server, bound_grpc = await start_grpc_server(app, host, grpc_port)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait([serving, listening], return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if server.started:
            port = sock.getsockname()[1]
            log.info(
                "seldon orchestrator listening",
                extra={"port": port, "grpc_port": bound_grpc, "deployment": graph.deployment},
            )
            if ready_file is not None:
                write_ready_file(ready_file, port, bound_grpc)
        try:
            await serving
        finally:
            if grpc_server is not None:
                await grpc_server.stop(5)
            await walker.close()
