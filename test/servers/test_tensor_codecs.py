"""Pure tests of the internal types, tensor encodings, codecs and route matching (no server)."""

from __future__ import annotations

import struct

import numpy as np
import orjson
import pytest

from zeroserve.servers import InferInput, InferOutput, InferRequest, InferResponse, InvalidInput
from zeroserve.servers.errors import ModelNotFound, PredictorError, RequestTooLarge, status_of
from zeroserve.servers.protocols import v1, v2_rest
from zeroserve.servers.rest.routes import Route, match
from zeroserve.servers.seldon import SeldonError, payload
from zeroserve.servers.tensors import (
    datatype_of,
    decode_bytes_tensor,
    encode_bytes_tensor,
    raw_to_numpy,
    to_raw,
)


@pytest.mark.parametrize(
    ("datatype", "values"),
    [
        ("BOOL", [True, False, True, True]),
        ("UINT8", [0, 1, 254, 255]),
        ("INT16", [-3, 0, 7, 300]),
        ("INT32", [-1, 2, -3, 4]),
        ("INT64", [2**40, -(2**40), 0, 1]),
        ("UINT64", [2**63, 0, 1, 2]),
        ("FP16", [0.5, 1.5, -2.0, 4.0]),
        ("FP32", [0.25, 1.5, -2.0, 3.75]),
        ("FP64", [1e-300, 2.5, -3.0, 1e300]),
    ],
)
def test_raw_round_trip_every_numeric_datatype(datatype: str, values: list) -> None:
    tensor = InferInput("t", [2, 2], datatype, values)
    arr = tensor.as_numpy()
    assert arr.shape == (2, 2)
    assert datatype_of(arr) == datatype
    raw = to_raw(arr, datatype)
    np.testing.assert_array_equal(raw_to_numpy(raw, datatype, [2, 2], "t"), arr)
    assert tensor.data == values


def test_bytes_tensor_encoding() -> None:
    arr = np.array([b"a", b"", "héllo"], dtype=object)
    raw = encode_bytes_tensor(arr)
    assert raw[:5] == struct.pack("<I", 1) + b"a"
    assert decode_bytes_tensor(raw, "x") == [b"a", b"", "héllo".encode()]
    with pytest.raises(InvalidInput, match="BYTES element at byte 0 claims 9 bytes, 2 left"):
        decode_bytes_tensor(struct.pack("<I", 9) + b"ab", "input 'x'")


def test_bool_datatype_rejects_numbers_and_strings_rejected_for_numbers() -> None:
    with pytest.raises(InvalidInput, match="input 'b': datatype is BOOL but data holds integer values"):
        InferInput("b", [2], "BOOL", [1, 0]).as_numpy()
    with pytest.raises(InvalidInput, match="input 'f': datatype is FP32 but data holds string values"):
        InferInput("f", [1], "FP32", ["1.0"]).as_numpy()
    assert InferInput("s", [2], "BYTES", ["a", "b"]).as_string() == ["a", "b"]


def test_v2_json_request_decoding_and_response_encoding() -> None:
    body = orjson.dumps(
        {
            "id": "7",
            "parameters": {"binary_data_output": False},
            "inputs": [{"name": "x", "shape": [2, 1], "datatype": "INT32", "data": [[1], [2]]}],
            "outputs": [{"name": "y"}],
        }
    )
    request = v2_rest.decode_infer_request(body, "m")
    assert request.id == "7"
    assert request.inputs[0].as_numpy().dtype == np.int32
    out = InferOutput("y", [2], "FP32")
    out.set_data_from_numpy(np.array([1.5, 2.5], dtype=np.float32))
    data, length = v2_rest.encode_infer_response(InferResponse("7", "m", [out]), request)
    assert length is None
    assert orjson.loads(data) == {
        "model_name": "m",
        "id": "7",
        "outputs": [{"name": "y", "shape": [2], "datatype": "FP32", "data": [1.5, 2.5]}],
    }


def test_v2_binary_request_round_trip_through_both_encoders() -> None:
    a = InferInput("a", [3], "FP64")
    a.set_data_from_numpy(np.array([1.0, 2.0, 3.0]))
    s = InferInput("s", [1], "BYTES")
    s.set_data_from_numpy(np.array([b"zz"], dtype=object))
    body, length = v2_rest.encode_infer_request(InferRequest("m", [a, s], request_id="r"))
    assert length is not None
    decoded = v2_rest.decode_infer_request(body, "m", length)
    np.testing.assert_array_equal(decoded.inputs[0].as_numpy(), [1.0, 2.0, 3.0])
    assert decoded.inputs[1].as_numpy().tolist() == [b"zz"]


def test_v1_codec() -> None:
    assert v1.decode_request(b'{"instances": [[1]]}') == {"instances": [[1]]}
    assert orjson.loads(v1.encode_response(np.array([1, 2]))) == {"predictions": [1, 2]}
    assert orjson.loads(v1.encode_response({"predictions": np.array([[0.5]])})) == {"predictions": [[0.5]]}


def test_seldon_codec() -> None:
    msg = orjson.loads(b'{"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}')
    assert payload.features_of(msg).tolist() == [[1, 2]]
    assert payload.data_kind(msg) == "tensor"
    doc = payload.encode_data([3], msg, None)
    assert doc["data"]["tensor"] == {"shape": [1], "values": [3]}
    with pytest.raises(SeldonError, match="has no data") as err:
        payload.features_of({})
    assert err.value.status_code == 400


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("GET", "/", Route("live_v1")),
        ("HEAD", "/v2/health/ready", Route("ready_v2")),
        ("POST", "/v1/models/iris:predict", Route("predict_v1", "iris", None, "v1")),
        ("POST", "/v1/models/a:b:explain", Route("explain_v1", "a:b", None, "v1")),
        ("GET", "/v1/models/iris", Route("model_v1", "iris")),
        ("GET", "/v2/models/iris", Route("model_metadata", "iris", None, "v2")),
        ("GET", "/v2/models/iris/versions/2/ready", Route("model_ready", "iris", "2", "v2")),
        ("POST", "/v2/models/iris/versions/2/infer", Route("infer_v2", "iris", "2", "v2")),
        ("POST", "/v2/repository/models/iris/load", Route("load", "iris")),
        ("POST", "/v2/repository/models/iris/unload", Route("unload", "iris")),
        ("GET", "/v2/models/iris/infer", Route("method_not_allowed")),
        ("POST", "/v1/models/iris:train", Route("not_found")),
        ("GET", "/v2/models/iris/extra/path", Route("not_found")),
        ("DELETE", "/v2/health/live", Route("method_not_allowed")),
    ],
)
def test_route_matching(method: str, path: str, route: Route) -> None:
    assert match(method, path) == route


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (InvalidInput("bad"), (400, "INVALID_ARGUMENT", "bad")),
        (ModelNotFound("m"), (404, "NOT_FOUND", "Model with name m does not exist.")),
        (RequestTooLarge("big"), (413, "RESOURCE_EXHAUSTED", "big")),
        (NotImplementedError("no"), (501, "UNIMPLEMENTED", "no")),
        (PredictorError(502, "UNAVAILABLE", "up"), (502, "UNAVAILABLE", "up")),
        (KeyError("k"), (500, "INTERNAL", "KeyError : 'k'")),
    ],
)
def test_status_mapping(exc: Exception, expected: tuple[int, str, str]) -> None:
    assert status_of(exc) == expected


def test_cast_to_keeps_kind_or_widens() -> None:
    tensor = InferInput("x", [2], "FP64", [1.5, 2.5])
    tensor.cast_to("FP32")
    assert tensor.datatype == "FP32"
    assert tensor.as_numpy().dtype == np.float32
    ints = InferInput("i", [2], "INT64", [1, 2])
    ints.cast_to("FP32")
    assert ints.as_numpy().tolist() == [1.0, 2.0]
    with pytest.raises(InvalidInput, match="input 'f': expected datatype INT32, got FP32"):
        InferInput("f", [1], "FP32", [1.5]).cast_to("INT32")
    with pytest.raises(InvalidInput, match="expected datatype FP32, got BYTES"):
        InferInput("s", [1], "BYTES", ["1"]).cast_to("FP32")
