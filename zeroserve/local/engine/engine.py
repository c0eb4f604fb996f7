"""The engine's core, independent of the API server: running revisions, the gateway and its routes.

:class:`Engine` owns the zygote, the GPU pool, one
:class:`~zeroserve.local.engine.revision.RevisionRuntime` per revision that should run, and the
gateway's HTTP server. The reconciler tells it which revisions exist (:meth:`Engine.ensure_revision`,
:meth:`Engine.remove_revision`) and how traffic is split (:meth:`Engine.set_routes`); tests and
benchmarks drive it the same way without an API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn

from zeroserve.local.engine.adoption import read_records, reap
from zeroserve.local.engine.bridge import BridgeListener, discover_bridge
from zeroserve.local.engine.containers import ContainerEngine
from zeroserve.local.engine.egress import egress_proxy_url
from zeroserve.local.engine.gateway import Gateway
from zeroserve.local.engine.gpus import GpuAllocator, discover_gpus
from zeroserve.local.engine.h2c import sniffing_protocol
from zeroserve.local.engine.images import ImageTable
from zeroserve.local.engine.metrics import EngineCollector, render_metrics
from zeroserve.local.engine.revision import RevisionRuntime, RevisionSpec, RuntimeContext
from zeroserve.local.engine.routing import HTTPRouteRule, RouteEntry, RoutingTable
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.engine.zygote import Zygote
from zeroserve.process.private import private_folder
from zeroserve.process.stopping import finish_within

__all__ = ["BROKER_HOST", "INSTANCE_HOST", "Engine"]

_LOG = logging.getLogger(__name__)

# Beyond a revision's grace period: a container's stop may wait 30 s for its client to exit.
_STOP_SLACK = 40.0


BROKER_HOST = "broker-ingress.knative-eventing.svc.cluster.local"
"""Knative's multi-tenant broker ingress host, routed to the local broker when one is published."""

INSTANCE_HOST = "127.0.0.1"
"""The address every instance listens on: loopback only, requests reach them through the gateway."""


def _default_resolver() -> Callable[[str], Path]:
    from zeroserve.servers.storage import ModelStorage

    storage = ModelStorage()
    return storage.resolve


class Engine:
    """Revisions as local processes behind one gateway."""

    def __init__(
        self,
        settings: EngineSettings,
        state_dir: Path,
        *,
        domain: str = "example.com",
        images: ImageTable | None = None,
        resolve_model: Callable[[str], Path] | None = None,
        on_revision_status: Callable[[RevisionRuntime], None] | None = None,
        instance_env: Mapping[str, str] | None = None,
    ) -> None:
        """Create an engine; :meth:`start` starts the gateway and the zygote.

        Args:
            settings: engine settings.
            state_dir: the platform's state folder (logs and model folders go under ``engine/``).
            domain: the external domain of route hosts.
            images: the image table (default: the packaged one plus ``settings.images_file``).
            resolve_model: storage URI -> local path (default: the storage layer's ``ModelStorage``).
            on_revision_status: called when a revision's status may have changed.
            instance_env: more environment for every instance (the platform's broker token).
        """
        self.settings = settings
        self.state_dir = Path(state_dir)
        self.domain = domain
        self.ctx = RuntimeContext(
            settings=settings,
            images=images or ImageTable.load(settings.images_file),
            state_dir=self.state_dir,
            gpus=GpuAllocator(settings.gpus or []),
            resolve_model=resolve_model or _default_resolver(),
            clock=time.monotonic,
        )
        self.revisions: dict[tuple[str, str], RevisionRuntime] = {}
        self._egress_token = secrets.token_urlsafe(24) if settings.egress else None
        self.gateway = Gateway(
            self._lookup,
            activator_deadline=settings.activator_deadline,
            egress=settings.egress,
            egress_token=self._egress_token,
            max_body_bytes=settings.max_request_body_bytes,
        )
        collector = EngineCollector(lambda: self.revisions, self.gateway.responses, self.gateway.latencies)
        self.gateway.metrics = lambda: render_metrics(collector)
        self.on_revision_status = on_revision_status
        self._instance_env = dict(instance_env or {})
        self.gateway_port = 0
        self._routes: list[RouteEntry] = []
        self._http_routes: dict[str, list[HTTPRouteRule]] = {}
        self._upstreams: dict[str, tuple[str, int]] = {}
        self._server: uvicorn.Server | None = None
        self._server_task: asyncio.Task[None] | None = None
        self._zygote_task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._warm = asyncio.Event()
        self._bridge = BridgeListener(self._server_config)
        self.ctx.containers.reach_platform = self._reach_from_containers

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Start the gateway (and warm the zygote in the background).

        Args:
            host: the gateway's address.
            port: its port (0: a free one).

        Returns:
            The gateway's port.
        """
        private_folder(self.state_dir / "engine").chmod(0o700)  # also a folder an older version made
        if self.settings.gpus is None:
            self.ctx.gpus = GpuAllocator(await asyncio.to_thread(discover_gpus))
        # proto IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
        # and without it a response's header and body writes wait on the client's delayed ACK (40 ms)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            sock.close()
            raise OSError(
                err.errno,
                f"the serving gateway cannot listen on {host}:{port} ({err.strerror}); "
                "choose another port (zeroserve up --gateway-port N, 0 for a free one)",
            ) from err
        sock.listen(2048)
        sock.setblocking(False)
        self.gateway_port = int(sock.getsockname()[1])
        self._socket = sock
        proxy = egress_proxy_url(host, self.gateway_port, self._egress_token)
        env = dict(os.environ)
        env.update(
            {
                "HTTP_PROXY": proxy,
                "http_proxy": proxy,
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                # components keep their state (a graph router's bandits) under the platform's folder
                "ZEROSERVE_HOME": str(self.state_dir),
                # our servers bind loopback only (ServerSettings.host); the gateway is the way in
                "ZEROSERVE_HOST": INSTANCE_HOST,
                **self._instance_env,
            }
        )
        env.pop("HTTPS_PROXY", None)
        env.pop("https_proxy", None)
        self.ctx.base_env = env
        config = self._server_config(sniffing_protocol(self.gateway.grpc))
        server = uvicorn.Server(config)
        self._server = server
        # _serve, not serve: the platform owns the process's signal handlers
        self._server_task = asyncio.create_task(server._serve(sockets=[sock]))
        while not server.started:
            if self._server_task.done():
                await self._server_task
                raise RuntimeError("the gateway failed to start")
            await asyncio.sleep(0.005)
        if self.settings.use_zygote:
            self._zygote_task = asyncio.create_task(self._keep_zygote(), name="zeroserve-zygote")
        return self.gateway_port

    def _server_config(self, http: type[asyncio.Protocol]) -> uvicorn.Config:
        return uvicorn.Config(
            self.gateway,
            # HTTP/1.1 to the ASGI gateway, HTTP/2 prior knowledge (gRPC) to its gRPC proxy, one port
            http=http,
            loop="none",
            lifespan="off",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=75,
            backlog=2048,
            # at stop the revisions are gone: a connection still open (a client's keep-alive, a
            # request to a killed instance) must not hold the platform's stop for ever
            timeout_graceful_shutdown=5,
        )

    def _reach_from_containers(self, engine: ContainerEngine) -> str:
        """The ``HTTP_PROXY`` of containers in a network of their own: the gateway on their bridge."""
        network = discover_bridge(engine)
        port = self._bridge.open(network, sniffing_protocol(self.gateway.grpc))
        host = f"[{network.gateway}]" if ":" in network.gateway else network.gateway
        return egress_proxy_url(host, port, self._egress_token)

    async def _keep_zygote(self) -> None:
        """Keep a warm zygote: start it, and start a fresh one whenever it dies."""
        log = self.state_dir / "engine" / "zygote.log"
        failures = 0
        while True:
            zygote = Zygote(self.settings.zygote_preload, log, self.settings.python)
            try:
                await zygote.start()
            except Exception as err:  # meanwhile instances start as fresh processes
                _LOG.warning("zygote failed to start (%s); instances start without it", err)
            else:
                failures = 0
                self.ctx.zygote = zygote
                self._warm.set()
                await zygote.wait_closed()
                _LOG.warning("zygote exited; starting a fresh one")
            self.ctx.zygote = None
            with contextlib.suppress(Exception):
                await zygote.stop()
            failures += 1
            self._warm.set()  # nobody should wait forever on a zygote that cannot start
            await asyncio.sleep(min(30.0, 0.5 * 2**failures))
            self._warm.clear()

    async def wait_warm(self) -> None:
        """Wait until the zygote has imported its modules (benchmarks and tests of cold starts)."""
        if self._zygote_task is not None:
            await self._warm.wait()

    async def stop(self) -> None:
        """Stop every revision, the zygote and the gateway; safe to call twice."""
        stops = [
            asyncio.create_task(rev.stop(), name=f"stop of revision {ns}/{name}")
            for (ns, name), rev in self.revisions.items()
        ]
        await finish_within(stops, self.ctx.settings.stop_grace_period + _STOP_SLACK, _LOG)
        self.revisions.clear()
        self.ctx.cpu_control.close()
        if self._zygote_task is not None:
            self._zygote_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._zygote_task
            self._zygote_task = None
        if self.ctx.zygote is not None:
            await self.ctx.zygote.stop()
            self.ctx.zygote = None
        if self._server is not None and self._server_task is not None:
            self._server.should_exit = True
            await finish_within([self._server_task], _STOP_SLACK, _LOG)
            self._server = None
            self._server_task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None
        await self._bridge.close(_STOP_SLACK)
        self.gateway.pool.close()
        self.gateway.grpc.close()

    # ------------------------------------------------------------------ revisions

    def _lookup(self, namespace: str, name: str) -> RevisionRuntime | None:
        return self.revisions.get((namespace, name))

    def _status_changed(self, rev: RevisionRuntime) -> None:
        if self.on_revision_status is not None:
            self.on_revision_status(rev)

    def ensure_revision(self, spec: RevisionSpec) -> RevisionRuntime:
        """Run a revision (a no-op when it already runs; revisions are immutable).

        Args:
            spec: the revision.

        Returns:
            Its runtime.
        """
        key = (spec.namespace, spec.name)
        rev = self.revisions.get(key)
        if rev is None:
            rev = RevisionRuntime(spec, self.ctx, self._status_changed)
            self.revisions[key] = rev
            rev.start()
        return rev

    def reap_unadopted(self) -> int:
        """Stop instances an earlier engine left running that no revision adopted.

        Returns:
            How many were stopped.
        """
        adopted = {inst.pid for rev in self.revisions.values() for inst in rev.instances}
        reaped = 0
        for record in read_records(self.ctx.run_dir()):
            if record.pid not in adopted:
                reap(record, self.ctx.run_dir())
                reaped += 1
        return reaped

    async def remove_revision(self, namespace: str, name: str) -> None:
        """Stop a revision and forget it.

        Args:
            namespace: its namespace.
            name: its name.
        """
        rev = self.revisions.pop((namespace, name), None)
        if rev is not None:
            await rev.stop()

    # ------------------------------------------------------------------ routing

    def set_routes(
        self, routes: Sequence[RouteEntry], http_routes: Mapping[str, Sequence[HTTPRouteRule]] | None = None
    ) -> None:
        """Replace the gateway's routes.

        Args:
            routes: every Knative Route's resolved traffic.
            http_routes: hostname -> HTTPRoute rules.
        """
        self._routes = list(routes)
        self._http_routes = {h: list(r) for h, r in (http_routes or {}).items()}
        self._rebuild()

    def set_upstream(self, host: str, url: str | None) -> None:
        """Route a host to a plain upstream, e.g. the broker ingress (``None`` removes it).

        Args:
            host: the Host to match.
            url: ``http://host:port`` of the upstream.
        """
        if url is None:
            self._upstreams.pop(host.lower(), None)
        else:
            parts = urlsplit(url)
            self._upstreams[host.lower()] = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._rebuild()

    def _rebuild(self) -> None:
        self.gateway.table = RoutingTable(self._routes, self._http_routes, self._upstreams, self.domain)
