"""Payload logging of a real ``zeroserve serve sklearn`` process (``--log-url``) into a CloudEvents sink."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from zeroserve.servers.testing import serve_in_subprocess, train_iris_sklearn

from .conftest import EventSink, serve

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"


async def test_sklearn_server_logs_v1_v2_and_errors_with_kserve_attributes(
    tmp_path: Path, sink: EventSink
) -> None:
    model_dir = await asyncio.to_thread(train_iris_sklearn, tmp_path / "model")
    async with serve(sink) as sink_server:
        args = [
            "sklearn", "--model-name", "iris", "--model-dir", str(model_dir), "--log-url", sink_server.url,
            "--log-mode", "all", "--inference-service", "iris", "--namespace", "models",
            "--component", "predictor", "--log-metadata-headers", "x-tenant",
        ]  # fmt: skip
        manager = serve_in_subprocess(args, env={"NO_PROXY": "*"})
        served = await asyncio.to_thread(manager.__enter__)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{served.http_port}") as client:
                v1 = await client.post(
                    "/v1/models/iris:predict",
                    json={"instances": [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]]},
                    headers={"x-tenant": "blue", "ce-id": "pair-1"},
                )
                v2 = await client.post(
                    "/v2/models/iris/infer",
                    json={
                        "inputs": [
                            {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}
                        ]
                    },
                )
                bad = await client.post("/v1/models/iris:predict", json={"instances": "nope"})
                missing = await client.post("/v1/models/nope:predict", json={"instances": [[1, 2, 3, 4]]})
                await client.get("/v2/health/ready")
                events = await sink.wait_for(8)
        finally:
            await asyncio.to_thread(manager.__exit__, None, None, None)
    assert v1.status_code == 200, v1.text
    assert v2.status_code == 200, v2.text
    assert bad.status_code == 400 and missing.status_code == 404
    pair = [e for e in events if e.get_id() == "pair-1"]
    assert sorted(e.get_type() for e in pair) == [REQUEST, RESPONSE]
    assert all(e.get_extension("metadata") == '{"X-Tenant":["blue"]}' for e in pair)
    response = next(e for e in pair if e.get_type() == RESPONSE)
    assert response.get_data() == v1.json()
    statuses = sorted(e.get_extension("statuscode") for e in events if e.get_type() == RESPONSE)
    assert statuses == ["200", "200", "400", "404"]
    assert {e.get_extension("inferenceservicename") for e in events} == {"iris"}
    assert len(events) == 8  # health checks are not logged
