"""``ModelServer``: loads models, then serves them over HTTP (and gRPC) until told to stop.

Order (docs/contracts.md): load every model, bind HTTP, bind gRPC, write the ready file. So a TCP
probe on the HTTP port is a readiness probe. ``start(models)`` blocks like KServe's;
``running(models)`` is the async context manager tests use::

    async with ModelServer(ServerSettings(http_port=0, grpc_port=0)).running([model]) as handle:
        httpx.get(f"{handle.url}/v2/health/ready")

With ``workers > 1`` the HTTP socket is bound once in the main process and shared by forked worker
processes (the kernel spreads connections); gRPC, the ready file and signal handling stay in the main
process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from zeroserve.process.listen import bind_socket
from zeroserve.process.logs import configure_logging, new_request_id_var
from zeroserve.process.ready import write_ready_file
from zeroserve.servers.dataplane import DataPlane
from zeroserve.servers.metrics import ServerMetrics
from zeroserve.servers.model import Model, PredictorClient
from zeroserve.servers.repository import ModelFactory, ModelRepository
from zeroserve.servers.rest.app import RequestLimits, create_rest_app
from zeroserve.servers.settings import ServerSettings
from zeroserve.servers.transformer.config import PredictorConfig

__all__ = ["ModelServer", "ServerHandle", "new_event_loop", "uvicorn_server"]

_log = logging.getLogger(__name__)

PredictorClientFactory = Callable[[PredictorConfig], PredictorClient]


@dataclass
class ServerHandle:
    """A running server, as seen by the code that started it."""

    http_port: int
    """The bound HTTP port (the real one when 0 was asked for)."""
    grpc_port: int | None
    """The bound gRPC port, ``None`` when gRPC is disabled."""
    dataplane: DataPlane
    metrics: ServerMetrics
    request_id: ContextVar[str | None]
    """The server's request id variable (log formatters read it)."""
    host: str = "127.0.0.1"
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        """Base URL of the HTTP server, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        """``host:port`` of the gRPC server."""
        return f"{self.host}:{self.grpc_port}"

    def stop(self) -> None:
        """Ask :meth:`ModelServer.serve` to shut down (as SIGTERM does)."""
        self.stop_event.set()


def uvicorn_server(app: Any, settings: ServerSettings) -> Any:
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn's server without its own signal capture: ``ModelServer`` owns the signals."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    from zeroserve.servers.rest.one_write import OneWriteHttpToolsProtocol

    config = uvicorn.Config(
        app,
        loop="none",
        http=OneWriteHttpToolsProtocol,  # httptools; each response's head and body in one send
        lifespan="auto",
        log_config=None,
        access_log=False,
        server_header=False,
        date_header=False,
        timeout_keep_alive=settings.timeout_keep_alive,
        timeout_graceful_shutdown=int(settings.graceful_shutdown_seconds),
    )
    return _Server(config)


def new_event_loop(kind: str = "asyncio") -> asyncio.AbstractEventLoop:
    """A new event loop of the kind ``ServerSettings.event_loop`` names (asyncio's without uvloop)."""
    if kind == "uvloop":
        try:
            import uvloop
        except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
            return asyncio.new_event_loop()
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class ModelServer:
    """Serves models over V1/V2 REST and V2 gRPC (KServe's ``ModelServer``).

    Args:
        settings: server options; defaults read from ``ZEROSERVE_*`` / ``PORT`` when omitted.
        http_port: KServe-style override of ``settings.http_port``.
        grpc_port: KServe-style override of ``settings.grpc_port``.
        workers: KServe-style override of ``settings.workers``.
        enable_grpc: KServe-style switch; ``False`` disables gRPC.
        registry: the Prometheus registry; a fresh one per server when omitted.
        model_factory: builds models for the repository extension's ``load`` of unknown names.
        predictor_client_factory: builds the predictor client of transformer models; defaults to
            :func:`zeroserve.servers.transformer.client.create_predictor_client`.
    """

    def __init__(
        self,
        settings: ServerSettings | None = None,
        *,
        http_port: int | None = None,
        grpc_port: int | None = None,
        workers: int | None = None,
        enable_grpc: bool | None = None,
        registry: CollectorRegistry | None = None,
        model_factory: ModelFactory | None = None,
        predictor_client_factory: PredictorClientFactory | None = None,
    ) -> None:
        self._flags_from_argv = settings is None
        settings = settings or ServerSettings()
        updates: dict[str, Any] = {}
        if http_port is not None:
            updates["http_port"] = http_port
        if grpc_port is not None:
            updates["grpc_port"] = grpc_port
        if workers is not None:
            updates["workers"] = workers
        if enable_grpc is False:
            updates["grpc_port"] = -1
        self.settings = settings.model_copy(update=updates) if updates else settings
        self._explicit = frozenset(updates)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.metrics = ServerMetrics(self.registry)
        self.request_id: ContextVar[str | None] = new_request_id_var()
        self.repository = ModelRepository(
            self.settings.models_dir,
            model_factory,
            self.metrics.observe_load,
            memory_budget=self.settings.memory_budget,
        )
        self.dataplane = DataPlane(
            self.repository,
            enable_model_repository=self.settings.enable_model_repository,
            batching=self.settings.batch_config(),
            observe_batch=self.metrics.observe_batch,
            phase_timers=self.metrics.phase_timers,
        )
        self._predictor_client_factory = predictor_client_factory
        self._clients: list[PredictorClient] = []
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def register_model(self, model: Model) -> None:
        """Serve an already loaded model (KServe's ``register_model``)."""
        self._attach_predictor(model)
        self.repository.update(model)

    def _attach_predictor(self, model: Model) -> None:
        if model.predictor_config is None or model.predictor_client is not None:
            return
        factory = self._predictor_client_factory
        if factory is None:
            from zeroserve.servers.transformer.client import create_predictor_client

            factory = create_predictor_client
        client = factory(model.predictor_config)
        model.predictor_client = client
        self._clients.append(client)

    async def load_models(self, models: Sequence[Model]) -> None:
        """Load (when not ready) and register every model; the first failure raises.

        Afterwards (unless ``freeze_gc_after_load`` is off) everything allocated so far (the models,
        the frameworks) is moved out of the garbage collector's reach (``gc.freeze``): full
        collections then no longer walk the model on the request path, and forked workers keep
        sharing its pages.
        """
        for model in models:
            self._attach_predictor(model)
            await self.repository.load_model(model)
        if self.settings.freeze_gc_after_load:
            gc.collect()
            gc.freeze()

    def create_application(self) -> Any:
        """The ASGI app, wrapped with the payload logger when ``log_url`` is set."""
        s = self.settings
        limits = RequestLimits(
            max_body_size=s.max_request_size,
            max_json_depth=s.max_json_depth,
            read_timeout=s.request_read_timeout,
        )
        app: Any = create_rest_app(
            self.dataplane, self.metrics, self.request_id, limits, s.access_log, s.enable_model_repository
        )
        for model in self.repository.get_models():  # a runtime's own REST paths (TFServing's)
            app = model.wrap_rest_app(app) if hasattr(model, "wrap_rest_app") else app
        if s.log_url:
            app = self._wrap_payload_logger(app)
        return app

    def _wrap_payload_logger(self, app: Any) -> Any:
        s = self.settings
        try:
            from zeroserve.logger.config import LoggerConfig, LogMode
            from zeroserve.logger.middleware import PayloadLoggerMiddleware
        except ImportError as exc:
            raise RuntimeError(
                f"log_url is set ({s.log_url}) but the payload logger is unavailable: "
                f"zeroserve.logger.middleware could not be imported ({exc})"
            ) from exc
        config = LoggerConfig(
            url=str(s.log_url),
            mode=LogMode(s.log_mode),
            metadata_headers=tuple(s.log_metadata_headers),
            inference_service=s.inference_service,
            namespace=s.namespace,
            component=s.component,
            endpoint=s.endpoint,
        )
        middleware = PayloadLoggerMiddleware(app, config, registry=self.registry)
        self._closers.append(middleware.aclose)
        return middleware

    async def aclose(self) -> None:
        """Close predictor clients and the payload logger, and stop every model (``Model.stop``)."""
        clients, closers = self._clients, self._closers
        self._clients, self._closers = [], []
        for client in clients:
            await client.aclose()
        for close in closers:
            await close()
        for model in self.repository.get_models():
            model.stop()

    # -- async API --------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def running(self, models: Sequence[Model]) -> AsyncIterator[ServerHandle]:
        """Load ``models``, bind the ports, and serve until the block exits.

        Args:
            models: the models to serve (loaded here when not ready yet).

        Yields:
            A :class:`ServerHandle` with the bound ports.
        """
        s = self.settings
        await self.load_models(models)
        watcher = None
        if s.model_config_file is not None:  # multi-model serving: TrainedModels from the model config
            from zeroserve.servers.storage import ModelStorage

            storage = ModelStorage()
            watcher = asyncio.create_task(
                self.repository.watch_model_config(s.model_config_file, storage.download)
            )
        app = self.create_application()
        sock = bind_socket(s.host, s.http_port, flag="--http_port")
        if s.grpc_port > 0:
            # Fail fast, before HTTP serves, with the one-line message (grpc's own failure would log
            # a C-core error line first); grpc binds the port itself right after.
            try:
                bind_socket(s.host, s.grpc_port, flag="--grpc_port").close()
            except OSError:
                sock.close()
                raise
        http_port = sock.getsockname()[1]
        server = uvicorn_server(app, s)
        serve_task = asyncio.create_task(server.serve(sockets=[sock]))
        grpc_server = None
        try:
            while not server.started:
                if serve_task.done():
                    serve_task.result()
                    raise RuntimeError("HTTP server exited during start-up")
                await asyncio.sleep(0.002)
            grpc_port: int | None = None
            if s.grpc_port >= 0:
                from zeroserve.servers.grpc.server import start_grpc_server

                grpc_server, grpc_port = await start_grpc_server(
                    self.dataplane,
                    self.metrics,
                    self.request_id,
                    s.host,
                    s.grpc_port,
                    s.grpc_max_message_length,
                    enable_model_repository=s.enable_model_repository,
                )
            handle = ServerHandle(
                http_port, grpc_port, self.dataplane, self.metrics, self.request_id, host=_client_host(s.host)
            )
            if s.ready_file is not None:
                write_ready_file(s.ready_file, http_port, grpc_port)
            _log.info(
                "serving",
                extra={
                    "http_port": http_port,
                    "grpc_port": grpc_port,
                    "models": self.dataplane.model_names(),
                },
            )
            yield handle
        finally:
            self.dataplane.live = False
            if watcher is not None:
                watcher.cancel()
            if grpc_server is not None:
                await grpc_server.stop(s.graceful_shutdown_seconds)
            server.should_exit = True
            await serve_task
            await self.aclose()

    async def serve(self, models: Sequence[Model], stop: asyncio.Event | None = None) -> None:
        """Serve until SIGTERM / SIGINT (or ``stop`` is set), then shut down gracefully."""
        if self.settings.configure_logging:
            configure_logging(self.settings.log_level, self.request_id)
        async with self.running(models) as handle:
            if stop is not None:
                handle.stop_event = stop
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, handle.stop)
            await handle.stop_event.wait()
            _log.info("shutting down")

    # -- blocking API -----------------------------------------------------------------------------

    def start(self, models: Sequence[Model], argv: Sequence[str] | None = None) -> None:
        """Serve ``models`` in this process until SIGTERM / SIGINT (KServe's ``start``).

        A server built without ``settings`` takes server flags from the command line first, as
        KServe's does (``python model.py --http_port 9000 --grpc_port 9001``; our ``--http-port``
        spelling too); arguments given to the constructor win over them, the environment loses.

        Args:
            models: the models to serve.
            argv: the command line to read; ``sys.argv[1:]`` when omitted.
        """
        if self._flags_from_argv:
            from zeroserve.servers.cli import server_flags

            given = server_flags(list(sys.argv[1:] if argv is None else argv))
            late = {k: v for k, v in given.items() if k not in self._explicit and k not in _BUILT_AT_INIT}
            if late:
                self.settings = self.settings.model_copy(update=late)
        if self.settings.workers > 1:
            from zeroserve.servers.workers import run_workers

            run_workers(self, models)
            return
        with asyncio.Runner(
            loop_factory=functools.partial(new_event_loop, self.settings.event_loop)
        ) as runner:
            runner.run(self.serve(models))


_BUILT_AT_INIT = frozenset({"models_dir", "enable_model_repository"})
"""Settings the constructor has already used (the repository, the data plane): not read by ``start``."""


def _client_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
