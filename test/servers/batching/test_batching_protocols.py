"""Adaptive batching over V1 REST, V2 REST and V2 gRPC against a model that records its calls.

The clients pre-open their connections (raw sockets for HTTP, one warmed gRPC channel) and then
send every request at once, so the requests arrive together even on a loaded machine; the tests
assert on call counts and answers, never on timings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
from raw_http import fire as _fire
from raw_http import http as _http
from servers_support import BackgroundServer, serve_in_background

from zeroserve.servers import InferOutput, InferRequest, InferResponse, Model, ServerHandle
from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc

CONCURRENT = 64


class RecordingModel(Model):
    """Doubles its rows and records how many rows each ``predict`` call got."""

    batchable = True

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.calls: list[int] = []

    def predict(self, payload: Any, headers: Any = None) -> Any:
        if isinstance(payload, InferRequest):
            x = payload.inputs[0].as_numpy()
            self.calls.append(len(x))
            out = InferOutput("output-0", list(x.shape), "FP32")
            out.set_data_from_numpy((x * 2).astype(np.float32))
            return InferResponse(payload.id, self.name, [out])
        rows = payload["instances"]
        try:
            x = np.asarray(rows, dtype=np.float32)
        except ValueError:
            raise InvalidInput("instances must be rows of equal length") from None
        if (x < 0).any():  # a refusal only the model can make: the request joins, and fails alone
            raise InvalidInput("instances must not be negative")
        self.calls.append(len(x))
        return {"predictions": (x * 2).tolist()}


class PlainModel(RecordingModel):
    """The same model, declaring it does not accept batches."""

    batchable = False


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BackgroundServer, ServerHandle]]:
    srv = serve_in_background(
        [RecordingModel("rec"), PlainModel("plain")],
        batcher_enabled=True,
        batcher_max_batch_size=32,
        batcher_max_latency_ms=50,
    )
    assert srv.handle is not None
    yield srv, srv.handle
    srv.stop()


def _model(server: tuple[BackgroundServer, ServerHandle], name: str) -> RecordingModel:
    model = server[1].dataplane.repository.get_model(name)
    assert isinstance(model, RecordingModel)
    model.calls.clear()
    return model


def _v1(port: int, model: str, i: int, rows: Any = None) -> bytes:
    body = json.dumps({"instances": rows if rows is not None else [[i, i + 0.5]]}).encode()
    return _http(port, "POST", f"/v1/models/{model}:predict", body, {"x-request-id": f"v1-{i}"})


def _v2(port: int, model: str, i: int, data: Any = None) -> bytes:
    doc = {
        "id": f"v2-{i}",
        "inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": data or [i, i + 0.5]}],
    }
    return _http(port, "POST", f"/v2/models/{model}/infer", json.dumps(doc).encode())


def test_v1_rest_64_concurrent_rows_make_at_most_4_predict_calls(server: Any) -> None:
    model = _model(server, "rec")
    port = server[1].http_port
    answers = _fire(port, [_v1(port, "rec", i) for i in range(CONCURRENT)])
    for i, (status, headers, body) in enumerate(answers):
        assert status == 200, body
        assert headers["x-request-id"] == f"v1-{i}"
        assert json.loads(body) == {"predictions": [[2 * i, 2 * i + 1]]}
    assert sum(model.calls) == CONCURRENT
    assert len(model.calls) <= 4, model.calls


def test_v2_rest_64_concurrent_rows_make_at_most_4_predict_calls(server: Any) -> None:
    model = _model(server, "rec")
    port = server[1].http_port
    answers = _fire(port, [_v2(port, "rec", i) for i in range(CONCURRENT)])
    for i, (status, _, body) in enumerate(answers):
        assert status == 200, body
        doc = json.loads(body)
        assert doc["id"] == f"v2-{i}"
        assert doc["outputs"][0]["shape"] == [1, 2]
        assert doc["outputs"][0]["data"] == [2 * i, 2 * i + 1]
    assert sum(model.calls) == CONCURRENT
    assert len(model.calls) <= 4, model.calls


def _grpc_request(model: str, i: int, raw: bytes | None = None) -> Any:
    tensor = pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 2])
    return pb.ModelInferRequest(
        model_name=model,
        id=f"g-{i}",
        inputs=[tensor],
        raw_input_contents=[raw if raw is not None else np.array([i, i + 0.5], dtype="<f4").tobytes()],
    )


def test_v2_grpc_64_concurrent_rows_make_at_most_4_predict_calls(server: Any) -> None:
    model = _model(server, "rec")
    with grpc.insecure_channel(server[1].grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        assert stub.ServerLive(pb.ServerLiveRequest(), timeout=30).live
        calls = [stub.ModelInfer.future(_grpc_request("rec", i), timeout=60) for i in range(CONCURRENT)]
        replies = [call.result() for call in calls]
        bad = stub.ModelInfer.future(_grpc_request("rec", 99, raw=b"\x00" * 12), timeout=60)
        with pytest.raises(grpc.RpcError) as info:
            bad.result()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    for i, reply in enumerate(replies):
        assert reply.id == f"g-{i}"
        assert list(reply.outputs[0].shape) == [1, 2]
        np.testing.assert_array_equal(np.frombuffer(reply.raw_output_contents[0], "<f4"), [2 * i, 2 * i + 1])
    assert sum(model.calls) == CONCURRENT
    assert len(model.calls) <= 4, model.calls


def test_a_malformed_request_in_a_batch_gets_its_400_and_the_others_their_200(server: Any) -> None:
    model = _model(server, "rec")
    port = server[1].http_port
    requests = [_v2(port, "rec", i) for i in range(8)] + [_v1(port, "rec", i) for i in range(8)]
    requests.insert(4, _v2(port, "rec", 100, data=[1, 2, 3]))  # 3 values for shape [1, 2]
    requests.insert(12, _v1(port, "rec", 101, rows=[[1, 2], [3]]))  # ragged rows
    answers = _fire(port, requests)
    statuses = [status for status, _, _ in answers]
    assert statuses[4] == 400 and "needs 2 elements" in json.loads(answers[4][2])["error"]
    assert statuses[12] == 400 and "equal length" in json.loads(answers[12][2])["error"]
    assert statuses.count(200) == 16
    # the bad tensor never reached predict; the ragged rows ran alone (and failed before recording)
    assert sum(model.calls) == 16
    assert len(model.calls) <= 4, model.calls


def test_a_request_only_the_model_refuses_fails_alone(server: Any) -> None:
    model = _model(server, "rec")
    port = server[1].http_port
    requests = [_v1(port, "rec", i) for i in range(8)]
    requests.insert(3, _v1(port, "rec", 103, rows=[[-1, 2]]))
    answers = _fire(port, requests)
    statuses = [status for status, _, _ in answers]
    assert statuses[3] == 400 and "negative" in json.loads(answers[3][2])["error"]
    assert statuses.count(200) == 8
    for i, (_, headers, body) in enumerate(answers[:3] + answers[4:]):
        assert headers["x-request-id"] == f"v1-{i}"
        assert json.loads(body) == {"predictions": [[2 * i, 2 * i + 1]]}
    assert sum(model.calls) == 8


def test_a_model_that_does_not_accept_batches_runs_unbatched(server: Any) -> None:
    model = _model(server, "plain")
    port = server[1].http_port
    answers = _fire(port, [_v1(port, "plain", i) for i in range(8)])
    assert [status for status, _, _ in answers] == [200] * 8
    assert model.calls == [1] * 8


def test_batch_metrics_are_exported(server: Any) -> None:
    port = server[1].http_port
    ((status, _, body),) = _fire(port, [_http(port, "GET", "/metrics")])
    text = body.decode()
    assert status == 200
    assert 'zeroserve_batch_size_count{model="rec"}' in text
    assert 'zeroserve_batch_queue_seconds_bucket{le="0.05",model="rec"}' in text
    assert 'zeroserve_batch_size_count{model="plain"}' not in text
