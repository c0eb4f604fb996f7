"""An embedded platform inside the test process: API server (in a thread), controller and engine.

For end-to-end modules that drive it with real kubectl; the platform's instances are real processes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from zeroserve.apis.crds import all_crds
from zeroserve.local.apiserver.server import run_in_thread
from zeroserve.local.apiserver.settings import ApiServerSettings
from zeroserve.local.component import PlatformContext
from zeroserve.local.controller import ControllerComponent
from zeroserve.local.engine.component import EngineComponent
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.kubeconfig import write_kubeconfig
from zeroserve.local.testing import Kubectl

__all__ = ["in_thread_platform"]


@contextlib.asynccontextmanager
async def in_thread_platform(
    folder: Path, *, ready_timeout: float = 30.0, **engine: Any
) -> AsyncIterator[tuple[PlatformContext, Kubectl]]:
    """Run an API server, the controller and the engine with their state under ``folder``.

    Args:
        folder: where the API server's and the platform's state go.
        ready_timeout: how long the engine waits for an instance to become ready.
        **engine: further :class:`EngineSettings` fields (e.g. ``restart_backoff_initial``).

    Yields:
        The platform context (gateway port, kubeconfig) and a kubectl bound to it.
    """
    settings = ApiServerSettings(port=0, in_memory=True, state_dir=folder / "api")
    with run_in_thread(settings, crds=all_crds()) as server:
        kubeconfig = write_kubeconfig(folder / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert)
        ctx = PlatformContext(
            state_dir=folder / "state", kubeconfig=kubeconfig, api_url=server.url, gateway_port=0
        )
        engine_component = EngineComponent(
            EngineSettings(use_zygote=True, poll_interval=0.2, gpus=[], ready_timeout=ready_timeout, **engine)
        )
        controller = ControllerComponent()
        await controller.start(ctx)
        try:
            await engine_component.start(ctx)
            try:
                yield ctx, Kubectl(kubeconfig)
            finally:
                await engine_component.stop()
        finally:
            await controller.stop()
