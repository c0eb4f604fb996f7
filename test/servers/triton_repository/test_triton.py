"""The triton runtime: a Triton model repository (onnxruntime, pytorch_libtorch and python backends) in
one server, over V2 REST and V2 gRPC as Triton answers; config.pbtxt read by our text-proto reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from zeroserve.servers.runtimes import ModelFormatError, ModelMissingError
from zeroserve.servers.runtimes.triton import TritonRepository, parse_text_proto, read_model_config
from zeroserve.servers.runtimes.triton.pbtxt import TextFormatError
from zeroserve.servers.samples import Sample
from zeroserve.servers.samples import triton as sample_triton
from zeroserve.servers.testing import ThreadedServer, serve_in_subprocess, serve_in_thread

pytest.importorskip("onnxruntime")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return sample_triton.build(tmp_path_factory.mktemp("triton"))


@pytest.fixture(scope="module")
def server(sample: Sample) -> Iterator[ThreadedServer]:
    with serve_in_thread(TritonRepository("ignored", sample.model_dir).served_models()) as running:
        yield running


def test_v2_rest_every_backend(server: ThreadedServer, sample: Sample) -> None:
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        assert sorted(client.get("/v2/models").json()["models"]) == ["add-sub", "iris-onnx", "iris-torch"]
        meta = client.get("/v2/models/iris-onnx").json()
        assert meta["platform"] == "onnxruntime_onnx" and meta["versions"] == ["1"]
        assert meta["inputs"] == [{"name": "INPUT0", "datatype": "FP32", "shape": [-1, 4]}]
        got = client.post("/v2/models/iris-onnx/versions/1/infer", json=sample.v2_request)
        assert got.status_code == 200, got.text
        out = got.json()["outputs"][0]
        assert out["name"] == "OUTPUT0" and out["shape"] == [3, 3] and out["datatype"] == "FP32"
        np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), sample.expected, atol=1e-4)
        torch_out = client.post("/v2/models/iris-torch/infer", json=sample.extra["torch_request"]).json()
        np.testing.assert_allclose(
            np.reshape(torch_out["outputs"][0]["data"], [3, 3]), sample.expected, atol=1e-4
        )
        add_sub = sample.extra["add_sub"]
        answer = client.post("/v2/models/add-sub/infer", json=add_sub["request"]).json()
        by_name = {o["name"]: o["data"] for o in answer["outputs"]}
        np.testing.assert_allclose(by_name["OUTPUT0"], add_sub["OUTPUT0"], atol=1e-5)
        np.testing.assert_allclose(by_name["OUTPUT1"], add_sub["OUTPUT1"], atol=1e-5)


def test_v2_grpc_with_tritonclient(server: ThreadedServer, sample: Sample) -> None:
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(server.grpc_target)
    try:
        assert client.is_model_ready("add-sub")
        tensor = grpcclient.InferInput("INPUT0", [3, 4], "FP32")
        assert sample.v2_request is not None
        tensor.set_data_from_numpy(np.asarray(sample.v2_request["inputs"][0]["data"], dtype=np.float32))
        result = client.infer("iris-onnx", [tensor], outputs=[grpcclient.InferRequestedOutput("OUTPUT0")])
        np.testing.assert_allclose(result.as_numpy("OUTPUT0"), sample.expected, atol=1e-4)
    finally:
        client.close()


def test_model_config_over_rest_and_grpc(server: ThreadedServer) -> None:
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    rest = httpclient.InferenceServerClient(server.http_url.removeprefix("http://"))
    try:
        config = rest.get_model_config("iris-onnx")
    finally:
        rest.close()
    assert config["max_batch_size"] == 8 and config["platform"] == "onnxruntime_onnx"
    assert config["input"][0]["dims"] == [4] and config["instance_group"] == [
        {"count": 1, "kind": "KIND_CPU"}
    ]
    client = grpcclient.InferenceServerClient(server.grpc_target)
    try:
        answer = client.get_model_config("add-sub").config
    finally:
        client.close()
    assert answer.backend == "python" and [i.name for i in answer.input] == ["INPUT0", "INPUT1"]
    assert list(answer.output[1].dims) == [4]


def test_bad_requests_are_400s(server: ThreadedServer) -> None:
    with httpx.Client(base_url=server.http_url, timeout=10) as client:
        wrong = {"inputs": [{"name": "INPUT0", "shape": [1, 5], "datatype": "FP32", "data": [1, 2, 3, 4, 5]}]}
        got = client.post("/v2/models/iris-onnx/infer", json=wrong)
        assert got.status_code == 400 and "INPUT0" in got.json()["error"]
        v1 = client.post("/v1/models/iris-onnx:predict", json={"instances": [[1, 2, 3, 4]]})
        assert v1.status_code == 400 and "V2 protocol" in v1.json()["error"]


def test_model_config_is_the_parsed_pbtxt(sample: Sample) -> None:
    (model,) = [m for m in TritonRepository("x", sample.model_dir).served_models() if m.name == "iris-onnx"]
    config = model.get_model_config()  # type: ignore[attr-defined]
    assert config["max_batch_size"] == 8 and config["platform"] == "onnxruntime_onnx"
    assert config["input"] == [{"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [4]}]
    assert config["instance_group"] == [{"count": 1, "kind": "KIND_CPU"}]


def test_text_proto_reader() -> None:
    doc = parse_text_proto("a: \"x\" 'y'  # comment\nb { c: 1 c: 2 } d: [1.5, -2] e: true f <g: ENUM>;")
    assert doc == {"a": "xy", "b": {"c": [1, 2]}, "d": [1.5, -2], "e": True, "f": {"g": "ENUM"}}
    with pytest.raises(TextFormatError, match="line 2, column 4"):
        parse_text_proto("a: 1\nb: }")


def test_unsupported_backend_names_the_file_and_what_works(tmp_path: Path) -> None:
    (tmp_path / "tf").mkdir()
    (tmp_path / "tf" / "config.pbtxt").write_text('platform: "tensorrt_plan"\n')
    wanted = r"tf/config\.pbtxt: platform 'tensorrt_plan' is not supported.*onnxruntime_onnx"
    with pytest.raises(ModelFormatError, match=wanted):
        read_model_config(tmp_path / "tf")
    (tmp_path / "tf" / "config.pbtxt").write_text('backend: "python"\n')
    with pytest.raises(ModelMissingError, match="has no version folder"):
        TritonRepository("x", tmp_path).served_models()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelMissingError, match=r"holds no model folder with a config\.pbtxt"):
        TritonRepository("x", tmp_path / "empty").served_models()


@pytest.mark.slow
def test_zeroserve_serve_triton_command(tmp_path: Path) -> None:
    sample = sample_triton.build(tmp_path, torch=False)
    args = ["triton", f"--model_dir={sample.model_dir}"]
    with serve_in_subprocess(args) as served, httpx.Client(base_url=served.http_url, timeout=10) as client:
        got = client.post("/v2/models/iris-onnx/infer", json=sample.v2_request)
        assert got.status_code == 200, got.text


FAILING_MODEL = """
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse(error=pb_utils.TritonError("INPUT0 must be positive"))]
"""


def test_python_backend_error_responses_are_400s(tmp_path: Path) -> None:
    (tmp_path / "picky" / "1").mkdir(parents=True)
    (tmp_path / "picky" / "1" / "model.py").write_text(FAILING_MODEL)
    (tmp_path / "picky" / "config.pbtxt").write_text(
        'backend: "python"\ninput { name: "INPUT0" data_type: TYPE_FP32 dims: [1] }\n'
        'output { name: "OUTPUT0" data_type: TYPE_FP32 dims: [1] }\n'
    )
    with serve_in_thread(TritonRepository("x", tmp_path).served_models()) as server:
        body = {"inputs": [{"name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [-1.0]}]}
        got = httpx.post(f"{server.http_url}/v2/models/picky/infer", json=body, timeout=10)
    assert got.status_code == 400 and "INPUT0 must be positive" in got.json()["error"]
