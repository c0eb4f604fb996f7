"""``zeroserve router``: run one InferenceGraph router.

Usage::

    zeroserve router --graph-json '<InferenceGraph spec or object JSON>' [--graph-file PATH]
                     [--http-port N] [--host ADDR] [--namespace NS] [--state-dir DIR]
                     [--propagate-headers 'Authorization,Test-Header-*'] [--seed N]
                     [--ready-file PATH] [--log-level info] [--http-client aiohttp|httpx]

KServe's router flags ``--inferencegraph-name`` (recorded as the graph's name) and ``--enable-tls`` /
``--enable-auth`` (refused: not supported) are recognised. The graph is planned before the port is
bound, so an invalid graph exits with status 2 and every problem on stderr; a busy port exits with
status 1 and one line naming it and ``--http-port``. The process layer (:mod:`zeroserve.process`)
binds the socket, writes the JSON log lines and the ready file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

import aiohttp
import httpx
import uvicorn
from prometheus_client import CollectorRegistry

from zeroserve.process.listen import PortInUse, bind_socket
from zeroserve.process.logs import configure_logging
from zeroserve.process.ready import write_ready_file
from zeroserve.router.app import RouterApp, create_app
from zeroserve.router.errors import GraphPlanError
from zeroserve.router.plan import ExecutableGraph
from zeroserve.router.planner import load_graph_json
from zeroserve.router.proxy_transport import ProxyFromEnvironmentTransport
from zeroserve.router.settings import RouterSettings

__all__ = ["main"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server with an event set once its sockets listen; ``/readyz`` fails from SIGTERM on."""

    def __init__(self, config: uvicorn.Config, app: RouterApp) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()
        self.router_app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.router_app.shutting_down = True
        super().handle_exit(sig, frame)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.listening.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Shut down gracefully on SIGTERM / SIGINT and return, instead of re-raising the signal."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zeroserve router", description="Run an InferenceGraph router.")
    parser.add_argument(
        "--graph-json", "--graph_json", dest="graph_json", help="the graph spec or object, as JSON"
    )
    parser.add_argument("--graph-file", dest="graph_file", type=Path, help="read the graph JSON from a file")
    parser.add_argument(
        "--seldon-json", dest="seldon_json", help="run a SeldonDeployment predictor's orchestrator instead"
    )
    parser.add_argument(
        "--http-port", "--http_port", dest="http_port", type=int, help="HTTP port (default $PORT or 8080)"
    )
    parser.add_argument(
        "--grpc-port",
        "--grpc_port",
        dest="grpc_port",
        type=int,
        help="Seldon's gRPC engine API port with --seldon-json (0: a free one); else ignored (HTTP only)",
    )
    parser.add_argument("--host", dest="host")
    parser.add_argument("--namespace", dest="namespace", help="namespace for serviceName steps")
    parser.add_argument("--state-dir", dest="state_dir", type=Path, help="folder for bandit state")
    parser.add_argument(
        "--propagate-headers", dest="propagate_headers", help="comma-separated header regexes"
    )
    parser.add_argument("--seed", dest="seed", type=int, help="seed of the Splitter's random source")
    parser.add_argument("--ready-file", dest="ready_file", type=Path)
    parser.add_argument("--log-level", dest="log_level")
    parser.add_argument("--http-client", dest="http_client", choices=["aiohttp", "httpx"], help="step client")
    parser.add_argument("--inferencegraph-name", dest="graph_name", help="KServe's flag: the graph's name")
    parser.add_argument("--enable-tls", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--enable-auth", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: list[str]) -> int:
    """Run the router until SIGTERM / SIGINT.

    Args:
        argv: the arguments after ``router``.

    Returns:
        0 after a clean shutdown, 2 for bad arguments or an invalid graph, 1 when the port is taken.
    """
    args = _parser().parse_args(argv)
    if args.seldon_json is not None:
        from zeroserve.router.seldon.serve import run

        return run(
            args.seldon_json,
            host=args.host or "0.0.0.0",
            port=args.http_port,
            ready_file=args.ready_file,
            log_level=args.log_level or "info",
            state_dir=args.state_dir,
            grpc_port=args.grpc_port,
        )
    overrides = {
        k: v
        for k, v in vars(args).items()
        if v is not None and k not in ("graph_file", "grpc_port", "graph_name", "seldon_json")
    }
    overrides.pop("enable_tls")
    overrides.pop("enable_auth")
    settings = RouterSettings(**overrides)
    if args.enable_tls or args.enable_auth:
        print("zeroserve router: --enable-tls and --enable-auth are not supported", file=sys.stderr)
        return 2
    text = args.graph_file.read_text() if args.graph_file else settings.graph_json
    if not text:
        print("zeroserve router: --graph-json or --graph-file is required", file=sys.stderr)
        return 2
    try:
        graph = load_graph_json(text, namespace=settings.namespace)
    except GraphPlanError as exc:
        for issue in exc.issues:
            print(f"invalid graph: {issue}", file=sys.stderr)
        return 2
    try:
        sock = bind_socket(settings.host, settings.http_port, flag="--http-port")
    except PortInUse as exc:
        print(f"zeroserve router: {exc}", file=sys.stderr)
        return 1
    configure_logging(settings.log_level)
    if args.graph_name and not graph.name:
        graph = replace(graph, name=args.graph_name)
    for warning in graph.warnings:
        log.warning("graph accepted with a warning", extra={"path": warning.path, "warning": warning.message})
    with (
        contextlib.closing(sock),
        contextlib.suppress(KeyboardInterrupt),
        asyncio.Runner(loop_factory=_loop_factory()) as runner,
    ):
        runner.run(_serve(settings, graph, sock))
    return 0


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed: asyncio's own loop answers ~40 ms late on pre-bound sockets."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


async def _serve(settings: RouterSettings, graph: ExecutableGraph, sock: socket.socket) -> None:
    port = sock.getsockname()[1]
    async with _step_client(settings) as http:
        app = create_app(
            graph,
            http=http,
            registry=CollectorRegistry(),
            propagate_headers=settings.header_patterns(),
            state_dir=_state_dir(settings, graph),
            seed=settings.seed,
        )
        for pattern in app.propagator.invalid:
            log.warning("ignoring an invalid header pattern", extra={"pattern": pattern})
        config = uvicorn.Config(
            app,
            http="httptools",
            lifespan="on",
            access_log=False,
            log_config=None,
            timeout_keep_alive=int(graph.idle_timeout or 180),
            ws="none",
        )
        server = _Server(config, app)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait([serving, listening], return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if server.started:
            log.info("router listening", extra={"port": port, "graph": graph.name, "nodes": len(graph.nodes)})
            if settings.ready_file is not None:
                write_ready_file(settings.ready_file, port)
        await serving


def _step_client(settings: RouterSettings) -> contextlib.AbstractAsyncContextManager[Any]:
    """The pooled step client; both honour ``HTTP_PROXY`` / ``NO_PROXY`` (the local gateway)."""
    if settings.http_client == "httpx":
        limits = httpx.Limits(
            max_connections=settings.max_connections, max_keepalive_connections=settings.max_connections
        )
        return ProxyFromEnvironmentTransport(limits=limits)
    connector = aiohttp.TCPConnector(limit=settings.max_connections, limit_per_host=0)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=None), trust_env=True
    )


def _state_dir(settings: RouterSettings, graph: ExecutableGraph) -> Path | None:
    """``--state-dir``; for a graph with bandits and no flag, ``$ZEROSERVE_HOME/router/<ns>/<graph>``."""
    if settings.state_dir is not None or not any(node.bandit for node in graph.nodes.values()):
        return settings.state_dir
    home = Path(os.environ.get("ZEROSERVE_HOME") or Path.home() / ".zeroserve")
    return home / "router" / graph.namespace / (graph.name or "graph")
