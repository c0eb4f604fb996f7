"""Running the API server: storage, registry and ASGI app on uvicorn, in-process or in a thread.

:class:`ApiServer` is the embeddable unit (``await start()`` / ``await stop()`` or ``async with``);
:func:`run_in_thread` runs one on its own event loop for synchronous callers such as tests driving
``kubectl`` and the ``kubernetes`` client.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import os
import secrets
import socket
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from zeroserve.local.apiserver import errors
from zeroserve.local.apiserver.app import create_app
from zeroserve.local.apiserver.certs import ServingCertificate, ensure_serving_certificate
from zeroserve.local.apiserver.collector import GarbageCollector
from zeroserve.local.apiserver.decoding import BodyLimits
from zeroserve.local.apiserver.registry import CRD_KEY, NAMESPACE_KEY, Registry
from zeroserve.local.apiserver.settings import ApiServerSettings
from zeroserve.local.apiserver.storage import Storage
from zeroserve.local.apiserver.tokens import TokenIssuer, ensure_default_service_accounts, load_or_create_key
from zeroserve.local.apiserver.watch import WatchHub
from zeroserve.local.apiserver.writes import create_object, update_object
from zeroserve.process.private import private_folder, secure_tree

__all__ = ["ApiServer", "bootstrap", "run_in_thread"]

_log = logging.getLogger(__name__)


def _load_or_create_token(folder: Path) -> str:
    path = folder / "token"
    if path.exists():
        return path.read_text().strip()
    private_folder(folder)
    token = secrets.token_urlsafe(32)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    temporary.replace(path)
    return token


def bootstrap(registry: Registry, namespaces: Sequence[str], crds: Sequence[Mapping[str, Any]]) -> None:
    """Create missing namespaces and install CRDs (create, or update when the spec changed).

    Args:
        registry: the registry to fill.
        namespaces: namespace names that must exist.
        crds: CustomResourceDefinitions to install.

    Raises:
        RuntimeError: when a CRD is refused.
    """
    namespace_type = next(rt for rt in registry.types() if rt.key == NAMESPACE_KEY)
    for name in namespaces:
        if registry.lookup(namespace_type, "", name) is None:
            create_object(registry, namespace_type, "v1", None, {"metadata": {"name": name}})
    crd_type = next(rt for rt in registry.types() if rt.key == CRD_KEY)
    for crd in crds:
        name = crd.get("metadata", {}).get("name", "")
        current = registry.lookup(crd_type, "", name)
        try:
            if current is None:
                create_object(registry, crd_type, "v1", None, crd, field_validation="Ignore")
            elif current.get("spec") != crd.get("spec"):
                fresh = {
                    **crd,
                    "metadata": {k: v for k, v in crd.get("metadata", {}).items() if k != "resourceVersion"},
                }
                update_object(registry, crd_type, "v1", "", name, fresh, field_validation="Ignore")
        except errors.ApiError as exc:
            raise RuntimeError(f"cannot install CRD {name}: {exc}") from exc


class ApiServer:
    """The embedded Kubernetes-compatible API server.

    Args:
        settings: how to run; defaults read from the environment.
        crds: CustomResourceDefinitions to install (create, or update when changed) before serving.
    """

    def __init__(
        self, settings: ApiServerSettings | None = None, *, crds: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        self.settings = settings or ApiServerSettings()
        self._crds = [copy.deepcopy(dict(crd)) for crd in crds]
        self._server: uvicorn.Server | None = None
        self._socket: socket.socket | None = None
        self._main: asyncio.Task[None] | None = None
        self._storage: Storage | None = None
        self._hub = WatchHub()
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self.certificate: ServingCertificate | None = None
        """The serving certificate and its CA (``None`` without TLS)."""
        self.token = ""
        """The bearer token clients must present."""
        self.port = 0
        """The bound port (known once started)."""

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``https://127.0.0.1:8001``."""
        scheme = "https" if self.settings.tls else "http"
        return f"{scheme}://{self.settings.host}:{self.port}"

    @property
    def ca_cert(self) -> Path | None:
        """The CA certificate clients verify the server with (``None`` without TLS)."""
        return self.certificate.ca_cert if self.certificate else None

    @property
    def folder(self) -> Path:
        """Where the server keeps its database and token."""
        return self.settings.state_dir / "apiserver"

    async def start(self) -> None:
        """Open the database, install namespaces and CRDs, and start serving; returns once listening."""
        settings = self.settings
        if settings.in_memory:
            self._storage = Storage(None, event_retention=settings.event_retention)
            self.token = settings.token or secrets.token_urlsafe(32)
        else:
            private_folder(settings.state_dir)
            secure_tree(self.folder)
            self._storage = Storage(self.folder / "state.db", event_retention=settings.event_retention)
            self.token = settings.token or _load_or_create_token(self.folder)
        registry = Registry(self._storage, self._hub, max_object_bytes=settings.max_object_bytes)
        collector = GarbageCollector(registry)
        bootstrap(registry, self.settings.namespaces, self._crds)
        ensure_default_service_accounts(registry)
        issuer = TokenIssuer(load_or_create_key(None if settings.in_memory else self.folder))
        collector.sweep()  # children whose owners went while the server was down, or before a fix
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.host, settings.port))
            sock.listen(128)
        except OSError:
            sock.close()  # a busy port is reported by the caller; the socket must not leak
            raise
        self._socket = sock
        self.port = sock.getsockname()[1]
        limits = BodyLimits(
            max_bytes=settings.max_request_bytes,
            max_depth=settings.max_nesting_depth,
            max_values=settings.max_yaml_values,
        )
        app = create_app(
            registry,
            token=self.token,
            server_address=f"{settings.host}:{self.port}",
            limits=limits,
            issuer=issuer,
        )
        tls: dict[str, Any] = {}
        if settings.tls:
            if settings.in_memory:
                self._scratch = tempfile.TemporaryDirectory(prefix="zeroserve-apiserver-")
                cert_folder = Path(self._scratch.name)
            else:
                cert_folder = self.folder / "pki"
            hosts = tuple(dict.fromkeys((settings.host, "127.0.0.1", "localhost")))
            self.certificate = ensure_serving_certificate(cert_folder, hosts)
            tls = {"ssl_certfile": str(self.certificate.cert), "ssl_keyfile": str(self.certificate.key)}
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False, timeout_graceful_shutdown=1, **tls
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server = server
        self._main = asyncio.create_task(server.main_loop(), name="zeroserve-apiserver")
        _log.info("API server listening on %s", self.url)

    async def stop(self) -> None:
        """Close watches, stop serving and close the database; safe to call twice."""
        self._hub.close()
        if self._server is not None and self._main is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
            await self._server.shutdown(sockets=[self._socket] if self._socket else None)
            for connection in list(self._server.server_state.connections):
                transport = getattr(connection, "transport", None)
                if transport is not None:
                    transport.abort()  # TLS connections may still wait for the peer's close_notify
            for _ in range(3):  # let the aborted transports run their connection_lost callbacks
                await asyncio.sleep(0)
        self._server = None
        self._main = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        if self._storage is not None:
            self._storage.close()
            self._storage = None
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


@contextlib.contextmanager
def run_in_thread(
    settings: ApiServerSettings | None = None, *, crds: Sequence[Mapping[str, Any]] = ()
) -> Iterator[ApiServer]:
    """Run an API server on its own event loop in a background thread.

    Args:
        settings: how to run (e.g. ``ApiServerSettings(port=0, in_memory=True)``).
        crds: CRDs to install at start.

    Yields:
        The started server (``url``, ``port``, ``token``); it stops when the block exits.
    """
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="zeroserve-apiserver", daemon=True)
    thread.start()
    server = ApiServer(settings, crds=crds)
    try:
        asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=120)
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=60)
        asyncio.run_coroutine_threadsafe(loop.shutdown_asyncgens(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()
