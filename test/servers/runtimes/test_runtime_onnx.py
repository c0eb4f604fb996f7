"""The ONNX runtime against onnxruntime in-process: V1, V2 REST and V2 gRPC, named inputs and outputs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from zeroserve.servers.runtimes import ModelFormatError, RuntimeRegistry
from zeroserve.servers.samples import Sample
from zeroserve.servers.samples import onnx as onnx_sample
from zeroserve.servers.testing import ThreadedServer, serve_in_thread


def _two_input_graph(folder: Path) -> Path:
    """A graph with inputs ``a``, ``b`` (``[N, 2]`` float) and outputs ``sum``, ``product``."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Mul", ["a", "b"], ["product"])],
        "two_inputs",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 2]) for n in ("a", "b")],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, ["N", 2]) for n in ("sum", "product")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(folder / "model.onnx"))
    return folder


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return onnx_sample.build(tmp_path_factory.mktemp("onnx"))


@pytest.fixture(scope="module")
def server(sample: Sample, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadedServer]:
    registry = RuntimeRegistry.builtin()
    models = [
        registry.create("onnx", "iris-onnx", sample.model_dir),
        registry.create("onnx", "pair", _two_input_graph(tmp_path_factory.mktemp("pair"))),
    ]
    with serve_in_thread(models) as srv:
        yield srv


def test_v1_rows_answer_every_output_per_row(server: ThreadedServer, sample: Sample) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/iris-onnx:predict", json=sample.v1_request)
    assert resp.status_code == 200, resp.text
    got = resp.json()["predictions"]
    assert [row["label"] for row in got] == [row["label"] for row in sample.expected]
    assert [row["label"] for row in got] == sample.extra["sklearn_labels"]
    np.testing.assert_allclose(
        [row["probabilities"] for row in got], [row["probabilities"] for row in sample.expected], atol=1e-6
    )


def test_v2_rest_outputs_named_as_the_graph(server: ThreadedServer, sample: Sample) -> None:
    resp = httpx.post(f"{server.http_url}/v2/models/iris-onnx/infer", json=sample.v2_request)
    assert resp.status_code == 200, resp.text
    outputs = {o["name"]: o for o in resp.json()["outputs"]}
    assert list(outputs) == ["probabilities", "label"]
    assert outputs["label"]["datatype"] == "INT64"
    assert outputs["label"]["data"] == [row["label"] for row in sample.expected]
    only = dict(sample.v2_request or {}, outputs=[{"name": "label"}])
    resp = httpx.post(f"{server.http_url}/v2/models/iris-onnx/infer", json=only)
    assert [o["name"] for o in resp.json()["outputs"]] == ["label"]


def test_v2_metadata_reports_the_graph(server: ThreadedServer) -> None:
    meta = httpx.get(f"{server.http_url}/v2/models/iris-onnx").json()
    assert meta["platform"] == "onnxruntime_onnx"
    assert meta["inputs"] == [{"name": "float_input", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [
        {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
        {"name": "label", "datatype": "INT64", "shape": [-1]},
    ]


def test_v2_grpc_two_named_inputs(server: ThreadedServer) -> None:
    a = np.array([[1, 2], [3, 4]], dtype=np.float32)
    b = np.array([[10, 20], [30, 40]], dtype=np.float32)
    tensors = []
    for name, value in (("b", b), ("a", a)):
        tensor = grpcclient.InferInput(name, list(value.shape), "FP32")
        tensor.set_data_from_numpy(value)
        tensors.append(tensor)
    with grpcclient.InferenceServerClient(server.grpc_target) as client:
        result = client.infer("pair", tensors)
    np.testing.assert_array_equal(result.as_numpy("sum"), a + b)
    np.testing.assert_array_equal(result.as_numpy("product"), a * b)


def test_v1_named_inputs_as_objects_or_columns(server: ThreadedServer) -> None:
    rows = {"instances": [{"a": [1, 2], "b": [3, 4]}, {"a": [0, 1], "b": [1, 1]}]}
    resp = httpx.post(f"{server.http_url}/v1/models/pair:predict", json=rows)
    assert resp.json() == {
        "predictions": [
            {"sum": [4.0, 6.0], "product": [3.0, 8.0]},
            {"sum": [1.0, 2.0], "product": [0.0, 1.0]},
        ]
    }
    columns = {"inputs": {"a": [[1, 2]], "b": [[3, 4]]}}
    resp = httpx.post(f"{server.http_url}/v1/models/pair:predict", json=columns)
    assert resp.json()["predictions"] == [{"sum": [4.0, 6.0], "product": [3.0, 8.0]}]


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        ("iris-onnx", {"instances": [[1.0, 2.0]]}, "input 'float_input': expected shape [-1, 4], got [1, 2]"),
        ("iris-onnx", {"instances": [["a", "b", "c", "d"]]}, "expected FP32 numbers"),
        ("pair", {"instances": [[1.0, 2.0]]}, "model pair has inputs ['a', 'b']"),
        ("pair", {"inputs": {"a": [[1, 2]], "c": [[1, 2]]}}, "missing ['b']; unknown ['c']"),
    ],
)
def test_bad_inputs_are_400_naming_the_input(
    server: ThreadedServer, model: str, body: dict, message: str
) -> None:
    resp = httpx.post(f"{server.http_url}/v1/models/{model}:predict", json=body)
    assert resp.status_code == 400
    assert message in resp.json()["error"]


def test_v2_missing_input_is_a_400(server: ThreadedServer) -> None:
    body = {"inputs": [{"name": "a", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}
    resp = httpx.post(f"{server.http_url}/v2/models/pair/infer", json=body)
    assert resp.status_code == 400
    assert "missing input 'b'" in resp.json()["error"]


def test_not_an_onnx_file_is_a_load_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"\x00 not protobuf")
    with pytest.raises(ModelFormatError, match=r"model\.onnx is not an ONNX model"):
        RuntimeRegistry.builtin().create("onnx", "bad", tmp_path).load()
