"""PayloadLoggerMiddleware against a real HTTP server and a real CloudEvents sink on port 0."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from zeroserve.logger.config import LoggerConfig, LogMode
from zeroserve.logger.emitter import PayloadLogger
from zeroserve.logger.middleware import PayloadLoggerMiddleware

from .conftest import EventSink, serve

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"


def model_app() -> Starlette:
    """A tiny V1 / V2 model server: sums each instance; 400 on a bad payload; GET health."""

    async def v1_predict(request: Request) -> JSONResponse:
        body = await request.json()
        if "instances" not in body:
            return JSONResponse({"error": "missing instances"}, status_code=400)
        return JSONResponse({"predictions": [sum(row) for row in body["instances"]]})

    async def v2_infer(request: Request) -> JSONResponse:
        body = await request.json()
        data = body["inputs"][0]["data"]
        return JSONResponse({"model_name": "iris", "outputs": [{"name": "out", "data": data}]})

    async def live(request: Request) -> JSONResponse:
        return JSONResponse({"status": "alive"})

    return Starlette(
        routes=[
            Route("/v1/models/iris:predict", v1_predict, methods=["POST"]),
            Route("/v2/models/iris/infer", v2_infer, methods=["POST"]),
            Route("/v2/health/live", live),
        ]
    )


def config_for(url: str, **overrides: object) -> LoggerConfig:
    fields: dict[str, object] = {
        "url": url,
        "inference_service": "iris",
        "namespace": "models",
        "component": "predictor",
        "metadata_headers": "x-user,x-tenant",
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
    }
    fields.update(overrides)
    return LoggerConfig.model_validate(fields)


async def test_request_and_response_events_share_id_and_carry_kserve_attributes(sink: EventSink) -> None:
    async with serve(sink) as sink_server:
        app = PayloadLoggerMiddleware(model_app(), config_for(sink_server.url))
        async with serve(app) as model, httpx.AsyncClient(base_url=model.url) as client:
            payload = {"instances": [[1, 2], [3, 4]]}
            response = await client.post(
                "/v1/models/iris:predict", json=payload, headers={"X-User": "alice", "X-Other": "no"}
            )
            assert response.json() == {"predictions": [3, 7]}
            events = await sink.wait_for(2)
    by_type = {event.get_type(): event for event in events}
    assert set(by_type) == {REQUEST, RESPONSE}
    req, resp = by_type[REQUEST], by_type[RESPONSE]
    assert req.get_id() == resp.get_id()
    assert req.get_source() == "http://localhost:9081/"
    for event in (req, resp):
        ext = event.get_extension
        identity = (ext("inferenceservicename"), ext("namespace"), ext("component"))
        assert identity == ("iris", "models", "predictor")
        assert json.loads(ext("metadata")) == {"X-User": ["alice"]}
        assert event.get_datacontenttype() == "application/json"
    assert req.get_data() == payload
    assert resp.get_data() == {"predictions": [3, 7]}
    assert resp.get_extension("statuscode") == "200"


async def test_incoming_ce_id_is_the_correlation_key_and_v2_is_logged(sink: EventSink) -> None:
    async with serve(sink) as sink_server:
        app = PayloadLoggerMiddleware(model_app(), config_for(sink_server.url))
        async with serve(app) as model, httpx.AsyncClient(base_url=model.url) as client:
            v2 = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1.0, 2.0]}]}
            await client.post("/v2/models/iris/infer", json=v2, headers={"ce-id": "corr-42"})
            events = await sink.wait_for(2)
    assert {event.get_id() for event in events} == {"corr-42"}
    assert next(e for e in events if e.get_type() == REQUEST).get_data() == v2


@pytest.mark.parametrize(("mode", "types"), [("request", {REQUEST}), ("response", {RESPONSE})])
async def test_mode_selects_which_half_is_logged(sink: EventSink, mode: str, types: set[str]) -> None:
    async with serve(sink) as sink_server:
        app = PayloadLoggerMiddleware(model_app(), config_for(sink_server.url, mode=LogMode(mode)))
        async with serve(app) as model, httpx.AsyncClient(base_url=model.url) as client:
            for _ in range(3):
                await client.post("/v1/models/iris:predict", json={"instances": [[1]]})
            await client.get("/v2/health/live")
            await sink.wait_for(3)
            await app.aclose()  # flush: nothing else may arrive
    assert {event.get_type() for event in sink.events} == types
    assert len(sink.events) == 3


async def test_error_responses_are_logged_with_their_status_code(sink: EventSink) -> None:
    async with serve(sink) as sink_server:
        app = PayloadLoggerMiddleware(model_app(), config_for(sink_server.url))
        async with serve(app) as model, httpx.AsyncClient(base_url=model.url) as client:
            response = await client.post("/v1/models/iris:predict", json={"wrong": 1})
            assert response.status_code == 400
            events = await sink.wait_for(2)
    resp = next(event for event in events if event.get_type() == RESPONSE)
    assert resp.get_extension("statuscode") == "400"
    assert resp.get_data() == {"error": "missing instances"}


async def test_a_failing_sink_is_retried_with_backoff_until_it_accepts() -> None:
    sink = EventSink(fail_first=2, fail_status=503)
    registry = CollectorRegistry()
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    async with serve(sink) as sink_server:
        config = config_for(
            sink_server.url, mode=LogMode.REQUEST, workers=1, backoff_initial=0.5, backoff_max=10
        )
        emitter = PayloadLogger(config, registry=registry, sleep=fake_sleep)
        app = PayloadLoggerMiddleware(model_app(), config, logger=emitter)
        async with serve(app) as model, httpx.AsyncClient(base_url=model.url) as client:
            await client.post("/v1/models/iris:predict", json={"instances": [[1]]})
            await sink.wait_for(1)
            await app.aclose()
    assert sink.attempts == 3
    assert delays == [0.5, 1.0]
    assert registry.get_sample_value("zeroserve_logger_events_retried_total", {"type": REQUEST}) == 2
    assert registry.get_sample_value("zeroserve_logger_events_sent_total", {"type": REQUEST}) == 1


async def test_a_rejecting_sink_is_not_retried() -> None:
    sink = EventSink(reject_all=True, fail_status=400)
    registry = CollectorRegistry()
    async with serve(sink) as sink_server:
        config = config_for(sink_server.url, mode=LogMode.REQUEST, workers=1)
        app = PayloadLoggerMiddleware(model_app(), config, registry=registry)
        async with serve(app) as model, httpx.AsyncClient(base_url=model.url) as client:
            await client.post("/v1/models/iris:predict", json={"instances": [[1]]})
            await app.aclose()
    assert sink.attempts == 1
    assert registry.get_sample_value("zeroserve_logger_events_dropped_total", {"reason": "rejected"}) == 1


async def test_a_dead_sink_fills_the_bounded_queue_and_counts_drops_without_slowing_predictions() -> None:
    registry = CollectorRegistry()
    never = asyncio.Event()

    async def stuck_sleep(seconds: float) -> None:
        await never.wait()  # senders stay stuck in backoff: the queue can only fill

    # port 9 (discard) on 127.0.0.1 refuses connections: the sink is down.
    config = config_for("http://127.0.0.1:9/", queue_size=20, workers=2, shutdown_timeout=0)
    emitter = PayloadLogger(config, registry=registry, sleep=stuck_sleep)
    app = PayloadLoggerMiddleware(model_app(), config, logger=emitter)
    async with serve(app) as model, httpx.AsyncClient(base_url=model.url) as client:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(100):
            response = await client.post("/v1/models/iris:predict", json={"instances": [[1, 2]]})
            assert response.status_code == 200
        elapsed = loop.time() - started
        assert emitter.depth == 20  # full, and it stays so
        await app.aclose()
    dropped = registry.get_sample_value("zeroserve_logger_events_dropped_total", {"reason": "queue_full"})
    queued = sum(
        registry.get_sample_value("zeroserve_logger_events_queued_total", {"type": t}) or 0
        for t in (REQUEST, RESPONSE)
    )
    assert 20 < queued <= 20 + 2 * config.batch_size  # the queue plus the batch each stuck sender holds
    assert dropped == 200 - queued
    assert elapsed < 10  # 100 predictions; a blocking logger would hang on the dead sink
