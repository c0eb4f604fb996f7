"""Real clients (httpx V1/V2, tritonclient HTTP JSON and binary, tritonclient gRPC) against a real server
get exactly the predictions each framework gives in-process on the same data."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from runtime_support import SKLEARN, SKLEARN_PROBA, TORCH, XGBOOST

from zeroserve.servers.testing import ThreadedServer

Predictor = Callable[[np.ndarray], np.ndarray]


@pytest.fixture(scope="module")
def expected(sklearn_dir: Path, xgboost_dir: Path, torch_dir: Path) -> dict[str, Predictor]:
    """Each served model's in-process prediction function, loaded straight from its file."""
    import joblib
    import torch
    import xgboost

    estimator = joblib.load(sklearn_dir / "model.joblib")
    booster = xgboost.Booster(model_file=str(xgboost_dir / "model.json"))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
        module = torch.jit.load(str(torch_dir / "model.pt"))

    def torch_predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out: np.ndarray = module(torch.from_numpy(x.astype(np.float32))).numpy()
            return out

    return {
        SKLEARN: estimator.predict,
        SKLEARN_PROBA: estimator.predict_proba,
        XGBOOST: lambda x: booster.predict(xgboost.DMatrix(x.astype(np.float32))),
        TORCH: torch_predict,
    }


@pytest.fixture(scope="module")
def rows(iris: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A spread of iris rows covering all three classes."""
    return iris[0][::7]


MODELS = [SKLEARN, SKLEARN_PROBA, XGBOOST, TORCH]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("key", ["instances", "inputs"])
def test_v1_httpx(
    server: ThreadedServer, expected: dict[str, Predictor], rows: np.ndarray, model: str, key: str
) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/{model}:predict", json={key: rows.tolist()})
    assert resp.status_code == 200, resp.text
    # V1 JSON numbers are float64; torch and xgboost compute in float32 like the server.
    want = expected[model](rows)
    assert resp.json() == {"predictions": want.tolist()}


@pytest.mark.parametrize("model", MODELS)
def test_v2_httpx_json(
    server: ThreadedServer, expected: dict[str, Predictor], rows: np.ndarray, model: str
) -> None:
    x = rows.astype(np.float32)
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "input-0", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}
        ],
    }
    resp = httpx.post(f"{server.http_url}/v2/models/{model}/infer", json=body)
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["model_name"] == model and answer["id"] == "req-1"
    [output] = answer["outputs"]
    want = expected[model](x)
    assert output["name"] == "output-0"
    assert output["shape"] == list(want.shape)
    # JSON carries the shortest decimal of each value; read back as the declared datatype it is exact.
    dtype = {"FP32": np.float32, "FP64": np.float64, "INT64": np.int64}[output["datatype"]]
    assert np.dtype(dtype) == want.dtype
    np.testing.assert_array_equal(np.asarray(output["data"], dtype=dtype).reshape(want.shape), want)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_http(
    server: ThreadedServer, expected: dict[str, Predictor], rows: np.ndarray, model: str, binary: bool
) -> None:
    x = rows.astype(np.float32)
    client = httpclient.InferenceServerClient(server.http_url.removeprefix("http://"))
    try:
        tensor = httpclient.InferInput("input-0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x, binary_data=binary)
        result = client.infer(
            model, [tensor], outputs=[httpclient.InferRequestedOutput("output-0", binary_data=binary)]
        )
        got = result.as_numpy("output-0")
    finally:
        client.close()
    want = expected[model](x)
    assert got is not None and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("model", MODELS)
def test_tritonclient_grpc(
    server: ThreadedServer, expected: dict[str, Predictor], rows: np.ndarray, model: str
) -> None:
    x = rows.astype(np.float32)
    client = grpcclient.InferenceServerClient(server.grpc_target)
    try:
        tensor = grpcclient.InferInput("input-0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        result = client.infer(model, [tensor])
        got = result.as_numpy("output-0")
    finally:
        client.close()
    want = expected[model](x)
    assert got is not None and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_metadata_describes_the_tensors(server: ThreadedServer) -> None:
    sk = httpx.get(f"{server.http_url}/v2/models/{SKLEARN}").json()
    assert sk["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}]
    assert sk["outputs"] == [{"name": "output-0", "datatype": "INT64", "shape": [-1]}]
    proba = httpx.get(f"{server.http_url}/v2/models/{SKLEARN_PROBA}").json()
    assert proba["outputs"] == [{"name": "output-0", "datatype": "FP64", "shape": [-1, 3]}]
    xgb = httpx.get(f"{server.http_url}/v2/models/{XGBOOST}").json()
    assert xgb["inputs"] == [{"name": "input-0", "datatype": "FP32", "shape": [-1, 4]}]
    assert xgb["outputs"] == [{"name": "output-0", "datatype": "FP32", "shape": [-1, 3]}]


def test_wrong_width_is_a_400_naming_the_shape_and_the_server_keeps_serving(
    server: ThreadedServer, rows: np.ndarray, expected: dict[str, Predictor]
) -> None:
    for model in (SKLEARN, XGBOOST):
        resp = httpx.post(
            f"{server.http_url}/v1/models/{model}:predict", json={"instances": [[1.0, 2.0, 3.0]]}
        )
        assert resp.status_code == 400
        assert resp.json() == {
            "error": f"model {model}: expected 4 features per instance (shape [N, 4]), got shape [1, 3]"
        }
    resp = httpx.post(f"{server.http_url}/v1/models/{TORCH}:predict", json={"instances": [[1.0, 2.0, 3.0]]})
    assert resp.status_code == 400
    assert resp.json()["error"].startswith(f"model {TORCH}: the module rejected the input")
    ok = httpx.post(f"{server.http_url}/v1/models/{SKLEARN}:predict", json={"instances": rows.tolist()})
    assert ok.status_code == 200 and ok.json()["predictions"] == expected[SKLEARN](rows).tolist()


def test_non_numeric_instances_are_a_400(server: ThreadedServer) -> None:
    resp = httpx.post(
        f"{server.http_url}/v1/models/{XGBOOST}:predict", json={"instances": [["a", "b", "c", "d"]]}
    )
    assert resp.status_code == 400
    assert "must hold numbers" in resp.json()["error"]


def test_dict_instances_need_feature_names(server: ThreadedServer) -> None:
    resp = httpx.post(
        f"{server.http_url}/v1/models/{SKLEARN}:predict",
        json={"instances": [{"a": 1, "b": 2, "c": 3, "d": 4}]},
    )
    assert resp.status_code == 400
    assert "the model has no feature names" in resp.json()["error"]


def test_v2_one_column_per_feature_is_refused_by_the_declared_inputs(
    server: ThreadedServer, rows: np.ndarray
) -> None:
    x = rows.astype(np.float32)
    inputs = [
        {"name": f"f{i}", "shape": [len(x)], "datatype": "FP32", "data": x[:, i].tolist()} for i in range(4)
    ]
    resp = httpx.post(f"{server.http_url}/v2/models/{XGBOOST}/infer", json={"inputs": inputs})
    assert resp.status_code == 400
    assert "missing input 'input-0'" in resp.json()["error"]
