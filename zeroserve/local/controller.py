"""The controller as a part of the embedded platform (``zeroserve up``).

It talks to the platform's API server through the kubernetes client with the platform's kubeconfig,
like any other client, and runs the same loop as on a cluster in a background thread. It asks
TrainedModels' model servers about their models through the platform's gateway (by Host, as an
instance reaches a cluster address). Before it
starts it creates the built-in ClusterServingRuntimes (``config/runtimes``) that are missing; one a
user changed or added with kubectl is left as it is.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.config.cluster_runtimes import builtin_cluster_runtimes
from zeroserve.controller.controller import Controller, ControllerOptions
from zeroserve.controller.errors import AlreadyExists
from zeroserve.controller.kinds import CLUSTER_SERVING_RUNTIME
from zeroserve.controller.reconcilers.trained_model_state import ModelStateReader
from zeroserve.controller.store import Store
from zeroserve.local.component import PlatformContext

if TYPE_CHECKING:
    from zeroserve.controller.kube import KubeStore

__all__ = ["ControllerComponent", "install_builtin_runtimes"]

log = logging.getLogger(__name__)


def install_builtin_runtimes(store: Store) -> int:
    """Create each built-in ClusterServingRuntime that does not exist yet.

    Args:
        store: the API.

    Returns:
        How many were created.
    """
    created = 0
    for obj in builtin_cluster_runtimes():
        try:
            store.create(CLUSTER_SERVING_RUNTIME, obj)
            created += 1
        except AlreadyExists:
            continue
    log.info("installed %d built-in ClusterServingRuntimes", created)
    return created


class ControllerComponent:
    """:class:`zeroserve.local.component.Component` running :class:`Controller` in a thread.

    Args:
        options: how to run the loop (all namespaces, no leader election by default).
        started_timeout: seconds ``start`` waits for the first list of every watched kind.
    """

    name = "controller"

    def __init__(self, options: ControllerOptions | None = None, started_timeout: float = 30.0) -> None:
        self._options = options or ControllerOptions()
        self._timeout = started_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.controller: Controller | None = None
        self._store: KubeStore | None = None
        self._states: ModelStateReader | None = None

    async def start(self, ctx: PlatformContext) -> None:
        """Connect with ``ctx.kubeconfig`` and start reconciling; returns once the watches listed."""
        from zeroserve.controller.kube import KubeStore

        store = await asyncio.to_thread(KubeStore.from_kubeconfig, ctx.kubeconfig)
        self._store = store
        await asyncio.to_thread(install_builtin_runtimes, store)
        # TrainedModels' model servers are asked through the gateway, as instances reach cluster hosts
        states = ModelStateReader(via=lambda: ctx.gateway_url)
        self._states = states
        self.controller = Controller(
            store, ControllerConfig(domain=ctx.domain), self._options, model_states=states
        )
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.controller.run, args=(self._stop,), name="controller", daemon=True
        )
        self._thread.start()
        if not await asyncio.to_thread(self.controller.started.wait, self._timeout):
            raise RuntimeError(f"controller did not start within {self._timeout}s")

    async def stop(self) -> None:
        """Stop the loop and wait for it; safe to call twice."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.to_thread(thread.join, 30)
        store, self._store = self._store, None
        if store is not None:
            store.close()
        states, self._states = self._states, None
        if states is not None:
            states.close()
