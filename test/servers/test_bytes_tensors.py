"""BYTES tensors stay bytes: binary contents (a JPEG's bytes) round-trip exactly over gRPC (raw and
``bytes_contents``) and the REST binary extension; a JSON answer sends a non-UTF-8 output as binary."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import orjson
import pytest
from servers_support import BackgroundServer, serve_in_background

from zeroserve.servers import InferOutput, InferRequest, InferResponse, Model
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.protocols import v2_rest

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\x00\x00"
ITEMS = [JPEG, b"plain", b"\x00"]


class EchoModel(Model):
    """Answers each input as an output of the same name, reading it the KServe way (``.data``)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.ready = True

    def predict(self, payload: InferRequest, headers: Any = None) -> InferResponse:
        outputs = [InferOutput(t.name, t.shape, t.datatype, t.data) for t in payload.inputs]
        return InferResponse(payload.id, self.name, outputs)


@pytest.fixture(scope="module")
def echo() -> Iterator[BackgroundServer]:
    server = serve_in_background([EchoModel("echo")])
    yield server
    server.stop()


def _raw(items: list[bytes]) -> bytes:
    return b"".join(struct.pack("<I", len(x)) + x for x in items)


def _infer(server: BackgroundServer, msg: Any) -> Any:
    assert server.handle is not None
    with grpc.insecure_channel(server.handle.grpc_target) as channel:
        call = channel.unary_unary(
            "/inference.GRPCInferenceService/ModelInfer",
            request_serializer=pb.ModelInferRequest.SerializeToString,
            response_deserializer=pb.ModelInferResponse.FromString,
        )
        return call(msg, timeout=10)


def test_grpc_raw_bytes_round_trip_exactly(echo: BackgroundServer) -> None:
    msg = pb.ModelInferRequest(model_name="echo")
    msg.inputs.add(name="img", datatype="BYTES", shape=[3])
    msg.raw_input_contents.append(_raw(ITEMS))
    answer = _infer(echo, msg)
    assert answer.raw_output_contents[0] == _raw(ITEMS)


def test_grpc_bytes_contents_round_trip_exactly(echo: BackgroundServer) -> None:
    msg = pb.ModelInferRequest(model_name="echo")
    msg.inputs.add(name="img", datatype="BYTES", shape=[3]).contents.bytes_contents.extend(ITEMS)
    answer = _infer(echo, msg)
    assert answer.raw_output_contents[0] == _raw(ITEMS)


def test_rest_binary_extension_round_trips_and_json_answers_fall_back_to_binary(
    echo: BackgroundServer,
) -> None:
    assert echo.handle is not None
    head = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "img",
                    "shape": [3],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": len(_raw(ITEMS))},
                }
            ]
        }
    )
    r = httpx.post(
        f"{echo.handle.url}/v2/models/echo/infer",
        content=head + _raw(ITEMS),
        headers={"inference-header-content-length": str(len(head))},
        trust_env=False,
    )
    assert r.status_code == 200, r.text
    # no binary output asked for, but JSON cannot carry the JPEG: the output goes as binary data
    length = int(r.headers["inference-header-content-length"])
    answer = v2_rest.decode_infer_response(r.content, length)
    assert answer.outputs[0].as_numpy().tolist() == ITEMS


def test_rest_json_strings_stay_strings(echo: BackgroundServer) -> None:
    assert echo.handle is not None
    doc = {"inputs": [{"name": "s", "shape": [2], "datatype": "BYTES", "data": ["héllo", "x"]}]}
    r = httpx.post(f"{echo.handle.url}/v2/models/echo/infer", json=doc, trust_env=False)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == ["héllo", "x"]
