"""V2 gRPC with tritonclient: health, metadata, raw and typed tensors, repository, error codes."""

from __future__ import annotations

from typing import Any

import grpc
import numpy as np
import pytest
import tritonclient.grpc as tgrpc
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

from zeroserve.servers import ServerHandle


@pytest.fixture(scope="module")
def client(handle: ServerHandle) -> Any:
    c = tgrpc.InferenceServerClient(handle.grpc_target)
    yield c
    c.close()


@pytest.fixture(scope="module")
def raw_stub(handle: ServerHandle) -> Any:
    """tritonclient's own generated stub, for messages its high-level client cannot build."""
    channel = grpc.insecure_channel(handle.grpc_target)
    yield service_pb2_grpc.GRPCInferenceServiceStub(channel)
    channel.close()


def _good_infer(client: Any) -> None:
    x = np.array([[1, 2], [3, 4]], dtype=np.float32)
    inp = tgrpc.InferInput("x", [2, 2], "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer("sum", [inp])
    np.testing.assert_array_equal(result.as_numpy("output-0"), [3.0, 7.0])


def test_health_and_metadata(client: Any) -> None:
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready("declared")
    meta = client.get_model_metadata("declared", as_json=True)
    assert meta["name"] == "declared"
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": ["-1", "4"]}]
    assert client.get_server_metadata(as_json=True)["name"] == "zeroserve"


def test_infer_raw_contents_all_types(client: Any) -> None:
    a = np.array([[0.5, 1.5], [-1, -2]], dtype=np.float32)
    s = np.array([b"grpc", b"bytes"], dtype=np.object_)
    ia = tgrpc.InferInput("a", [2, 2], "FP32")
    ia.set_data_from_numpy(a)
    i_s = tgrpc.InferInput("s", [2], "BYTES")
    i_s.set_data_from_numpy(s)
    result = client.infer("multi", [ia, i_s], request_id="g-1")
    np.testing.assert_array_equal(result.as_numpy("sum"), np.array([2.0, -3.0], dtype=np.float32))
    assert result.as_numpy("upper").tolist() == [b"GRPC", b"BYTES"]
    assert result.as_numpy("flag").tolist() == [True, False]
    assert result.get_response().id == "g-1"


def test_infer_typed_contents(raw_stub: Any) -> None:
    request = service_pb2.ModelInferRequest(model_name="sum", id="typed")
    tensor = request.inputs.add(name="x", datatype="INT64", shape=[2, 3])
    tensor.contents.int64_contents.extend([1, 2, 3, 4, 5, 6])
    reply = raw_stub.ModelInfer(request)
    assert reply.id == "typed"
    assert reply.outputs[0].datatype == "FP64"
    np.testing.assert_array_equal(np.frombuffer(reply.raw_output_contents[0], "<f8"), [6.0, 15.0])


@pytest.mark.parametrize(
    ("build", "code", "message"),
    [
        (
            lambda r: r.inputs.add(name="x", datatype="FP32", shape=[2, 4]).contents.fp32_contents.extend(
                [1.0]
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "input 'x': shape [2, 4] needs 8 elements, got 1",
        ),
        (
            lambda r: (
                r.inputs.add(name="x", datatype="FP32", shape=[1, 4]),
                r.raw_input_contents.append(b"\0" * 3),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "binary data has 3 bytes, but shape [1, 4] of FP32 needs 16",
        ),
        (
            lambda r: (
                r.inputs.add(name="x", datatype="FP32", shape=[1]),
                r.inputs.add(name="y", datatype="FP32", shape=[1]),
                r.raw_input_contents.append(b"\0" * 4),
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "raw_input_contents has 1 entries but the request has 2 inputs",
        ),
        (
            lambda r: r.inputs.add(name="x", datatype="FP16", shape=[1]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "datatype FP16 can only be sent in raw_input_contents",
        ),
    ],
)
def test_invalid_requests(raw_stub: Any, client: Any, build: Any, code: Any, message: str) -> None:
    request = service_pb2.ModelInferRequest(model_name="sum")
    build(request)
    with pytest.raises(grpc.RpcError) as info:
        raw_stub.ModelInfer(request)
    assert info.value.code() == code
    assert message in info.value.details()
    _good_infer(client)


def test_declared_datatype_mismatch_is_invalid_argument(client: Any) -> None:
    inp = tgrpc.InferInput("x", [1, 4], "BYTES")
    inp.set_data_from_numpy(np.array([[b"a", b"b", b"c", b"d"]], dtype=np.object_))
    with pytest.raises(InferenceServerException) as info:
        client.infer("declared", [inp])
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert "expected datatype FP32, got BYTES" in info.value.message()
    _good_infer(client)


@pytest.mark.parametrize(
    ("model", "status", "message"),
    [
        ("nope", "StatusCode.NOT_FOUND", "Model with name nope does not exist."),
        ("failing", "StatusCode.INTERNAL", "RuntimeError : boom in predict"),
    ],
)
def test_unknown_and_failing_models(client: Any, model: str, status: str, message: str) -> None:
    inp = tgrpc.InferInput("x", [1, 2], "FP32")
    inp.set_data_from_numpy(np.ones((1, 2), np.float32))
    with pytest.raises(InferenceServerException) as info:
        client.infer(model, [inp])
    assert info.value.status() == status
    assert message in info.value.message()
    _good_infer(client)


def test_not_ready_model_is_unavailable(client: Any, handle: ServerHandle) -> None:
    model: Any = handle.dataplane.repository.get_model("sum")
    model.ready = False
    try:
        inp = tgrpc.InferInput("x", [1, 2], "FP32")
        inp.set_data_from_numpy(np.ones((1, 2), np.float32))
        with pytest.raises(InferenceServerException) as info:
            client.infer("sum", [inp])
        assert info.value.status() == "StatusCode.UNAVAILABLE"
        assert not client.is_model_ready("sum")
    finally:
        model.ready = True
    _good_infer(client)


def test_repository_unload_and_load_over_grpc_and_rest(handle: ServerHandle) -> None:
    # KServe's RepositoryModelLoad/Unload messages (model_name = field 1) differ from Triton's
    # (repository_name = 1, model_name = 2), so this uses our stubs of KServe's proto, not tritonclient.
    import httpx

    from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
    from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

    with grpc.insecure_channel(handle.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        reply = stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="failing"))
        assert (reply.model_name, reply.isUnloaded) == ("failing", True)
        with pytest.raises(grpc.RpcError) as info:
            stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="failing"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        with httpx.Client(base_url=handle.url, trust_env=False) as http:
            index = http.post("/v2/repository/index").json()
            assert {"name": "failing", "state": "UNAVAILABLE", "reason": "unloaded"} in index
            assert http.post("/v1/models/failing:predict", json={"instances": [1]}).status_code == 404
            assert http.post("/v2/repository/models/failing/load").json() == {"name": "failing", "load": True}
            assert http.get("/v2/models/failing/ready").json() == {"name": "failing", "ready": True}
            assert http.post("/v2/repository/models/failing/unload").json() == {
                "name": "failing",
                "unload": True,
            }
            r = http.post("/v2/repository/models/failing/unload")
            assert r.status_code == 404
            assert r.json() == {"error": "Model with name failing does not exist."}
        reply = stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="failing"))
        assert (reply.model_name, reply.isLoaded) == ("failing", True)
        assert stub.ModelReady(pb.ModelReadyRequest(name="failing")).ready
        with pytest.raises(grpc.RpcError) as info:
            stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="never-seen"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
        assert "never-seen" in info.value.details()


def test_request_id_metadata_echoed_in_trailers(raw_stub: Any) -> None:
    request = service_pb2.ModelInferRequest(model_name="sum")
    request.inputs.add(name="x", datatype="FP32", shape=[1, 1]).contents.fp32_contents.append(2.0)
    reply, call = raw_stub.ModelInfer.with_call(request, metadata=(("x-request-id", "grpc-rid"),))
    assert dict(call.trailing_metadata())["x-request-id"] == "grpc-rid"
    assert reply.id == "grpc-rid"
    _, call = raw_stub.ModelInfer.with_call(request)
    generated = dict(call.trailing_metadata())["x-request-id"]
    assert len(generated) == 32
