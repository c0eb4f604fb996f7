"""Fixtures of the engine tests: short autoscaler windows and a stand-in image."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from zeroserve.apis.crds import all_crds
from zeroserve.local.apiserver.server import run_in_thread
from zeroserve.local.apiserver.settings import ApiServerSettings
from zeroserve.local.component import PlatformContext
from zeroserve.local.engine.component import EngineComponent
from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.images import ImageTable
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.kubeconfig import write_kubeconfig
from zeroserve.local.testing import Kubectl

STANDIN = Path(__file__).with_name("standin_server.py")
STANDIN_IMAGE = "test.local/standin:latest"


def fast_settings(**overrides: object) -> EngineSettings:
    """Engine settings with windows short enough for tests."""
    values: dict[str, object] = {
        "stable_window": 1.0,
        "scale_to_zero_grace_period": 0.5,
        "tick_interval": 0.1,
        "metric_bucket": 0.1,
        "restart_backoff_initial": 0.2,
        "use_zygote": False,
        "gpus": [],
        "ready_timeout": 30.0,
        "activator_deadline": 30.0,
    }
    values.update(overrides)
    return EngineSettings(**values)  # type: ignore[arg-type]


def standin_images() -> ImageTable:
    """The packaged image table plus the stand-in image."""
    table = ImageTable.load()
    table.add(STANDIN_IMAGE, ["python", str(STANDIN)])
    return table


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    """A started engine (gateway on a free port, no zygote) that knows the stand-in image."""
    eng = Engine(fast_settings(), tmp_path, images=standin_images(), resolve_model=lambda uri: Path(uri))
    await eng.start("127.0.0.1", 0)
    try:
        yield eng
    finally:
        await eng.stop()


def python() -> str:
    return sys.executable


@dataclass
class ServingPlatform:
    """An API server (own thread), the engine component and kubectl against them."""

    ctx: PlatformContext
    component: EngineComponent
    kubectl: Kubectl

    @property
    def gateway(self) -> str:
        return self.ctx.gateway_url

    async def kubectl_async(self, *args: str, input: str | None = None) -> str:
        result = await asyncio.to_thread(self.kubectl, *args, input=input)
        return result.stdout

    async def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        out = await self.kubectl_async("get", kind, name, "-n", namespace, "-o", "json")
        return dict(json.loads(out))


@contextlib.asynccontextmanager
async def serving_platform(
    tmp_path: Path,
    settings: EngineSettings,
    images: ImageTable | None = None,
    resolve_model: Any = None,
    *,
    controller: bool = False,
) -> AsyncIterator[ServingPlatform]:
    """Start an API server with every CRD, optionally the controller, then the engine on a free port."""
    api_settings = ApiServerSettings(port=0, in_memory=True, state_dir=tmp_path / "api")
    with run_in_thread(api_settings, crds=all_crds()) as server:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert
        )
        ctx = PlatformContext(
            state_dir=tmp_path / "state", kubeconfig=kubeconfig, api_url=server.url, gateway_port=0
        )
        component = EngineComponent(settings, images=images, resolve_model=resolve_model)
        operator = None
        if controller:
            from zeroserve.local.controller import ControllerComponent

            operator = ControllerComponent()
            await operator.start(ctx)
        try:
            await component.start(ctx)
            try:
                yield ServingPlatform(ctx, component, Kubectl(kubeconfig))
            finally:
                await component.stop()
        finally:
            if operator is not None:
                await operator.stop()


def condition_of(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    """A condition of an object's status (empty when absent)."""
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}
