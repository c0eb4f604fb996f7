"""End to end: an InferenceService with a sklearn predictor and the built-in kernelshap explainer,
applied with kubectl to the embedded platform; :explain through the gateway reaches the explainer,
which calls the predictor through the platform."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from support.waiting import wait_until_async

from zeroserve.apis.crds import all_crds
from zeroserve.local.apiserver.server import run_in_thread
from zeroserve.local.apiserver.settings import ApiServerSettings
from zeroserve.local.component import PlatformContext
from zeroserve.local.controller import ControllerComponent
from zeroserve.local.engine.component import EngineComponent
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.kubeconfig import write_kubeconfig
from zeroserve.local.testing import Kubectl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@contextlib.asynccontextmanager
async def platform(tmp_path: Path) -> AsyncIterator[tuple[PlatformContext, Kubectl]]:
    settings = ApiServerSettings(port=0, in_memory=True, state_dir=tmp_path / "api")
    with run_in_thread(settings, crds=all_crds()) as server:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert
        )
        ctx = PlatformContext(
            state_dir=tmp_path / "state", kubeconfig=kubeconfig, api_url=server.url, gateway_port=0
        )
        engine = EngineComponent(
            EngineSettings(use_zygote=True, poll_interval=0.2, gpus=[], ready_timeout=30.0)
        )
        controller = ControllerComponent()
        await controller.start(ctx)
        try:
            await engine.start(ctx)
            try:
                yield ctx, Kubectl(kubeconfig)
            finally:
                await engine.stop()
        finally:
            await controller.stop()


async def test_explain_goes_to_the_kernelshap_explainer(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LinearRegression

    weights = np.array([0.5, -1.0, 2.0, 0.25])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    (tmp_path / "model").mkdir()
    joblib.dump(LinearRegression().fit(X, X @ weights + 1.0), tmp_path / "model" / "model.joblib")
    isvc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "lin", "namespace": "default"},
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "sklearn"}, "storageUri": f"file://{tmp_path / 'model'}"}
            },
            "explainer": {"model": {"modelFormat": {"name": "kernelshap"}}},
        },
    }
    async with platform(tmp_path) as (ctx, kubectl):
        applied = await asyncio.to_thread(kubectl, "apply", "-f", "-", input=yaml.safe_dump(isvc), check=False)
        assert applied.returncode == 0, applied.stderr

        async def ready() -> bool:
            out = (await asyncio.to_thread(kubectl, "get", "isvc", "lin", "-o", "json")).stdout
            conditions: list[dict[str, Any]] = json.loads(out).get("status", {}).get("conditions") or []
            return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

        await wait_until_async(ready, 90, interval=0.3, retry_on=())
        row = [1.0, 2.0, 3.0, 4.0]
        headers = {"Host": "lin.default.example.com"}
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=60) as client:

            async def explained() -> httpx.Response | None:
                got = await client.post("/v1/models/lin:explain", json={"instances": [row]}, headers=headers)
                return got if got.status_code == 200 else None

            got = await wait_until_async(explained, 30, interval=0.3, retry_on=())
            assert got is not None
            doc = got.json()["explanations"]
            # background: one row of zeros, so phi_i = w_i * x_i
            np.testing.assert_allclose(doc["shap_values"][0][0], weights * np.asarray(row), atol=1e-6)
            predicted = await client.post(
                "/v1/models/lin:predict", json={"instances": [row]}, headers=headers
            )
            assert predicted.json()["predictions"][0] == pytest.approx(
                float(np.asarray(row) @ weights + 1), abs=1e-6
            )
