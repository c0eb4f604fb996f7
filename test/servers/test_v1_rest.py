"""V1 REST against a real server on a free port: routes, answers and every error path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from zeroserve.servers import ServerHandle


def _good_predict(http: httpx.Client) -> None:
    r = http.post("/v1/models/sum:predict", json={"instances": [[1, 2], [3, 4]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": [3.0, 7.0]}


def test_liveness_and_model_list(http: httpx.Client) -> None:
    assert http.get("/").json() == {"status": "alive"}
    models = http.get("/v1/models").json()["models"]
    assert {"sum", "declared", "multi", "failing", "headers"} <= set(models)
    assert http.get("/v1/models/sum").json() == {"name": "sum", "ready": True}


@pytest.mark.parametrize("key", ["instances", "inputs"])
def test_predict_accepts_instances_or_inputs(http: httpx.Client, key: str) -> None:
    r = http.post("/v1/models/sum:predict", json={key: [[1.5, 2.5, 1.0]]})
    assert r.status_code == 200
    assert r.json() == {"predictions": [5.0]}
    assert r.headers["content-type"] == "application/json"


def test_model_sees_headers_and_sets_response_headers(http: httpx.Client) -> None:
    r = http.post("/v1/models/headers:predict", json={"instances": [1]}, headers={"x-custom": "abc"})
    assert r.status_code == 200
    assert r.json() == {"predictions": ["abc"]}
    assert r.headers["x-model-header"] == "set-by-model"


def test_explain_without_explainer_is_501(http: httpx.Client) -> None:
    r = http.post("/v1/models/sum:explain", json={"instances": [[1, 2]]})
    assert r.status_code == 501
    assert "does not implement explain" in r.json()["error"]
    _good_predict(http)


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/v1/models/sum:predict", b"{not json", 400, "invalid JSON"),
        ("/v1/models/sum:predict", b"[1, 2]", 400, "expected a JSON object, got list"),
        ("/v1/models/sum:predict", b'{"instances": 5}', 400, 'Expected "instances" to be a list, got int'),
        ("/v1/models/sum:predict", b'{"inputs": "x"}', 400, 'Expected "inputs" to be a list, got str'),
        ("/v1/models/sum:predict", b'{"other": []}', 400, 'Expected "instances" or "inputs"'),
        ("/v1/models/nope:predict", b'{"instances": []}', 404, "Model with name nope does not exist."),
        ("/v1/models/failing:predict", b'{"instances": [1]}', 500, "RuntimeError : boom in predict"),
    ],
)
def test_errors_then_a_good_request(
    http: httpx.Client, path: str, body: bytes, status: int, message: str
) -> None:
    r = http.post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    assert set(r.json()) == {"error"}
    _good_predict(http)


def test_unknown_model_metadata_and_routes(http: httpx.Client) -> None:
    r = http.get("/v1/models/nope")
    assert r.status_code == 404
    assert r.json() == {"error": "Model with name nope does not exist."}
    assert http.get("/v1/nothing").status_code == 404
    r = http.get("/v1/models/sum:predict")
    assert r.status_code == 405
    assert "not allowed" in r.json()["error"]
    _good_predict(http)


def test_not_ready_model_answers_503_then_recovers(http: httpx.Client, handle: ServerHandle) -> None:
    model: Any = handle.dataplane.repository.get_model("sum")
    model.ready = False
    try:
        r = http.post("/v1/models/sum:predict", json={"instances": [[1, 2]]})
        assert r.status_code == 503
        assert r.json() == {"error": "Model with name sum is not ready."}
        assert http.get("/v1/models/sum").status_code == 503
        assert http.get("/v2/health/ready").status_code == 503
    finally:
        model.ready = True
    assert http.get("/v2/health/ready").json() == {"ready": True}
    _good_predict(http)


def test_oversized_body_is_413_and_server_survives(http: httpx.Client) -> None:
    big = b'{"instances": [' + b"1," * 40_000 + b"1]}"
    r = http.post("/v1/models/sum:predict", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "exceeds the limit of 65536 bytes" in r.json()["error"]
    _good_predict(http)


def test_oversized_chunked_body_is_413(http: httpx.Client) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b" " * 4096

    r = http.post("/v1/models/sum:predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "exceeds the limit" in r.json()["error"]
    _good_predict(http)


def test_seldon_predictions_route(http: httpx.Client) -> None:
    body = {"data": {"names": ["a", "b"], "ndarray": [[1, 2], [3, 4]]}}
    r = http.post("/api/v1.0/predictions", json=body, headers={"seldon-model": "sum"})
    assert r.status_code == 200, r.text
    assert r.json() == {"data": {"names": [], "ndarray": [3.0, 7.0]}, "meta": {}}
    r = http.post("/api/v1.0/predictions", json=body)
    assert r.status_code == 400
    assert "need a 'seldon-model' header when serving" in r.json()["status"]["info"]  # Seldon's error shape
    _good_predict(http)
