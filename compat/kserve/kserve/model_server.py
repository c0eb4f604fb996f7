"""``kserve.model_server``: KServe's ``parser``, ``args``, ``app`` and ``ModelServer`` on zeroserve.

As in KServe, importing this module parses the process's command line with :data:`parser`
(``parse_known_args``, so a user's own flags pass): ``ModelServer()`` takes its defaults from
:data:`args`, so ``python model.py --http_port 9000 --grpc_port 9001`` binds those ports. Flags not
given fall back to zeroserve's settings (``ZEROSERVE_*`` environment, ``PORT``, then 8080 / 8081);
the bind address is KServe's (all interfaces) unless ``ZEROSERVE_HOST`` says otherwise.

:data:`app` is a FastAPI app, as KServe's: middleware (CORS) and routes added to it serve on the
HTTP port in front of zeroserve's data plane, which answers every path the app does not route. An
untouched app costs nothing: the data plane is then served directly.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send

from kserve.errors import NoModelReady
from kserve.model_repository import ModelRepository
from kserve.predictor_config import PredictorConfig, set_predictor_config
from kserve.utils.utils import strtobool
from zeroserve.servers.errors import ModelLoadError
from zeroserve.servers.model import Model as _ZeroserveModel
from zeroserve.servers.model_server import ModelServer as _ZeroserveServer
from zeroserve.servers.settings import ServerSettings

__all__ = ["ModelServer", "app", "args", "parser"]

_log = logging.getLogger(__name__)

parser = argparse.ArgumentParser(
    add_help=False, allow_abbrev=False, formatter_class=argparse.ArgumentDefaultsHelpFormatter
)
"""KServe's model server flags; extend it with ``argparse.ArgumentParser(parents=[parser])``."""

# Server flags: what ModelServer() reads. A port left out falls back to zeroserve's settings.
parser.add_argument("--http_port", type=int, default=None, help="HTTP port (default: PORT, else 8080)")
parser.add_argument("--grpc_port", type=int, default=None, help="gRPC port (default 8081)")
parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes")
parser.add_argument("--max_threads", type=int, default=4, help="threads of the gRPC executor")
parser.add_argument("--max_asyncio_workers", type=int, default=None, help="accepted; no effect here")
parser.add_argument("--enable_grpc", type=strtobool, default=True, help="serve V2 gRPC too")
parser.add_argument("--enable_docs_url", type=strtobool, default=False, help="serve Swagger UI at /docs")
parser.add_argument("--enable_latency_logging", type=strtobool, default=True, help="accepted; no effect here")
parser.add_argument("--configure_logging", type=strtobool, default=True, help="install the log handler")
parser.add_argument("--log_config_file", type=str, default=None, help="a logging dictConfig (.json/.yaml)")
parser.add_argument("--access_log_format", type=str, default=None, help="accepted; no effect here")
parser.add_argument(
    "--event-loop",
    dest="event_loop",
    type=str,
    default="auto",
    choices=["auto", "asyncio", "uvloop"],
    help="event loop of the server (auto: asyncio)",
)
parser.add_argument(
    "--timeout-keep-alive", dest="timeout_keep_alive", type=int, default=65, help="idle keep-alive seconds"
)
# Model flags: read by the user's code (model_name) and by ModelServer (the predictor).
parser.add_argument("--model_name", type=str, default="model", help="the model's name on the wire")
parser.add_argument("--predictor_host", type=str, default=None, help="host[:port] of the predictor")
parser.add_argument(
    "--protocol", type=str, default="v1", choices=["v1", "v2", "grpc-v2"], help="old --predictor_protocol"
)
parser.add_argument(
    "--predictor_protocol",
    type=str,
    default="v1",
    choices=["v1", "v2", "grpc-v2"],
    help="protocol spoken to the predictor",
)
parser.add_argument("--predictor_use_ssl", type=strtobool, default=False, help="reach the predictor over TLS")
parser.add_argument(
    "--predictor_request_timeout_seconds", type=int, default=600, help="timeout of one predictor request"
)
parser.add_argument(
    "--grpc_max_send_message_length", type=int, default=8 * 1024 * 1024, help="largest gRPC message sent"
)
parser.add_argument(
    "--grpc_max_receive_message_length",
    type=int,
    default=8 * 1024 * 1024,
    help="largest gRPC message received",
)
parser.add_argument("--predictor_request_retries", type=int, default=0, help="retries of predictor requests")
parser.add_argument("--enable_predictor_health_check", action="store_true", help="accepted; no effect here")
parser.add_argument(
    "--ssl_certfile", type=str, default=os.environ.get("KSERVE_TLS_CERT_FILE"), help="not supported here"
)
parser.add_argument(
    "--ssl_keyfile", type=str, default=os.environ.get("KSERVE_TLS_KEY_FILE"), help="not supported here"
)

args, _ = parser.parse_known_args()
"""The command line as :data:`parser` reads it, parsed at import (as KServe does)."""

app = FastAPI(
    title="KServe ModelServer",
    docs_url="/docs" if args.enable_docs_url else None,
    redoc_url=None,
)
"""The FastAPI app users add middleware and routes to; zeroserve's data plane answers the rest."""

_BUILTIN_PATHS = frozenset({"/openapi.json", "/docs", "/docs/oauth2-redirect"})


def _app_is_customised(fastapi_app: FastAPI) -> bool:
    routes = [r for r in fastapi_app.routes if getattr(r, "path", None) not in _BUILTIN_PATHS]
    return bool(fastapi_app.user_middleware or routes or fastapi_app.docs_url)


class _Dispatch:
    """Inside the user's middleware: the user's routes (and lifespan) to FastAPI, the rest to zeroserve.

    So a request for the data plane passes the user's middleware (CORS) and nothing else of FastAPI
    (no exception middleware, no routing): KServe's custom model with CORS went from 4.0k to
    4.7-5.3k req/s (wrk, 8 connections, 2 shared cores) over routing it through FastAPI.
    """

    def __init__(self, inner: ASGIApp, fastapi_rest: ASGIApp, routes: list[BaseRoute]) -> None:
        self.inner = inner
        self.fastapi_rest = fastapi_rest
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or any(r.matches(scope)[0] is not Match.NONE for r in self.routes):
            await self.fastapi_rest(scope, receive, send)
        else:
            await self.inner(scope, receive, send)


def _in_front(fastapi_app: FastAPI, inner: ASGIApp) -> FastAPI:
    """``fastapi_app`` serving its own routes, with zeroserve's ``inner`` answering every other path.

    The data plane is spliced in right inside the user's middleware (FastAPI's stack is: error and
    limit middleware, the user's, then exception handling and routing). Should FastAPI build its stack
    differently, the router's fallback (``router.default``) still reaches ``inner``.
    """
    fastapi_app.router.default = inner
    stack = fastapi_app.build_middleware_stack()
    parent: Any = None
    node: Any = stack
    while node is not None and not isinstance(node, ExceptionMiddleware):
        parent, node = node, getattr(node, "app", None)
    if parent is not None and node is not None:
        parent.app = _Dispatch(inner, node, fastapi_app.router.routes)
    fastapi_app.middleware_stack = stack
    return fastapi_app


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


class ModelServer(_ZeroserveServer):
    """KServe's ``ModelServer``: ``ModelServer().start([model])`` serves V1, V2 REST and V2 gRPC.

    Every argument defaults to the flag of the same name in :data:`args`.

    Args:
        http_port: HTTP port (``--http_port``; else ``PORT`` / 8080).
        grpc_port: gRPC port (``--grpc_port``; else 8081).
        workers: HTTP worker processes (``--workers``).
        max_threads: gRPC executor threads (``--max_threads``).
        max_asyncio_workers: accepted for KServe compatibility.
        registered_models: a :class:`~kserve.model_repository.ModelRepository` whose models are served.
        enable_grpc: serve V2 gRPC (``--enable_grpc``).
        enable_docs_url: serve Swagger UI at ``/docs`` (``--enable_docs_url``).
        enable_latency_logging: accepted for KServe compatibility.
        access_log_format: accepted for KServe compatibility.
        event_loop: ``auto``, ``asyncio`` or ``uvloop`` (``--event-loop``).
        timeout_keep_alive: idle keep-alive seconds (``--timeout-keep-alive``).
        grace_period: seconds in-flight requests may finish after SIGTERM.
        predictor_config: the server-wide predictor of transformers (else the ``--predictor_*`` flags).
        ssl_certfile: HTTPS is not served here; giving it (or ``KSERVE_TLS_CERT_FILE``) is an error.
        ssl_keyfile: as ``ssl_certfile``.
        settings: zeroserve's settings to start from (``ZEROSERVE_*`` environment when omitted).
        registry: the Prometheus registry (a fresh one when omitted).

    Raises:
        ValueError: TLS was asked for.
    """

    def __init__(
        self,
        http_port: int | None = None,
        grpc_port: int | None = None,
        workers: int | None = None,
        max_threads: int | None = None,
        max_asyncio_workers: int | None = None,
        registered_models: ModelRepository | None = None,
        enable_grpc: bool | None = None,
        enable_docs_url: bool | None = None,
        enable_latency_logging: bool | None = None,
        access_log_format: str | None = None,
        event_loop: str | None = None,
        timeout_keep_alive: int | None = None,
        grace_period: int = 30,
        predictor_config: PredictorConfig | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        *,
        settings: ServerSettings | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if _pick(ssl_certfile, args.ssl_certfile) or _pick(ssl_keyfile, args.ssl_keyfile):
            raise ValueError(
                "HTTPS (--ssl_certfile / --ssl_keyfile, KSERVE_TLS_CERT_FILE / KSERVE_TLS_KEY_FILE) is not "
                "served by zeroserve's kserve package: terminate TLS at the gateway"
            )
        base = settings or ServerSettings()
        loop = _pick(event_loop, args.event_loop)
        fields: dict[str, Any] = {
            "workers": _pick(workers, args.workers),
            "grpc_max_threads": _pick(max_threads, args.max_threads),
            "timeout_keep_alive": _pick(timeout_keep_alive, args.timeout_keep_alive),
            "graceful_shutdown_seconds": float(grace_period),
            "event_loop": "asyncio" if loop == "auto" else loop,
            "configure_logging": bool(args.configure_logging),
            "enable_docs_url": bool(_pick(enable_docs_url, args.enable_docs_url)),
            "grpc_max_message_length": max(
                args.grpc_max_send_message_length, args.grpc_max_receive_message_length
            ),
        }
        port = _pick(http_port, args.http_port)
        if port is not None:
            fields["http_port"] = port
        port = _pick(grpc_port, args.grpc_port)
        if port is not None:
            fields["grpc_port"] = port
        if not _pick(enable_grpc, args.enable_grpc):
            fields["grpc_port"] = -1
        super().__init__(base.model_copy(update=fields), registry=registry)
        self.registered_models = registered_models if registered_models is not None else ModelRepository()
        self.http_port = self.settings.http_port
        self.grpc_port = self.settings.grpc_port
        self.workers = self.settings.workers
        self.enable_grpc = self.settings.grpc_port >= 0
        self.max_threads = self.settings.grpc_max_threads
        if predictor_config is None and args.predictor_host:
            # --protocol is the deprecated spelling KServe's docs still show: honoured when
            # --predictor_protocol is left at its default.
            protocol = args.predictor_protocol if args.predictor_protocol != "v1" else args.protocol
            predictor_config = PredictorConfig(
                args.predictor_host,
                protocol,
                args.predictor_use_ssl,
                args.predictor_request_timeout_seconds,
                args.predictor_request_retries,
                args.enable_predictor_health_check,
            )
        set_predictor_config(predictor_config)

    def register_model(self, model: _ZeroserveModel, name: str | None = None) -> None:
        """Serve ``model`` (KServe's ``register_model``; ``name`` registers it under another name).

        Raises:
            ValueError: the model has no name.
        """
        if not model.name:
            raise ValueError("Failed to register model, model.name must be provided.")
        if name and name != model.name:
            raise ValueError(f"registering model {model.name} under another name ({name}) is not supported")
        super().register_model(model)

    def create_application(self) -> Any:
        """zeroserve's data plane app, behind :data:`app` when the user added middleware or routes."""
        inner = super().create_application()
        if not _app_is_customised(app):
            return inner
        return _in_front(app, inner)

    def start(self, models: Sequence[_ZeroserveModel], argv: Sequence[str] | None = None) -> None:
        """Serve ``models`` (and the registered ones) until SIGTERM / SIGINT, as KServe's ``start``.

        Models that are not ready are loaded first; as in KServe, giving models of which none becomes
        ready is an error. The command line was read at import (:data:`args`), so ``argv`` is unused.

        Raises:
            NoModelReady: none of ``models`` is ready after loading.
            RuntimeError: ``models`` is not a list.
        """
        if not isinstance(models, list):
            raise RuntimeError("Unknown model collection type")
        every = [*models, *(m for m in self.registered_models.get_models().values() if m not in models)]
        super().start(every, argv)

    async def load_models(self, models: Sequence[_ZeroserveModel]) -> None:
        """Load and register ``models``; a model that fails to load is skipped while another is ready.

        Raises:
            NoModelReady: models were given and none is ready.
        """
        ready: list[_ZeroserveModel] = []
        failures: list[str] = []
        for model in models:
            try:
                await super().load_models([model])
            except ModelLoadError as exc:  # KServe skips a model that is not ready
                failures.append(f"{model.name}: {exc}")
                continue
            if model.ready:
                ready.append(model)
        for failure in failures:
            _log.error("model not loaded: %s", failure)
        if models and not ready:
            raise NoModelReady(list(models), "; ".join(failures) or None)
