"""The MLServer-compatible runtime: model-settings.json (one model or MLServer's multi-model layout),
V2 only, outputs named as MLServer names them, and the settings' batching handed to the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from zeroserve.servers.batching.policy import BatchConfig
from zeroserve.servers.model import Model
from zeroserve.servers.runtimes import ModelFormatError, ModelMissingError, RuntimeRegistry
from zeroserve.servers.samples import Sample
from zeroserve.servers.samples import mlserver as mlserver_sample
from zeroserve.servers.testing import ThreadedServer, serve_in_thread


def _serve(folder: Path, name: str = "model", **options: Any) -> list[Model]:
    model = RuntimeRegistry.builtin().create("mlserver", name, folder, options)
    expand = model.served_models  # type: ignore[attr-defined]
    models: list[Model] = expand()
    return models


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return mlserver_sample.build(tmp_path_factory.mktemp("mls"))


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Any]]]:
    folder = tmp_path_factory.mktemp("repo")
    return folder, mlserver_sample.build_repository(folder)


@pytest.fixture(scope="module")
def server(sample: Sample, repository: tuple[Path, dict[str, list[Any]]]) -> Iterator[ThreadedServer]:
    models = _serve(sample.model_dir) + _serve(repository[0])
    with serve_in_thread(models) as srv:
        yield srv


def test_settings_name_version_and_batching(sample: Sample) -> None:
    (model,) = _serve(sample.model_dir)
    assert (model.name, getattr(model, "version", None)) == ("iris-mlserver", "v0.1.0")
    assert getattr(model, "batching", None) == BatchConfig(max_batch_size=8, max_latency_ms=50.0)
    (named,) = _serve(sample.model_dir, name="from-kserve")
    assert named.name == "from-kserve"


def test_v2_rest_output_predict_and_version_paths(server: ThreadedServer, sample: Sample) -> None:
    for path in ("iris-mlserver", "iris-mlserver/versions/v0.1.0"):
        resp = httpx.post(f"{server.http_url}/v2/models/{path}/infer", json=sample.v2_request)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        assert doc["outputs"][0]["name"] == "predict"
        assert doc["outputs"][0]["data"] == sample.expected
        assert doc["model_version"] == "v0.1.0"
    meta = httpx.get(f"{server.http_url}/v2/models/iris-mlserver").json()
    assert meta["versions"] == ["v0.1.0"]
    assert meta["outputs"][0]["name"] == "predict"
    other = httpx.post(f"{server.http_url}/v2/models/iris-mlserver/versions/v9/infer", json=sample.v2_request)
    assert other.status_code == 404


def test_predict_proba_when_the_request_asks_for_it(server: ThreadedServer, sample: Sample) -> None:
    body = dict(sample.v2_request or {}, outputs=[{"name": "predict_proba"}])
    resp = httpx.post(f"{server.http_url}/v2/models/iris-mlserver/infer", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()["outputs"][0]
    assert (out["name"], out["shape"]) == ("predict_proba", [3, 3])
    assert np.argmax(np.reshape(out["data"], out["shape"]), axis=1).tolist() == sample.expected
    body = dict(sample.v2_request or {}, outputs=[{"name": "scores"}])
    resp = httpx.post(f"{server.http_url}/v2/models/iris-mlserver/infer", json=body)
    assert resp.status_code == 400
    assert "unknown output(s) ['scores']" in resp.json()["error"]


def test_v1_is_refused_with_the_v2_path(server: ThreadedServer, sample: Sample) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/iris-mlserver:predict", json=sample.v1_request)
    assert resp.status_code == 400
    assert "POST /v2/models/iris-mlserver/infer" in resp.json()["error"]


@pytest.mark.parametrize("name", ["iris-tree", "iris-xgb", "iris-lgb"])
def test_multi_model_folder(
    server: ThreadedServer, repository: tuple[Path, dict[str, list[Any]]], name: str
) -> None:
    from sklearn.datasets import load_iris

    rows = load_iris().data[:3]
    body = {
        "inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": rows.ravel().tolist()}]
    }
    resp = httpx.post(f"{server.http_url}/v2/models/{name}/infer", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()["outputs"][0]
    assert out["name"] == "predict"
    got = np.reshape(out["data"], out["shape"])
    np.testing.assert_allclose(got, np.asarray(repository[1][name]), atol=1e-6)


def test_pandas_content_type_and_grpc(
    server: ThreadedServer, repository: tuple[Path, dict[str, list[Any]]]
) -> None:
    from sklearn.datasets import load_iris

    rows = load_iris().data[:3]
    columns = [
        {"name": f"f{j}", "shape": [3], "datatype": "FP64", "data": rows[:, j].tolist()} for j in range(4)
    ]
    body = {"parameters": {"content_type": "pd"}, "inputs": columns}
    resp = httpx.post(f"{server.http_url}/v2/models/iris-tree/infer", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["outputs"][0]["data"] == repository[1]["iris-tree"]
    with grpcclient.InferenceServerClient(server.grpc_target) as client:
        tensor = grpcclient.InferInput("input-0", [3, 4], "FP64")
        tensor.set_data_from_numpy(rows)
        answer = client.infer("iris-lgb", [tensor]).as_numpy("predict")
    np.testing.assert_allclose(answer, repository[1]["iris-lgb"], atol=1e-9)


def test_implementation_from_the_environment_when_no_settings_file(
    tmp_path: Path, sample: Sample, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "model.joblib").write_bytes((sample.model_dir / "model.joblib").read_bytes())
    (tmp_path / "other.json").write_text("{}")
    with pytest.raises(
        ModelMissingError, match=r"holds no model-settings\.json, no implementation was given"
    ):
        _serve(tmp_path)
    monkeypatch.setenv("MLSERVER_MODEL_IMPLEMENTATION", "mlserver_sklearn.SKLearnModel")
    (model,) = _serve(tmp_path, name="env-model")
    model.load()
    assert model.ready and model.name == "env-model"
    monkeypatch.setenv("MLSERVER_MODEL_IMPLEMENTATION", "")  # KServe's empty {{.Labels.modelClass}}
    (tmp_path / "other.json").unlink()
    (guessed,) = _serve(tmp_path, name="guessed")
    guessed.load()
    assert guessed.ready


def test_bad_settings_name_the_file_and_field(tmp_path: Path) -> None:
    mlserver_sample.write_settings(tmp_path / "a", "a", "mlserver_mllib.MLlibModel", "./m")
    with pytest.raises(
        ModelFormatError, match=r"a/model-settings\.json: implementation 'mlserver_mllib\.MLlibModel'"
    ):
        _serve(tmp_path / "a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "model-settings.json").write_text(json.dumps({"name": "b", "max_batch_size": "x"}))
    with pytest.raises(ModelFormatError, match="implementation is required"):
        _serve(tmp_path / "b")


def test_settings_batching_joins_concurrent_requests(server: ThreadedServer, sample: Sample) -> None:
    """max_batch_size / max_batch_time batch this model although the server's batching is off."""
    import asyncio

    async def send() -> list[httpx.Response]:
        async with httpx.AsyncClient() as client:
            url = f"{server.http_url}/v2/models/iris-mlserver/infer"
            return await asyncio.gather(*(client.post(url, json=sample.v2_request) for _ in range(8)))

    answers = asyncio.run(send())
    assert all(r.json()["outputs"][0]["data"] == sample.expected for r in answers)
    metrics = httpx.get(f"{server.http_url}/metrics").text
    assert 'zeroserve_batch_size_count{model="iris-mlserver"}' in metrics
