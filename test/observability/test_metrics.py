"""Every ``/metrics`` we serve passes ``promtool check metrics`` after traffic, with KServe's and
Knative's names next to ours."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import httpx
from prometheus_client import CollectorRegistry

from zeroserve.controller.metrics import ControllerMetrics, HealthServer
from zeroserve.monitoring.server import DetectorService, build_method
from zeroserve.router.app import create_app
from zeroserve.router.planner import plan_graph
from zeroserve.servers.model import Model
from zeroserve.servers.model_server import ModelServer
from zeroserve.servers.settings import ServerSettings

from .promtool import promtool_lint
from .serving import serving


class Echo(Model):
    """Predicts its instances back; explains with a constant."""

    async def predict(self, payload: Any, headers: Any = None) -> Any:
        return {"predictions": payload["instances"]}

    async def explain(self, payload: Any, headers: Any = None) -> Any:
        return {"explanations": [1]}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition (fails when it is absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))) == wanted:
            return float(match.group(2))
    raise AssertionError(f"no sample {name}{{{wanted}}} in:\n{text}")


async def test_model_server_and_router_metrics_pass_promtool_with_kserve_names() -> None:
    model = Echo("echo")
    settings = ServerSettings(http_port=0, grpc_port=0, configure_logging=False)
    async with ModelServer(settings).running([model]) as handle, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{handle.http_port}"
        for _ in range(2):
            ok = await client.post(f"{base}/v1/models/echo:predict", json={"instances": [[1, 2]]})
            assert ok.status_code == 200, ok.text
        explained = await client.post(f"{base}/v1/models/echo:explain", json={"instances": [[1]]})
        assert explained.status_code == 200, explained.text
        missing = await client.post(f"{base}/v1/models/nope:predict", json={"instances": []})
        assert missing.status_code == 404
        text = (await client.get(f"{base}/metrics")).text
        promtool_lint(text.encode(), "the model server")
        assert sample(text, "request_predict_seconds_count", model_name="echo") == 2
        assert sample(text, "request_preprocess_seconds_count", model_name="echo") == 2
        assert sample(text, "request_postprocess_seconds_count", model_name="echo") == 2
        assert sample(text, "request_explain_seconds_count", model_name="echo") == 1
        # ours count the explain too
        assert sample(text, "zeroserve_requests_total", model="echo", protocol="v1", status="200") == 3

        graph = plan_graph(
            {
                "nodes": {
                    "root": {
                        "routerType": "Sequence",
                        "steps": [{"name": "s", "serviceUrl": f"{base}/v1/models/echo:predict"}],
                    }
                }
            }
        )
        async with aiohttp.ClientSession() as http:
            router = create_app(graph, http=http, registry=CollectorRegistry())
            async with serving(router) as url:
                routed = await client.post(url, json={"instances": [[3]]})
                assert routed.status_code == 200, routed.text
                text = (await client.get(f"{url}/metrics")).text
        promtool_lint(text.encode(), "the router")
        assert sample(text, "zeroserve_router_requests_total", code="200") == 1


async def test_detector_and_controller_metrics_pass_promtool() -> None:
    detector = DetectorService("drift", build_method("drift"), fit_first=2, registry=CollectorRegistry())
    async with serving(detector, lifespan="on") as url, httpx.AsyncClient() as client:
        bad = await client.post(url, content=b"{}", headers={"content-type": "application/json"})
        assert 400 <= bad.status_code < 500, bad.text
        text = (await client.get(f"{url}/metrics")).content
    promtool_lint(text, "the drift detector")

    registry = CollectorRegistry()
    metrics = ControllerMetrics(registry)
    metrics.reconciles.labels("InferenceService", "success").inc()
    server = HealthServer("127.0.0.1", 0, registry, lambda: True)
    server.start()
    try:
        async with httpx.AsyncClient() as client:
            text = (await client.get(f"http://127.0.0.1:{server.port}/metrics")).content
    finally:
        server.stop()
    promtool_lint(text, "the controller")
