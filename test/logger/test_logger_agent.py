"""The logger-agent sidecar in-process, and the logger-agent / detector commands as processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent as LibEvent
from prometheus_client import CollectorRegistry

from zeroserve.logger.agent import METRICS_PATH, create_agent_app
from zeroserve.logger.config import LoggerConfig

from .conftest import EventSink, serve
from .test_logger_middleware import model_app

REQUEST = "org.kubeflow.serving.inference.request"


async def test_agent_proxies_unchanged_and_logs_both_halves(sink: EventSink) -> None:
    registry = CollectorRegistry()
    async with serve(sink) as sink_server, serve(model_app()) as upstream:
        config = LoggerConfig(
            url=sink_server.url, inference_service="custom", namespace="ns", component="predictor"
        )
        agent = create_agent_app(upstream.url, config, registry=registry)
        async with serve(agent) as proxy, httpx.AsyncClient(base_url=proxy.url) as client:
            ok = await client.post("/v1/models/iris:predict?x=1", json={"instances": [[1, 2]]})
            bad = await client.post("/v1/models/iris:predict", json={})
            live = await client.get("/v2/health/live")
            events = await sink.wait_for(4)
            metrics = await client.get(METRICS_PATH)
    assert ok.json() == {"predictions": [3]} and bad.status_code == 400 and live.status_code == 200
    assert sorted(e.get_extension("statuscode") for e in events if e.get_type() != REQUEST) == ["200", "400"]
    assert {e.get_extension("inferenceservicename") for e in events} == {"custom"}
    assert "zeroserve_logger_events_sent_total" in metrics.text


async def test_agent_answers_502_when_the_upstream_is_down(sink: EventSink) -> None:
    async with serve(sink) as sink_server:
        agent = create_agent_app("http://127.0.0.1:9", LoggerConfig(url=sink_server.url))
        async with serve(agent) as proxy, httpx.AsyncClient(base_url=proxy.url) as client:
            response = await client.post("/v1/models/m:predict", json={"instances": [[1]]})
            events = await sink.wait_for(2)
    assert response.status_code == 502
    assert any(e.get_extension("statuscode") == "502" for e in events)


@contextlib.asynccontextmanager
async def command(tmp_path: Path, *args: str) -> AsyncIterator[str]:
    """Run ``python -m zeroserve <args> --http-port 0 --ready-file F``; yield its base URL."""
    ready = tmp_path / f"ready-{args[0]}.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "zeroserve",
        *args,
        "--host",
        "127.0.0.1",
        "--http-port",
        "0",
        "--ready-file",
        str(ready),
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_PROXY": "*"},
    )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not ready.exists():
            if process.returncode is not None or loop.time() > deadline:
                stderr = await process.stderr.read() if process.stderr else b""
                raise AssertionError(f"{args[0]} did not start: {stderr.decode()[-2000:]}")
            await asyncio.sleep(0.05)
        yield f"http://127.0.0.1:{json.loads(ready.read_text())['http_port']}"
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=20)


async def test_logger_agent_command_runs_as_a_sidecar(tmp_path: Path, sink: EventSink) -> None:
    async with (
        serve(sink) as sink_server,
        serve(model_app()) as upstream,
        command(
            tmp_path,
            "logger-agent",
            "--upstream",
            upstream.url,
            "--log-url",
            sink_server.url,
            "--log-mode",
            "request",
            "--inference-service",
            "iris",
        ) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        response = await client.post("/v1/models/iris:predict", json={"instances": [[1, 2]]})
        (event,) = await sink.wait_for(1)
    assert response.json() == {"predictions": [3]}
    assert event.get_type() == REQUEST and event.get_extension("inferenceservicename") == "iris"


async def test_detector_command_rejects_bad_events_and_replies_once_fitted(tmp_path: Path) -> None:
    async with (
        command(tmp_path, "detector", "outlier", "--fit-first", "4") as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        bad = await client.post("/", json={"instances": [[1, 2]]})
        event = LibEvent(
            attributes={"type": REQUEST, "source": "t"},
            data={"instances": [[1.0, 2.0], [1.1, 2.2], [0.9, 1.9], [1.0, 2.1], [1.0, 2.0]]},
        )
        message = to_binary_event(event)
        scored = await client.post("/", headers=message.headers, content=message.body)
    assert bad.status_code == 400
    assert scored.status_code == 200 and scored.headers["ce-type"] == "org.kubeflow.serving.inference.outlier"
    assert len(scored.json()["data"]["is_outlier"]) == 1
