"""``EngineComponent``: the serving engine as a part of the embedded platform.

``zeroserve up`` starts it after the API server (it needs ``ctx.kubeconfig``); it starts the
gateway on ``ctx.gateway_host:ctx.gateway_port`` (0 picks a free port, written back into
``ctx.gateway_port``), holding requests until a first pass has installed the stored routes and
started the revisions they name (adopting instances a crashed platform left running), warms the
zygote, and reconciles Knative Services, Configurations, Revisions,
Routes and HTTPRoutes until stopped. When another component publishes ``ctx.extra["broker_url"]``,
the gateway routes ``broker-ingress.knative-eventing.svc.cluster.local`` to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path

from zeroserve.local.component import PlatformContext
from zeroserve.local.engine.auth import reviewer_from_kubeconfig
from zeroserve.local.engine.engine import BROKER_HOST, Engine
from zeroserve.local.engine.images import ImageTable
from zeroserve.local.engine.logs import log_files
from zeroserve.local.engine.reconciler import ServingReconciler
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.engine.volumes import api_reader

__all__ = ["EngineComponent"]

_LOG = logging.getLogger(__name__)

_FIRST_PASS_TIMEOUT = 30.0
"""Longest the gateway holds requests at start while the first pass reads the stored routes."""


def _custom_objects_api(kubeconfig: Path) -> object:
    from kubernetes import client, config

    return client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))


class EngineComponent:
    """The local serving engine (gateway, activator, autoscaler, revisions) as a platform component."""

    name = "engine"

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        images: ImageTable | None = None,
        resolve_model: Callable[[str], Path] | None = None,
    ) -> None:
        """Create the component.

        Args:
            settings: engine settings (default: from ``ZEROSERVE_ENGINE_*`` environment variables).
            images: the image table (default: packaged plus ``settings.images_file``).
            resolve_model: storage URI -> local path (default: the storage layer).
        """
        self.settings = settings or EngineSettings()
        self._images = images
        self._resolve_model = resolve_model
        self.engine: Engine | None = None
        self.reconciler: ServingReconciler | None = None
        self._task: asyncio.Task[None] | None = None
        self._ctx: PlatformContext | None = None
        self._broker_url: str | None = None

    async def start(self, ctx: PlatformContext) -> None:
        """Start the gateway and the reconciler; returns once the gateway listens.

        Args:
            ctx: the platform; ``gateway_port`` is updated with the bound port and
                ``extra["gateway_url"]`` is set.
        """
        self._ctx = ctx
        engine = Engine(
            self.settings,
            ctx.state_dir,
            domain=ctx.domain,
            images=self._images,
            resolve_model=self._resolve_model,
            on_revision_status=lambda _rev: self._wake(),
            # the broker ingress wants it from the payload logger and the detectors in instances
            instance_env={"ZEROSERVE_BROKER_TOKEN": ctx.broker_token},
        )
        self.engine = engine
        # routes with serving.kserve.io/enable-auth ask the API server to review callers' tokens
        engine.gateway.reviewer = await asyncio.to_thread(reviewer_from_kubeconfig, ctx.kubeconfig)
        # requests wait until the first pass has installed the stored routes (after a restart the
        # gateway then serves them at once, instead of answering 404 while it reads them)
        engine.gateway.opened.clear()
        ctx.gateway_port = await engine.start(ctx.gateway_host, ctx.gateway_port)
        ctx.extra["gateway_url"] = ctx.gateway_url
        api = await asyncio.to_thread(_custom_objects_api, ctx.kubeconfig)
        # ConfigMap and Secret volumes and env references of revisions are read from the API server
        engine.ctx.read_object = api_reader(getattr(api, "api_client", None))
        self.reconciler = ServingReconciler(
            api, engine, domain=ctx.domain, interval=self.settings.poll_interval
        )
        self.reconciler.before_pass.append(self._sync_upstreams)
        try:
            await asyncio.wait_for(self.reconciler.sync_once(), _FIRST_PASS_TIMEOUT)
        except Exception as err:  # serve anyway; the loop below keeps trying
            _LOG.warning("the first serving reconcile pass failed (%s); the gateway opens without it", err)
        else:  # instances a crashed platform left running for revisions no longer served
            engine.reap_unadopted()
        engine.gateway.opened.set()
        self._task = asyncio.create_task(self.reconciler.run(), name="zeroserve-engine-reconciler")

    def _wake(self) -> None:
        if self.reconciler is not None:
            self.reconciler.wake()

    def _sync_upstreams(self) -> None:
        if self._ctx is None or self.engine is None:
            return
        url = self._ctx.extra.get("broker_url")
        url = str(url) if url else None
        if url != self._broker_url:
            self.engine.set_upstream(BROKER_HOST, url)
            self._broker_url = url

    async def stop(self) -> None:
        """Stop reconciling, every instance, the zygote and the gateway; safe to call twice."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.engine is not None:
            if self.engine.gateway.reviewer is not None:
                await self.engine.gateway.reviewer.aclose()
            await self.engine.stop()
            self.engine = None
        if self.reconciler is not None:
            api_client = getattr(self.reconciler.api, "api_client", None)
            if api_client is not None:
                await asyncio.to_thread(api_client.close)
            self.reconciler = None

    def log_files(self, namespace: str, name: str) -> list[Path]:
        """Instance log files of an InferenceService, Knative Service or Revision (for ``zeroserve logs``).

        Args:
            namespace: the namespace.
            name: the object's name.

        Returns:
            The files, oldest first.
        """
        if self._ctx is None:
            return []
        return log_files(self._ctx.state_dir, namespace, name)
