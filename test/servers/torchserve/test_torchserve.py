"""The torchserve runtime: KServe's pytorch folder (model-store/*.mar + config.properties) served over
V1, TorchServe's own body, V2 REST and V2 gRPC; bad archives fail naming the file and the fix."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from zeroserve.servers.runtimes import ModelFormatError, ModelMissingError, RuntimeRegistry
from zeroserve.servers.runtimes.torchserve import TorchServeRepository, parse_properties, read_config
from zeroserve.servers.samples import Sample
from zeroserve.servers.samples import torchserve as sample_torchserve
from zeroserve.servers.testing import ThreadedServer, serve_in_subprocess, serve_in_thread

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return sample_torchserve.build(tmp_path_factory.mktemp("torchserve"))


@pytest.fixture(scope="module")
def server(sample: Sample) -> Iterator[ThreadedServer]:
    models = TorchServeRepository("ignored", sample.model_dir).served_models()
    with serve_in_thread(models) as running:
        yield running


def _close(got: Any, want: Any, tol: float) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), atol=tol)


def test_v1_instances_through_base_handler_and_custom_handler(server: ThreadedServer, sample: Sample) -> None:
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        listed = client.get("/v1/models").json()
        assert sorted(listed["models"]) == ["iris", "iris-label"]
        got = client.post("/v1/models/iris:predict", json=sample.v1_request)
        assert got.status_code == 200, got.text
        _close(got.json()["predictions"], sample.expected, sample.tolerance)
        labels = client.post("/v1/models/iris-label:predict", json=sample.v1_request)
        assert labels.json() == {"predictions": sample.extra["labels"]}
        # TorchServe's own body: {"data": ...} is one request holding the batch
        raw = client.post("/v1/models/iris:predict", json={"data": sample.v1_request["instances"]})
        _close(raw.json()["predictions"], sample.expected, sample.tolerance)


def test_explain_runs_the_handlers_get_insights(server: ThreadedServer, sample: Sample) -> None:
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        got = client.post("/v1/models/iris-label:explain", json=sample.v1_request)
        assert got.status_code == 200, got.text
        _close(got.json()["explanations"], sample.extra["insights"], sample.tolerance)
        plain = client.post("/v1/models/iris:explain", json=sample.v1_request)
        assert plain.status_code == 400 and "no get_insights" in plain.json()["error"]


def test_v2_rest_and_grpc(server: ThreadedServer, sample: Sample) -> None:
    import tritonclient.grpc as grpcclient

    assert sample.v2_request is not None
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        got = client.post("/v2/models/iris/infer", json=sample.v2_request)
        assert got.status_code == 200, got.text
        out = got.json()["outputs"][0]
        assert out["name"] == "predict" and out["shape"] == [3, 3]
        _close(np.reshape(out["data"], out["shape"]), sample.expected, sample.tolerance)
    client = grpcclient.InferenceServerClient(server.grpc_target)
    try:
        tensor = grpcclient.InferInput("input-0", [3, 4], "FP32")
        tensor.set_data_from_numpy(np.asarray(sample.v1_request["instances"], dtype=np.float32))
        result = client.infer("iris-label", [tensor])
        assert result.as_numpy("predict").tolist() == sample.extra["labels"]
    finally:
        client.close()


def test_bad_rows_are_a_400_naming_the_model(server: ThreadedServer) -> None:
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        got = client.post("/v1/models/iris:predict", json={"instances": [["a", "b"]]})
        assert got.status_code == 400
        assert "model iris" in got.json()["error"]
        neither = client.post("/v1/models/iris:predict", json={"rows": [1]})
        assert neither.status_code == 400 and '"instances"' in neither.json()["error"]


def test_properties_and_snapshot(sample: Sample) -> None:
    props = parse_properties("# c\na=1\nb : two\nlong=x\\\n  y\n! other\n")
    assert props == {"a": "1", "b": "two", "long": "xy"}
    config = read_config(sample.model_dir)
    # the file says /mnt/models/model-store; locally the folder next to config/ is used
    assert config.model_store == sample.model_dir / "model-store"
    assert [m.name for m in config.models] == ["iris", "iris-label"]
    assert config.properties["enable_envvars_config"] == "true"


def test_archive_without_manifest_names_the_file_and_the_fix(tmp_path: Path) -> None:
    sample_torchserve.write_mar(tmp_path / "model-store" / "broken.mar", None, {"model.pt": b"x"})
    wanted = r"broken\.mar has no MAR-INF/MANIFEST\.json.*torch-model-archiver"
    with pytest.raises(ModelFormatError, match=wanted):
        TorchServeRepository("m", tmp_path).served_models()


def test_unknown_handler_and_missing_snapshot_archive(tmp_path: Path) -> None:
    store = tmp_path / "model-store"
    sample_torchserve.write_mar(store / "a.mar", {"modelName": "a", "handler": "no_such_handler"}, {})
    (model,) = TorchServeRepository("m", tmp_path).served_models()
    wanted = r"model\.handler 'no_such_handler' is neither a file.*base_handler"
    with pytest.raises(ModelFormatError, match=wanted):
        model.load()
    (tmp_path / "config").mkdir()
    snapshot = {"models": {"b": {"1.0": {"marName": "b.mar", "defaultVersion": True}}}}
    (tmp_path / "config" / "config.properties").write_text(f"model_snapshot={json.dumps(snapshot)}\n")
    wanted = r"model_snapshot\.models\.b\.1\.0\.marName 'b\.mar' is not in"
    with pytest.raises(ModelFormatError, match=wanted):
        TorchServeRepository("m", tmp_path).served_models()


def test_bare_torchscript_is_served_as_torchscript(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import torch

    from zeroserve.servers.runtimes.pytorch import TorchScriptModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch >= 2.9 deprecates TorchScript
        torch.jit.script(torch.nn.Linear(4, 2)).save(str(tmp_path / "model.pt"))
    with caplog.at_level("INFO"):
        (model,) = RuntimeRegistry.builtin().create("torchserve", "lin", tmp_path).served_models()  # type: ignore[attr-defined]
    assert isinstance(model, TorchScriptModel) and model.name == "lin"
    assert any("serving it as torchscript" in r.getMessage() for r in caplog.records)
    with pytest.raises(ModelMissingError, match="no model archive"):
        (tmp_path / "empty").mkdir()
        TorchServeRepository("m", tmp_path / "empty").served_models()


@pytest.mark.slow
def test_zeroserve_serve_torchserve_command(sample: Sample) -> None:
    args = ["torchserve", "--model_name=ignored", f"--model_dir={sample.model_dir}"]
    with serve_in_subprocess(args) as served, httpx.Client(base_url=served.http_url, timeout=10) as client:
        got = client.post("/v1/models/iris-label:predict", json=sample.v1_request)
        assert got.json() == {"predictions": sample.extra["labels"]}


def test_kserve_runtime_args_of_the_torchserve_and_triton_images() -> None:
    from zeroserve.servers.cli import parse_serve_args

    # kserve-torchserve's args, after an image whose command is `zeroserve serve`
    args = [
        "torchserve",
        "--start",
        "--model-store=/m/model-store",
        "--ts-config=/m/config/config.properties",
    ]
    command = parse_serve_args(args)
    assert (command.runtime, command.model_dir, command.unknown_flags) == ("torchserve", "/m", [])
    triton = ["tritonserver", "--model-store=/m", "--grpc-port=9000", "--http-port=8080", "--allow-grpc=true"]
    command = parse_serve_args([*triton, "--allow-http=true"])
    assert (command.runtime, command.model_dir, command.unknown_flags) == ("triton", "/m", [])
    assert (command.settings.http_port, command.settings.grpc_port) == (8080, 9000)


def test_snapshot_batch_size_batches_concurrent_requests(tmp_path: Path, sample: Sample) -> None:
    import shutil
    from concurrent.futures import ThreadPoolExecutor

    shutil.copytree(sample.model_dir, tmp_path, dirs_exist_ok=True)
    config = (tmp_path / "config" / "config.properties").read_text()
    (tmp_path / "config" / "config.properties").write_text(
        config.replace('"batchSize": 1', '"batchSize": 4').replace(
            '"maxBatchDelay": 10', '"maxBatchDelay": 200'
        )
    )
    models = TorchServeRepository("x", tmp_path).served_models()
    assert models[0].batching.max_batch_size == 4  # type: ignore[attr-defined]
    rows = sample.v1_request["instances"]
    with serve_in_thread(models) as server, httpx.Client(base_url=server.http_url, timeout=10) as client:

        def one(i: int) -> Any:
            body = {"instances": [rows[i % 3]]}
            return client.post("/v1/models/iris:predict", json=body).json()["predictions"][0]

        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(one, range(4)))
        stats = client.get("/v2/models/iris/stats").json()["model_stats"][0]
    assert max(b["batch_size"] for b in stats["batch_stats"]) > 1, stats["batch_stats"]
    for i, answer in enumerate(answers):
        _close(answer, sample.expected[i % 3], sample.tolerance)


FUNCTION_HANDLER = """
calls = []


def handle(data, context):
    if data is None:  # TorchServe initialises a function entry point with data=None
        calls.append(context.system_properties["model_dir"])
        return None
    return [{"sum": sum(row), "ready": bool(calls)} for row in data]


def double(data, context):
    return None if data is None else [[2 * v for v in row] for row in data]
"""


def test_function_handlers_and_module_function_entry_points(tmp_path: Path) -> None:
    store = tmp_path / "model-store"
    files = {"sums.py": FUNCTION_HANDLER.encode()}
    sample_torchserve.write_mar(store / "sums.mar", {"modelName": "sums", "handler": "sums.py"}, files)
    sample_torchserve.write_mar(store / "twice.mar", {"modelName": "twice", "handler": "sums:double"}, files)
    models = {m.name: m for m in TorchServeRepository("x", tmp_path).served_models()}
    for model in models.values():
        model.load()
    assert models["sums"].predict({"instances": [[1, 2], [3, 4]]}) == {
        "predictions": [{"sum": 3, "ready": True}, {"sum": 7, "ready": True}]
    }
    assert models["twice"].predict({"instances": [[1, 2]]}) == {"predictions": [[2, 4]]}
    for model in models.values():
        model.stop()
