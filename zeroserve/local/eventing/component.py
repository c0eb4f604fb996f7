"""``BrokerComponent``: the embedded platform's Knative Eventing broker (ingress + store + dispatcher).

``zeroserve up`` starts it after the API server (and, ideally, after the gateway so cluster
addresses resolve): ``await BrokerComponent().start(ctx)``. It opens ``<state_dir>/eventing/broker.db``,
binds its ingress on ``127.0.0.1`` (a free port unless ``port`` is given), publishes the ingress
URL as ``ctx.extra["broker_url"]`` — the gateway routes host
``broker-ingress.knative-eventing.svc.cluster.local`` there — starts reconciling Brokers and
Triggers from ``ctx.kubeconfig`` and resumes every pending delivery left by a previous run.
Subscribers are reached through the gateway's HTTP proxy (``ctx.gateway_url``, read at each
delivery, so the gateway may start after the broker) except for loopback addresses, which are
called directly.

The ingress takes events only from the platform's components: ``Authorization: Bearer`` with
``ctx.broker_token`` (instances get it as ``ZEROSERVE_BROKER_TOKEN``) or with the API server's
kubeconfig token (what ``kubectl`` users hold), else 401. The state it writes (``eventing/`` 0700,
``broker.db`` and its WAL 0600) is private to the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
import yaml
from prometheus_client import CollectorRegistry

from zeroserve.local.component import PlatformContext
from zeroserve.local.eventing.dispatcher import Dispatcher
from zeroserve.local.eventing.ingress import BrokerIngress
from zeroserve.local.eventing.reconciler import EventingReconciler
from zeroserve.local.eventing.store import EventStore
from zeroserve.local.eventing.triggers import TriggerTable
from zeroserve.process.listen import bind_socket

__all__ = ["GATEWAY_PROXY", "BrokerComponent"]

log = logging.getLogger(__name__)

GATEWAY_PROXY = "gateway"
"""``delivery_proxy`` value meaning: use the platform gateway (``ctx.gateway_url``) as HTTP proxy."""


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class GatewayProxyTransport(httpx.AsyncBaseTransport):
    """Sends loopback URLs directly and everything else through a proxy looked up per request.

    The proxy is read when a request is made, not when the broker starts, so the broker can
    start before the gateway has bound its port.

    Args:
        proxy_url: returns the proxy URL, or ``None`` for direct connections.
    """

    def __init__(self, proxy_url: Callable[[], str | None]) -> None:
        self._proxy_url = proxy_url
        self._direct = httpx.AsyncHTTPTransport()
        self._proxied: dict[str, httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = None if request.url.host in _LOOPBACK else self._proxy_url()
        if not proxy:
            return await self._direct.handle_async_request(request)
        transport = self._proxied.get(proxy)
        if transport is None:
            transport = self._proxied[proxy] = httpx.AsyncHTTPTransport(proxy=proxy)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._direct.aclose()
        for transport in self._proxied.values():
            await transport.aclose()
        self._proxied.clear()


def delivery_client(proxy_url: Callable[[], str | None]) -> httpx.AsyncClient:
    """An HTTP client for subscribers: cluster hosts via the proxy, loopback directly.

    Args:
        proxy_url: returns the proxy URL (``None``: direct connections everywhere).

    Returns:
        The client.
    """
    return httpx.AsyncClient(transport=GatewayProxyTransport(proxy_url), trust_env=False)


class BrokerComponent:
    """The local eventing broker as a platform :class:`~zeroserve.local.component.Component`.

    Args:
        host: interface of the ingress.
        port: ingress port; 0 picks a free one.
        table: routing table; when given with ``reconcile=False`` the caller fills it (tests).
        reconcile: watch Brokers and Triggers in the API server (``ctx.kubeconfig``).
        delivery_proxy: :data:`GATEWAY_PROXY`, a proxy URL, or ``None`` for direct delivery.
        registry: Prometheus registry for the broker's metrics.
        now: wall clock in seconds (persisted schedules use it, so it must survive restarts).
        resync_interval: seconds between reconcile passes.
        retention: seconds finished events stay in the store before they are purged.
        dead_letter_retention: seconds events given up on stay in the store's dead-letter store.
    """

    name = "eventing"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        table: TriggerTable | None = None,
        reconcile: bool = True,
        delivery_proxy: str | None = GATEWAY_PROXY,
        registry: CollectorRegistry | None = None,
        now: Callable[[], float] = time.time,
        resync_interval: float = 1.0,
        retention: float = 3600.0,
        dead_letter_retention: float = 7 * 86400.0,
    ) -> None:
        self.host = host
        self.port = port
        self.table = table if table is not None else TriggerTable()
        self.reconcile = reconcile
        self.delivery_proxy = delivery_proxy
        self.registry = registry if registry is not None else CollectorRegistry()
        self.now = now
        self.resync_interval = resync_interval
        self.retention = retention
        self.dead_letter_retention = dead_letter_retention
        self.url = ""
        self.store: EventStore | None = None
        self.ingress: BrokerIngress | None = None
        self.dispatcher: Dispatcher | None = None
        self._client: httpx.AsyncClient | None = None
        self._server: uvicorn.Server | None = None
        self._sock: socket.socket | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self, ctx: PlatformContext) -> None:
        """Open the store, bind the ingress, start reconciling and dispatching.

        Args:
            ctx: the platform; ``state_dir``, ``kubeconfig`` and ``gateway_url`` are used and
                ``extra["broker_url"]`` is set.
        """
        self.store = EventStore(ctx.state_dir / "eventing" / "broker.db")
        await self.store.open()
        setting = self.delivery_proxy

        def proxy_url() -> str | None:
            if setting == GATEWAY_PROXY:
                return ctx.gateway_url if ctx.gateway_port else None
            return setting

        self._client = delivery_client(proxy_url)
        dispatcher_ref: list[Dispatcher] = []
        self.ingress = BrokerIngress(
            self.table,
            self.store,
            wake=lambda: dispatcher_ref[0].wake() if dispatcher_ref else None,
            registry=self.registry,
            now=self.now,
            tokens=platform_tokens(ctx),
        )
        self.dispatcher = Dispatcher(
            self.store, self.table, self.ingress, client=self._client, now=self.now, registry=self.registry
        )
        dispatcher_ref.append(self.dispatcher)
        if self.reconcile:
            reconciler = EventingReconciler(
                _custom_objects_api(str(ctx.kubeconfig)),
                self.table,
                on_change=self.dispatcher.wake,
                interval=self.resync_interval,
            )
            await asyncio.to_thread(_first_sync, reconciler)
            self._tasks.append(asyncio.create_task(reconciler.run(), name="eventing-reconciler"))
        await self.dispatcher.count_dead_letters()
        await self._serve()
        self.dispatcher.start()
        self._tasks.append(asyncio.create_task(self._purge_loop(), name="broker-purge"))
        ctx.extra["broker_url"] = self.url

    async def _serve(self) -> None:
        assert self.ingress is not None
        sock = bind_socket(self.host, self.port, flag="BrokerComponent(port=...)")
        self._sock = sock
        port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.ingress, lifespan="off", log_level="warning", access_log=False, timeout_graceful_shutdown=5
        )
        self._server = uvicorn.Server(config)
        task = asyncio.create_task(self._server.serve(sockets=[sock]), name="broker-ingress")
        self._tasks.append(task)
        while not self._server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        self.url = f"http://{self.host}:{port}"

    async def _purge_loop(self) -> None:
        """Drop finished events older than ``retention`` every few minutes, so the store stays small."""
        while True:
            await asyncio.sleep(min(300.0, max(1.0, self.retention / 10)))
            if self.store is not None:
                try:
                    now = self.now()
                    removed = await self.store.purge(now - self.retention, now - self.dead_letter_retention)
                    if self.dispatcher is not None:
                        await self.dispatcher.count_dead_letters()
                except Exception:
                    log.exception("purging the event store failed")
                    continue
                if removed:
                    log.info("purged %d delivered events from the broker store", removed)

    async def stop(self) -> None:
        """Stop accepting, stop dispatching (pending deliveries stay stored), close the store."""
        if self._server is not None:
            self._server.should_exit = True
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        for task in self._tasks:
            if task.get_name() != "broker-ingress":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._server = None
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.store is not None:
            await self.store.close()
            self.store = None


def platform_tokens(ctx: PlatformContext) -> list[str]:
    """The bearer tokens the ingress accepts: the broker token and the API server's kubeconfig token.

    Args:
        ctx: the platform (``broker_token``; ``kubeconfig`` when it exists and names a token).

    Returns:
        The non-empty tokens.
    """
    tokens = [ctx.broker_token]
    tokens += _kubeconfig_tokens(ctx.kubeconfig)
    return [token for token in tokens if token]


def _kubeconfig_tokens(path: Path) -> list[str]:
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return []
    users = doc.get("users") if isinstance(doc, dict) else None
    tokens = []
    for user in users if isinstance(users, list) else []:
        token = ((user or {}).get("user") or {}).get("token") if isinstance(user, dict) else None
        if isinstance(token, str):
            tokens.append(token)
    return tokens


def _custom_objects_api(kubeconfig: str) -> object:
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kubeconfig)
    return client.CustomObjectsApi(api_client)


def _first_sync(reconciler: EventingReconciler) -> None:
    try:
        reconciler.sync_once()
    except Exception as exc:  # the API may still be warming up; the loop retries
        log.warning("first eventing sync failed: %s", exc)
