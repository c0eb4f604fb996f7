"""The logger-agent sidecar in-process, and the logger-agent command as a process."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from zeroserve.logger.agent import METRICS_PATH, create_agent_app
from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.testing import zeroserve_process
from zeroserve.process.listen import bind_socket

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


async def test_logger_agent_command_runs_as_a_sidecar(tmp_path: Path, sink: EventSink) -> None:
    async with (
        serve(sink) as sink_server,
        serve(model_app()) as upstream,
        zeroserve_process(
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


async def test_a_busy_port_is_one_line_naming_the_port_and_the_flag() -> None:
    taken = bind_socket("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zeroserve", "logger-agent", "--upstream", "http://127.0.0.1:9",
            "--log-url", "http://127.0.0.1:9", "--host", "127.0.0.1", "--http-port", str(port),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        taken.close()
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "--http-port" in lines[0], lines
