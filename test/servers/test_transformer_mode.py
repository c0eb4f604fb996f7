"""Transformer mode: a model with a predictor forwards its preprocessed payload to a real predictor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.http as triton
from sample_models import DeclaredModel, SumModel
from servers_support import BackgroundServer, serve_in_background

from zeroserve.servers import InferRequest, Model, PredictorConfig


class ScaleTransformer(Model):
    """Multiplies the inputs by 10 in ``preprocess``; ``predict`` is KServe's default (forward)."""

    def preprocess(self, payload: Any, headers: Any = None) -> Any:
        if isinstance(payload, InferRequest):
            tensor = payload.inputs[0]
            tensor.set_data_from_numpy(tensor.as_numpy() * 10, binary_data=False)
            return payload
        return {"instances": (np.asarray(payload["instances"]) * 10).tolist()}

    def postprocess(self, result: Any, headers: Any = None) -> Any:
        if isinstance(result, dict):
            result["via"] = "transformer"
        return result


@pytest.fixture(scope="module")
def predictor() -> Iterator[BackgroundServer]:
    server = serve_in_background([SumModel("iris"), DeclaredModel("declared")])
    yield server
    server.stop()


def _transformer(config: PredictorConfig, name: str = "iris") -> BackgroundServer:
    model = ScaleTransformer(name, predictor_config=config)
    return serve_in_background([model], grpc_port=-1)


def test_v1_forwarding(predictor: BackgroundServer) -> None:
    assert predictor.handle is not None
    transformer = _transformer(PredictorConfig(f"127.0.0.1:{predictor.handle.http_port}", "v1"))
    try:
        assert transformer.handle is not None
        r = httpx.post(
            f"{transformer.handle.url}/v1/models/iris:predict",
            json={"instances": [[1, 2], [3, 4]]},
            headers={"x-request-id": "through"},
            trust_env=False,
        )
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": [30.0, 70.0], "via": "transformer"}
        assert r.headers["x-request-id"] == "through"
    finally:
        transformer.stop()


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_v2_forwarding_rest_and_grpc(predictor: BackgroundServer, protocol: str) -> None:
    assert predictor.handle is not None
    port = predictor.handle.http_port if protocol == "v2" else predictor.handle.grpc_port
    transformer = _transformer(PredictorConfig(f"127.0.0.1:{port}", protocol))  # type: ignore[arg-type]
    try:
        assert transformer.handle is not None
        client = triton.InferenceServerClient(f"127.0.0.1:{transformer.handle.http_port}")
        x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
        inp = triton.InferInput("x", list(x.shape), "FP32")
        inp.set_data_from_numpy(x, binary_data=True)
        result = client.infer("iris", [inp])
        np.testing.assert_allclose(result.as_numpy("output-0"), (x * 10).sum(axis=1))
        client.close()
    finally:
        transformer.stop()


@pytest.mark.parametrize("protocol", ["v2", "grpc-v2"])
def test_predictor_errors_pass_through(predictor: BackgroundServer, protocol: str) -> None:
    assert predictor.handle is not None
    port = predictor.handle.http_port if protocol == "v2" else predictor.handle.grpc_port
    transformer = _transformer(PredictorConfig(f"127.0.0.1:{port}", protocol), name="declared")  # type: ignore[arg-type]
    try:
        assert transformer.handle is not None
        url = f"{transformer.handle.url}/v2/models/declared/infer"
        bad = {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]}]}
        r = httpx.post(url, json=bad, trust_env=False)
        assert r.status_code == 400
        assert "expected shape [-1, 4], got [1, 3]" in r.json()["error"]
        assert "predictor" in r.json()["error"]
        good = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
        r = httpx.post(url, json=good, trust_env=False)
        assert r.status_code == 200, r.text
        assert r.json()["outputs"][0]["data"] == [20, 40, 60, 80]
    finally:
        transformer.stop()


def test_unreachable_predictor_is_503() -> None:
    transformer = _transformer(PredictorConfig("127.0.0.1:1", "v1"))
    try:
        assert transformer.handle is not None
        r = httpx.post(
            f"{transformer.handle.url}/v1/models/iris:predict", json={"instances": [[1]]}, trust_env=False
        )
        assert r.status_code == 503
        assert (
            "predictor predict at http://127.0.0.1:1/v1/models/iris:predict unreachable" in r.json()["error"]
        )
    finally:
        transformer.stop()


def test_cluster_host_reached_through_http_proxy(
    predictor: BackgroundServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP_PROXY (the local gateway, per docs/contracts.md) carries requests for cluster hosts.

    The predictor server itself stands in for the gateway: an HTTP proxy request carries the
    absolute URL, whose path the server routes as usual.
    """
    assert predictor.handle is not None
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{predictor.handle.http_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transformer = _transformer(PredictorConfig("iris-predictor.default.svc.cluster.local", "v1"))
    monkeypatch.delenv("HTTP_PROXY")
    try:
        assert transformer.handle is not None
        r = httpx.post(
            f"{transformer.handle.url}/v1/models/iris:predict", json={"instances": [[1, 1]]}, trust_env=False
        )
        assert r.status_code == 200, r.text
        assert r.json()["predictions"] == [20.0]
    finally:
        transformer.stop()


def test_kserve_style_predictor_host_attribute() -> None:
    model = Model("t")
    model.protocol = "v2"
    model.predictor_host = "iris-predictor.default"
    assert model.predictor_config == PredictorConfig("iris-predictor.default", "v2")
    model.protocol = "grpc-v2"
    assert model.predictor_config is not None and model.predictor_config.predictor_protocol == "grpc-v2"
    with pytest.raises(ValueError, match="v1, v2 or grpc-v2"):
        model.protocol = "v3"
