"""End to end on the embedded platform: KServe's sample graphs through kubectl, the controller, the
serving engine (router and model servers as local revisions) and the gateway."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.waiting import WaitTimeout, wait_until_async

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

IRIS = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}


class Platform:
    """kubectl and the gateway of an API server + controller + engine started for one test."""

    def __init__(self, kubectl: Kubectl, gateway: str) -> None:
        self.kubectl = kubectl
        self.gateway = gateway

    async def apply(self, *objects: dict[str, Any]) -> None:
        await asyncio.to_thread(self.kubectl, "apply", "-f", "-", input=yaml.safe_dump_all(objects))

    async def ready(self, kind: str, name: str, within: float = 90) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def ready_object() -> dict[str, Any] | None:
            out = await asyncio.to_thread(self.kubectl, "get", kind, name, "-o", "json")
            seen.update(obj := json.loads(out.stdout))
            conditions = (obj.get("status") or {}).get("conditions") or []
            return (
                obj
                if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
                else None
            )

        try:
            return await wait_until_async(
                ready_object, within, what=f"{kind} {name} Ready", interval=0.2, retry_on=()
            )
        except WaitTimeout:
            raise AssertionError(f"{kind} {name} not Ready: {seen.get('status')}") from None


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    settings = EngineSettings(gpus=[], use_zygote=True, ready_timeout=60.0, activator_deadline=60.0)
    api_settings = ApiServerSettings(port=0, in_memory=True, state_dir=tmp_path / "api")
    with run_in_thread(api_settings, crds=all_crds()) as server:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert
        )
        ctx = PlatformContext(
            state_dir=tmp_path / "state", kubeconfig=kubeconfig, api_url=server.url, gateway_port=0
        )
        controller = ControllerComponent()
        await controller.start(ctx)
        engine = EngineComponent(settings)
        try:
            await engine.start(ctx)
            try:
                assert engine.engine is not None
                await engine.engine.wait_warm()  # the router and model servers fork from the zygote
                yield Platform(Kubectl(kubeconfig), ctx.gateway_url)
            finally:
                await engine.stop()
        finally:
            await controller.stop()


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from zeroserve.servers.testing import train_iris_sklearn, train_iris_xgboost

    root = tmp_path_factory.mktemp("models")
    return {"sklearn": train_iris_sklearn(root / "sklearn"), "xgboost": train_iris_xgboost(root / "xgboost")}


def isvc(name: str, framework: str, folder: Path) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"predictor": {"minReplicas": 1, framework: {"storageUri": f"file://{folder}"}}},
    }


def graph(name: str, root: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "InferenceGraph",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodes": {"root": root}},
    }


async def test_kserve_sample_graphs(platform: Platform, iris: dict[str, Path]) -> None:
    await platform.apply(
        isvc("sklearn-iris", "sklearn", iris["sklearn"]),
        isvc("xgboost-iris", "xgboost", iris["xgboost"]),
        graph(
            "model-chainer",
            {
                "routerType": "Sequence",
                "steps": [
                    {"serviceName": "sklearn-iris", "name": "sklearn-iris"},
                    {"serviceName": "xgboost-iris", "name": "xgboost-iris", "data": "$request"},
                ],
            },
        ),
        graph(
            "ensemble",
            {
                "routerType": "Ensemble",
                "steps": [
                    {"serviceName": "sklearn-iris", "name": "a"},
                    {"serviceName": "xgboost-iris", "name": "b"},
                ],
            },
        ),
        graph(
            "switch",
            {
                "routerType": "Switch",
                "steps": [{"serviceName": "sklearn-iris", "condition": "[@this].#(instances.0.0>6.5)"}],
            },
        ),
    )
    for name in ("sklearn-iris", "xgboost-iris"):
        await platform.ready("isvc", name)
    chainer = await platform.ready("ig", "model-chainer")
    assert chainer["status"]["url"] == "http://model-chainer.default.example.com"
    for name in ("ensemble", "switch"):
        await platform.ready("ig", name)
    async with httpx.AsyncClient(base_url=platform.gateway, timeout=60, trust_env=False) as client:

        async def post(host: str, path: str, body: Any) -> httpx.Response:
            return await client.post(path, json=body, headers={"Host": f"{host}.default.example.com"})

        direct = {
            name: (await post(name, f"/v1/models/{name}:predict", IRIS)).json()
            for name in ("sklearn-iris", "xgboost-iris")
        }
        chained = await post("model-chainer", "/", IRIS)
        assert chained.status_code == 200, chained.text
        assert chained.json() == direct["xgboost-iris"]
        ensemble = await post("ensemble", "/", IRIS)
        assert ensemble.json() == {"a": direct["sklearn-iris"], "b": direct["xgboost-iris"]}
        matched = await post("switch", "/", IRIS)
        assert matched.json() == direct["sklearn-iris"]
        unmatched = await post("switch", "/", {"instances": [[1.0, 1.0, 1.0, 1.0]]})
        assert unmatched.status_code == 404
        assert unmatched.json() == {
            "error": "Failed to process request",
            "cause": "None of the routes matched with the switch condition",
        }
