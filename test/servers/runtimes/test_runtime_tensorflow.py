"""The TensorFlow runtime: TFServing's REST surface and V2, against the SavedModel's signature in-process.

Importing tensorflow takes seconds, so the SavedModel is built once for the module and the tests are
marked slow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from zeroserve.servers.runtimes import ModelFormatError, ModelMissingError, RuntimeRegistry
from zeroserve.servers.samples import Sample
from zeroserve.servers.testing import ThreadedServer, serve_in_thread

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    from zeroserve.servers.samples import tensorflow as tensorflow_sample

    return tensorflow_sample.build(tmp_path_factory.mktemp("tf"))


@pytest.fixture(scope="module")
def bytes_model(tmp_path_factory: pytest.TempPathFactory, sample: Sample) -> Path:
    """A SavedModel with two string inputs, as KServe's image samples have (``image_bytes``, ``key``)."""
    import tensorflow as tf

    class Echo(tf.Module):  # type: ignore[misc]
        @tf.function(  # type: ignore[untyped-decorator]
            input_signature=[
                tf.TensorSpec([None], tf.string, name="image_bytes"),
                tf.TensorSpec([None], tf.string, name="key"),
            ]
        )
        def serve(self, image_bytes: tf.Tensor, key: tf.Tensor) -> dict[str, tf.Tensor]:
            return {"key": key, "size": tf.strings.length(image_bytes), "echo_bytes": image_bytes}

    folder = tmp_path_factory.mktemp("tf-bytes")
    module = Echo()
    tf.saved_model.save(module, str(folder / "2"), signatures={"serving_default": module.serve})
    return folder


@pytest.fixture(scope="module")
def server(sample: Sample, bytes_model: Path) -> Iterator[ThreadedServer]:
    registry = RuntimeRegistry.builtin()
    models = [
        registry.create("tensorflow", "iris-tf", sample.model_dir),
        registry.create("tensorflow", "echo", bytes_model),
    ]
    with serve_in_thread(models) as srv:
        yield srv


def test_b64_binary_values_and_named_rows(server: ThreadedServer) -> None:
    """TFServing's row format: several inputs, {"b64": ...} binary values (KServe's image samples)."""
    import base64

    payload = b"\x89PNG\r\n\x00binary"
    encoded = base64.b64encode(payload).decode()
    body = {
        "instances": [{"image_bytes": {"b64": encoded}, "key": "1"}, {"image_bytes": {"b64": ""}, "key": "2"}]
    }
    resp = httpx.post(f"{server.http_url}/v1/models/echo/versions/2:predict", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["predictions"] == [
        {"echo_bytes": {"b64": encoded}, "key": "1", "size": len(payload)},
        {"echo_bytes": {"b64": ""}, "key": "2", "size": 0},
    ]
    bad = {"instances": [{"image_bytes": {"b64": "***"}, "key": "1"}]}
    resp = httpx.post(f"{server.http_url}/v1/models/echo:predict", json=bad)
    assert resp.status_code == 400
    assert "not valid base64" in resp.json()["error"]


def _scores(rows: list[dict[str, object]]) -> np.ndarray:
    return np.array([row["scores"] for row in rows], dtype=np.float64)


def test_row_format_answers_predictions(server: ThreadedServer, sample: Sample) -> None:
    for path in ("iris-tf:predict", "iris-tf/versions/1:predict", "iris-tf/labels/stable:predict"):
        resp = httpx.post(f"{server.http_url}/v1/models/{path}", json=sample.v1_request)
        assert resp.status_code == 200, (path, resp.text)
        got = resp.json()["predictions"]
        assert [r["label"] for r in got] == sample.extra["sklearn_labels"]
        np.testing.assert_allclose(_scores(got), _scores(sample.expected), atol=sample.tolerance)


def test_columnar_format_answers_outputs(server: ThreadedServer, sample: Sample) -> None:
    body = {"signature_name": "serving_default", "inputs": sample.v1_request["instances"]}
    resp = httpx.post(f"{server.http_url}/v1/models/iris-tf:predict", json=body)
    assert resp.status_code == 200, resp.text
    outputs = resp.json()["outputs"]
    assert outputs["label"] == [r["label"] for r in sample.expected]
    body = {"inputs": {"inputs": sample.v1_request["instances"]}}
    resp = httpx.post(f"{server.http_url}/v1/models/iris-tf:predict", json=body)
    assert resp.json()["outputs"]["label"] == outputs["label"]


def test_status_and_metadata_as_tfserving(server: ThreadedServer) -> None:
    status = httpx.get(f"{server.http_url}/v1/models/iris-tf").json()
    assert status["model_version_status"] == [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]
    assert httpx.get(f"{server.http_url}/v1/models/iris-tf/versions/1").status_code == 200
    assert httpx.get(f"{server.http_url}/v1/models/iris-tf/versions/7").status_code == 404
    meta = httpx.get(f"{server.http_url}/v1/models/iris-tf/metadata").json()
    assert meta["model_spec"]["version"] == "1"
    signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["inputs"]["inputs"]["dtype"] == "DT_FLOAT"
    assert signature["inputs"]["inputs"]["tensor_shape"]["dim"] == [
        {"size": "-1", "name": ""},
        {"size": "4", "name": ""},
    ]
    assert sorted(signature["outputs"]) == ["label", "scores"]


def test_v2_rest_and_grpc(server: ThreadedServer, sample: Sample) -> None:
    resp = httpx.post(f"{server.http_url}/v2/models/iris-tf/infer", json=sample.v2_request)
    assert resp.status_code == 200, resp.text
    outputs = {o["name"]: o for o in resp.json()["outputs"]}
    assert outputs["label"]["data"] == [r["label"] for r in sample.expected]
    meta = httpx.get(f"{server.http_url}/v2/models/iris-tf").json()
    assert (meta["platform"], meta["versions"]) == ("tensorflow_savedmodel", ["1"])
    rows = np.asarray(sample.v1_request["instances"], dtype=np.float32)
    with grpcclient.InferenceServerClient(server.grpc_target) as client:
        tensor = grpcclient.InferInput("inputs", list(rows.shape), "FP32")
        tensor.set_data_from_numpy(rows)
        result = client.infer("iris-tf", [tensor])
    np.testing.assert_allclose(result.as_numpy("scores"), _scores(sample.expected), atol=sample.tolerance)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"instances": [[1.0, 2.0]]}, "input 'inputs': expected shape [-1, 4], got [1, 2]"),
        ({"inputs": {"x": [[1, 2, 3, 4]]}}, "missing ['inputs']; unknown ['x']"),
        ({"signature_name": "other", "instances": [[1, 2, 3, 4]]}, "serves signature 'serving_default'"),
    ],
)
def test_bad_requests_are_400(server: ThreadedServer, body: dict[str, object], message: str) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/iris-tf:predict", json=body)
    assert resp.status_code == 400
    assert message in resp.json()["error"]


def test_load_errors_name_the_folder_and_what_would_work(tmp_path: Path, sample: Sample) -> None:
    registry = RuntimeRegistry.builtin()
    with pytest.raises(ModelMissingError, match=r"expected .*/<version>/saved_model\.pb"):
        registry.create("tensorflow", "none", tmp_path).load()
    with pytest.raises(ModelFormatError, match=r"has no signature 'nope'; it has \['serving_default'\]"):
        registry.create("tensorflow", "sig", sample.model_dir, {"signature_name": "nope"}).load()
    broken = tmp_path / "3"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(ModelFormatError, match="is not a SavedModel"):
        registry.create("tensorflow", "bad", tmp_path).load()
