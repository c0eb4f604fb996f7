"""Metrics on the server's own registry, request ids and structured JSON logs."""

from __future__ import annotations

import io
import logging
import re

import httpx
import numpy as np
import orjson
import tritonclient.grpc as tgrpc
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from zeroserve.process.logs import JsonFormatter, new_request_id_var
from zeroserve.servers import ServerHandle
from zeroserve.servers.metrics import ServerMetrics


def _samples(http: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = http.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _count(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_counts_and_latency_per_model_protocol_status(
    http: httpx.Client, handle: ServerHandle
) -> None:
    before = _samples(http)
    http.post("/v1/models/sum:predict", json={"instances": [[1, 2]]})
    http.post("/v1/models/sum:predict", content=b"{bad")
    body = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}
    http.post("/v2/models/sum/infer", json=body)
    client = tgrpc.InferenceServerClient(handle.grpc_target)
    inp = tgrpc.InferInput("x", [1, 2], "FP32")
    inp.set_data_from_numpy(np.ones((1, 2), np.float32))
    client.infer("sum", [inp])
    client.close()
    after = _samples(http)
    for protocol, status, delta in [
        ("v1", "200", 1),
        ("v1", "400", 1),
        ("v2", "200", 1),
        ("grpc-v2", "OK", 1),
    ]:
        labels = {"model": "sum", "protocol": protocol, "status": status}
        assert (
            _count(after, "zeroserve_requests_total", **labels)
            - _count(before, "zeroserve_requests_total", **labels)
            == delta
        ), labels
        assert _count(after, "zeroserve_request_duration_seconds_count", **labels) > _count(
            before, "zeroserve_request_duration_seconds_count", **labels
        )
    assert _count(after, "zeroserve_model_load_seconds_count", model="sum") == 1


def test_unknown_model_names_do_not_become_labels(http: httpx.Client) -> None:
    http.post("/v1/models/made-up-name:predict", json={"instances": [1]})
    assert "made-up-name" not in http.get("/metrics").text


def test_metrics_use_the_injected_registry_only() -> None:
    registry = CollectorRegistry()
    metrics = ServerMetrics(registry)
    metrics.observe_request("m", "v1", "200", 0.01)
    assert (
        registry.get_sample_value(
            "zeroserve_requests_total", {"model": "m", "protocol": "v1", "status": "200"}
        )
        == 1
    )
    other = ServerMetrics(CollectorRegistry())  # a second server in one process does not collide
    assert other.registry is not registry


def test_request_id_echoed_or_generated(http: httpx.Client) -> None:
    assert http.get("/", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
    generated = http.get("/v2/health/live").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert http.get("/v2/health/live").headers["x-request-id"] != generated


def test_json_logs_written_inside_a_model_carry_the_request_id(
    http: httpx.Client, handle: ServerHandle
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(handle.request_id))
    model_logger = logging.getLogger("test.sample_models.logging")
    model_logger.addHandler(handler)
    model_logger.setLevel(logging.INFO)
    try:
        r = http.post(
            "/v1/models/logging:predict", json={"instances": [1]}, headers={"x-request-id": "log-me"}
        )
        assert r.status_code == 200
    finally:
        model_logger.removeHandler(handler)
    line = orjson.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["request_id"] == "log-me"
    assert line["msg"] == "predicting inside the model"
    assert line["level"] == "INFO"
    assert line["logger"] == "test.sample_models.logging"
    assert line["ts"].endswith("Z")


def test_json_formatter_extra_fields_and_no_request() -> None:
    var = new_request_id_var()
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "hello %s", ("you",), None)
    record.status = 404
    doc = orjson.loads(JsonFormatter(var).format(record))
    assert doc["msg"] == "hello you"
    assert doc["status"] == 404
    assert "request_id" not in doc
