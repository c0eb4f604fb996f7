"""LightGBM and pandas inputs: a real server answers exactly what the framework predicts in-process.

The mixed-type sklearn pipeline (KServe's sample) takes V1 records, V1 dict-of-lists and V2 one input
per column (also MLServer's ``pd`` content type); LightGBM and XGBoost boosters trained on a DataFrame
with categorical columns take the same forms.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from zeroserve.servers.runtimes import ModelFormatError, RuntimeRegistry
from zeroserve.servers.samples import Sample, sklearn_pandas
from zeroserve.servers.samples import lightgbm as lightgbm_sample
from zeroserve.servers.testing import ThreadedServer, serve_in_thread

CATEGORIES = {"sex": ["female", "male"], "embarked": ["C", "Q", "S"]}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sample]:
    return {
        "lgb": lightgbm_sample.build(tmp_path_factory.mktemp("lgb")),
        "mixed": sklearn_pandas.build(tmp_path_factory.mktemp("mixed")),
    }


@pytest.fixture(scope="module")
def boosters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A LightGBM and an XGBoost booster trained on the mixed frame with categorical columns."""
    import lightgbm
    import pandas as pd
    import xgboost

    X, y = sklearn_pandas.training_frame()
    X = X.astype({c: pd.CategoricalDtype(v) for c, v in CATEGORIES.items()})
    lgb = lightgbm.train(
        {"objective": "binary", "verbose": -1, "num_threads": 1, "min_data_in_leaf": 5},
        lightgbm.Dataset(X, label=y),
        10,
    )
    train = xgboost.DMatrix(X, label=y, enable_categorical=True)
    xgb = xgboost.train({"objective": "binary:logistic", "nthread": 1}, train, 5)
    lgb_dir, xgb_dir = tmp_path_factory.mktemp("lgbcat"), tmp_path_factory.mktemp("xgbcat")
    lgb.save_model(str(lgb_dir / "model.bst"))
    xgb.save_model(str(xgb_dir / "model.json"))
    categorical = {c: pd.CategoricalDtype(v) for c, v in CATEGORIES.items()}
    rows = pd.DataFrame(sklearn_pandas.ROWS).astype(categorical)
    return {
        "lgb_dir": lgb_dir,
        "xgb_dir": xgb_dir,
        "lgb_expected": lgb.predict(rows).tolist(),
        "xgb_expected": xgb.predict(xgboost.DMatrix(rows, enable_categorical=True)).tolist(),
    }


@pytest.fixture(scope="module")
def server(samples: dict[str, Sample], boosters: dict[str, Any]) -> Iterator[ThreadedServer]:
    registry = RuntimeRegistry.builtin()
    models = [
        registry.create("lightgbm", "iris-lgb", samples["lgb"].model_dir),
        registry.create("sklearn", "mixed", samples["mixed"].model_dir),
        registry.create("lgbserver", "lgb-cat", boosters["lgb_dir"]),
        registry.create("xgboost", "xgb-cat", boosters["xgb_dir"]),
    ]
    with serve_in_thread(models) as srv:
        yield srv


def _close(got: list[Any], want: list[Any], tolerance: float) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), atol=tolerance)


def test_lightgbm_v1_v2_rest_and_grpc(server: ThreadedServer, samples: dict[str, Sample]) -> None:
    sample = samples["lgb"]
    v1 = httpx.post(f"{server.http_url}/v1/models/iris-lgb:predict", json=sample.v1_request)
    assert v1.status_code == 200, v1.text
    _close(v1.json()["predictions"], sample.expected, sample.tolerance)
    v2 = httpx.post(f"{server.http_url}/v2/models/iris-lgb/infer", json=sample.v2_request)
    assert v2.status_code == 200, v2.text
    out = v2.json()["outputs"][0]
    assert (out["name"], out["shape"], out["datatype"]) == ("output-0", [3, 3], "FP64")
    _close(np.reshape(out["data"], out["shape"]).tolist(), sample.expected, sample.tolerance)
    meta = httpx.get(f"{server.http_url}/v2/models/iris-lgb").json()
    assert meta["inputs"] == [{"name": "input-0", "datatype": "FP64", "shape": [-1, 4]}]
    rows = np.asarray(sample.v1_request["instances"], dtype=np.float64)
    with grpcclient.InferenceServerClient(server.grpc_target) as client:
        tensor = grpcclient.InferInput("input-0", list(rows.shape), "FP64")
        tensor.set_data_from_numpy(rows)
        answer = client.infer("iris-lgb", [tensor]).as_numpy("output-0")
    _close(answer.tolist(), sample.expected, sample.tolerance)


def test_lightgbm_wrong_width_is_a_400_naming_the_width(server: ThreadedServer) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/iris-lgb:predict", json={"instances": [[1.0, 2.0]]})
    assert resp.status_code == 400
    assert "expected 4 features" in resp.json()["error"]


def test_lightgbm_wrong_file_format_is_a_load_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "model.bst").write_text("this is not a booster\n")
    model = RuntimeRegistry.builtin().create("lightgbm", "bad", tmp_path)
    with pytest.raises(ModelFormatError, match=r"model\.bst is not a LightGBM text model"):
        model.load()


@pytest.mark.parametrize("form", ["dict_of_lists", "records", "columnar"])
def test_mixed_pipeline_takes_v1_frames(
    server: ThreadedServer, samples: dict[str, Sample], form: str
) -> None:
    sample = samples["mixed"]
    body = {
        "dict_of_lists": sample.v1_request,
        "records": sample.extra["records_request"],
        "columnar": {"inputs": sklearn_pandas.ROWS},
    }[form]
    resp = httpx.post(f"{server.http_url}/v1/models/mixed:predict", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"predictions": sample.expected}


@pytest.mark.parametrize("content_type", [None, "pd"])
def test_mixed_pipeline_takes_v2_one_input_per_column(
    server: ThreadedServer, samples: dict[str, Sample], content_type: str | None
) -> None:
    sample = samples["mixed"]
    body = dict(sample.v2_request or {})
    if content_type:
        body["parameters"] = {"content_type": content_type}
    resp = httpx.post(f"{server.http_url}/v2/models/mixed/infer", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["outputs"][0]["data"] == sample.expected


def test_mixed_pipeline_over_grpc_bytes_columns(server: ThreadedServer, samples: dict[str, Sample]) -> None:
    tensors = []
    for name, values in sklearn_pandas.ROWS.items():
        text = isinstance(values[0], str)
        arr = np.array(values, dtype=object if text else np.float64)
        tensor = grpcclient.InferInput(name, [len(values)], "BYTES" if text else "FP64")
        tensor.set_data_from_numpy(arr)
        tensors.append(tensor)
    with grpcclient.InferenceServerClient(server.grpc_target) as client:
        answer = client.infer("mixed", tensors).as_numpy("output-0")
    assert answer.tolist() == samples["mixed"].expected


def test_mixed_pipeline_names_a_missing_column(server: ThreadedServer) -> None:
    rows = {k: v for k, v in sklearn_pandas.ROWS.items() if k != "sex"}
    resp = httpx.post(f"{server.http_url}/v1/models/mixed:predict", json={"instances": [rows]})
    assert resp.status_code == 400
    assert "missing column(s) ['sex']" in resp.json()["error"]
    ragged = dict(sklearn_pandas.ROWS, age=[1.0])
    resp = httpx.post(f"{server.http_url}/v1/models/mixed:predict", json={"instances": [ragged]})
    assert resp.status_code == 400
    assert "instance 0" in resp.json()["error"]


@pytest.mark.parametrize(("model", "key"), [("lgb-cat", "lgb_expected"), ("xgb-cat", "xgb_expected")])
def test_boosters_fitted_on_categorical_frames(
    server: ThreadedServer, samples: dict[str, Sample], boosters: dict[str, Any], model: str, key: str
) -> None:
    mixed = samples["mixed"]
    for body in (mixed.v1_request, mixed.extra["records_request"]):
        resp = httpx.post(f"{server.http_url}/v1/models/{model}:predict", json=body)
        assert resp.status_code == 200, resp.text
        _close(resp.json()["predictions"], boosters[key], 1e-6)
    resp = httpx.post(f"{server.http_url}/v2/models/{model}/infer", json=mixed.v2_request)
    assert resp.status_code == 200, resp.text
    _close(resp.json()["outputs"][0]["data"], boosters[key], 1e-6)


def test_dict_of_lists_under_batching(samples: dict[str, Sample]) -> None:
    """A dict-of-lists instance is a block of rows: with batching on it runs alone, all rows answered."""
    import asyncio

    from zeroserve.servers.settings import ServerSettings

    sample = samples["mixed"]
    settings = ServerSettings(
        host="127.0.0.1",
        http_port=0,
        grpc_port=-1,
        configure_logging=False,
        batcher_enabled=True,
        batcher_max_latency_ms=50,
    )
    model = RuntimeRegistry.builtin().create("sklearn", "mixed", sample.model_dir)
    with serve_in_thread([model], settings) as srv:

        async def send() -> list[httpx.Response]:
            async with httpx.AsyncClient() as client:
                url = f"{srv.http_url}/v1/models/mixed:predict"
                bodies = [sample.v1_request, sample.extra["records_request"]] * 3
                return await asyncio.gather(*(client.post(url, json=b) for b in bodies))

        answers = asyncio.run(send())
    assert [r.status_code for r in answers] == [200] * 6
    assert all(r.json() == {"predictions": sample.expected} for r in answers)


def test_lightgbm_kserve_sample_request(tmp_path: Path) -> None:
    """KServe's LightGBM sample: a booster fitted on a DataFrame, columns sent as pandas' {index: value}."""
    import lightgbm
    import pandas as pd
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.data.rename(columns=lambda c: c.replace(" ", "_"))
    booster = lightgbm.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1, "num_threads": 1},
        lightgbm.Dataset(frame, label=iris.target),
        5,
    )
    booster.save_model(str(tmp_path / "model.bst"))
    row = {
        "sepal_width_(cm)": 3.5,
        "petal_length_(cm)": 1.4,
        "petal_width_(cm)": 0.2,
        "sepal_length_(cm)": 5.1,
    }
    body = {"inputs": [{name: {"0": value} for name, value in row.items()}]}
    expected = booster.predict(pd.DataFrame([row])[list(frame.columns)]).tolist()
    model = RuntimeRegistry.builtin().create("lightgbm", "iris", tmp_path)
    with serve_in_thread([model]) as srv:
        resp = httpx.post(f"{srv.http_url}/v1/models/iris:predict", json=body)
    assert resp.status_code == 200, resp.text
    _close(resp.json()["predictions"], expected, 1e-12)
