"""Open Inference Protocol V2 REST: routes, JSON and binary tensors, tritonclient, error paths."""

from __future__ import annotations

import struct
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from zeroserve.servers import ServerHandle


@pytest.fixture(scope="module")
def triton_http(handle: ServerHandle) -> Any:
    client = triton.InferenceServerClient(f"127.0.0.1:{handle.http_port}")
    yield client
    client.close()


def _good_infer(http: httpx.Client) -> None:
    body = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [[1, 2], [3, 4]]}]}
    r = http.post("/v2/models/sum/infer", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == [3.0, 7.0]


def test_health_and_server_metadata(http: httpx.Client) -> None:
    assert http.get("/v2/health/live").json() == {"live": True}
    assert http.get("/v2/health/ready").json() == {"ready": True}
    meta = http.get("/v2").json()
    assert meta["name"] == "zeroserve"
    assert "model_repository_extension" in meta["extensions"]
    assert "sum" in http.get("/v2/models").json()["models"]


def test_model_metadata_with_tensor_metadata(http: httpx.Client) -> None:
    meta = http.get("/v2/models/declared").json()
    assert meta["name"] == "declared"
    assert meta["versions"] == ["3"]
    assert meta["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert meta["outputs"] == [{"name": "doubled", "datatype": "FP32", "shape": [-1, 4]}]
    assert http.get("/v2/models/declared/versions/3").json()["name"] == "declared"
    assert http.get("/v2/models/declared/ready").json() == {"name": "declared", "ready": True}
    assert http.get("/v2/models/declared/versions/3/ready").status_code == 200
    r = http.get("/v2/models/declared/versions/9")
    assert r.status_code == 404
    assert "declared (version 9)" in r.json()["error"]


def test_infer_json_echoes_id_and_version(http: httpx.Client) -> None:
    body = {
        "id": "req-1",
        "inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}],
    }
    r = http.post("/v2/models/declared/versions/3/infer", json=body)
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["id"] == "req-1"
    assert doc["model_name"] == "declared"
    assert doc["model_version"] == "3"
    assert doc["outputs"] == [{"name": "doubled", "shape": [1, 4], "datatype": "FP32", "data": [2, 4, 6, 8]}]


def test_infer_id_defaults_to_request_id_header(http: httpx.Client) -> None:
    body = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]}
    r = http.post("/v2/models/sum/infer", json=body, headers={"x-request-id": "rid-42"})
    assert r.json()["id"] == "rid-42"
    assert r.headers["x-request-id"] == "rid-42"


def test_binary_request_and_response_by_hand(http: httpx.Client) -> None:
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    words = [b"ab", b"xyz"]
    raw_words = b"".join(struct.pack("<I", len(w)) + w for w in words)
    header = {
        "inputs": [
            {"name": "a", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": x.nbytes}},
            {
                "name": "s",
                "shape": [2],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(raw_words)},
            },
        ],
        "parameters": {"binary_data_output": True},
    }
    head = orjson.dumps(header)
    r = http.post(
        "/v2/models/multi/infer",
        content=head + x.tobytes() + raw_words,
        headers={
            "inference-header-content-length": str(len(head)),
            "content-type": "application/octet-stream",
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    json_len = int(r.headers["inference-header-content-length"])
    doc = orjson.loads(r.content[:json_len])
    sizes = [o["parameters"]["binary_data_size"] for o in doc["outputs"]]
    assert [o["name"] for o in doc["outputs"]] == ["sum", "upper", "flag"]
    assert "data" not in doc["outputs"][0]
    blob = r.content[json_len:]
    assert len(blob) == sum(sizes)
    np.testing.assert_array_equal(np.frombuffer(blob[: sizes[0]], "<f4"), x.sum(axis=1))
    upper = blob[sizes[0] : sizes[0] + sizes[1]]
    assert upper == struct.pack("<I", 2) + b"AB" + struct.pack("<I", 3) + b"XYZ"
    assert blob[sizes[0] + sizes[1] :] == b"\x01\x01"


def test_tritonclient_http_binary_and_json_outputs(triton_http: Any) -> None:
    assert triton_http.is_server_live()
    assert triton_http.is_server_ready()
    assert triton_http.is_model_ready("multi")
    a = np.array([[1, 2, 3], [-4, -5, -6]], dtype=np.float32)
    s = np.array([b"hello", b"zeroserve"], dtype=np.object_)
    ia = triton.InferInput("a", list(a.shape), "FP32")
    ia.set_data_from_numpy(a, binary_data=True)
    i_s = triton.InferInput("s", list(s.shape), "BYTES")
    i_s.set_data_from_numpy(s, binary_data=False)
    outputs = [
        triton.InferRequestedOutput("sum", binary_data=True),
        triton.InferRequestedOutput("upper", binary_data=False),
        triton.InferRequestedOutput("flag", binary_data=True),
    ]
    result = triton_http.infer("multi", [ia, i_s], outputs=outputs, request_id="t-1")
    np.testing.assert_array_equal(result.as_numpy("sum"), np.array([6, -15], dtype=np.float32))
    assert result.as_numpy("upper").tolist() == ["HELLO", "ZEROSERVE"]
    assert result.as_numpy("flag").tolist() == [True, False]
    assert result.get_response()["id"] == "t-1"


def test_tritonclient_requested_output_subset(triton_http: Any) -> None:
    a = np.ones((1, 2), dtype=np.float32)
    ia = triton.InferInput("a", [1, 2], "FP32")
    ia.set_data_from_numpy(a)
    i_s = triton.InferInput("s", [1], "BYTES")
    i_s.set_data_from_numpy(np.array([b"q"], dtype=np.object_))
    result = triton_http.infer("multi", [ia, i_s], outputs=[triton.InferRequestedOutput("flag")])
    assert [o["name"] for o in result.get_response()["outputs"]] == ["flag"]
    with pytest.raises(
        InferenceServerException, match="requested output 'nope' is not produced by model multi"
    ):
        triton_http.infer("multi", [ia, i_s], outputs=[triton.InferRequestedOutput("nope")])


def test_tritonclient_metadata(triton_http: Any) -> None:
    meta = triton_http.get_model_metadata("declared")
    assert meta["inputs"][0]["datatype"] == "FP32"
    assert triton_http.get_server_metadata()["name"] == "zeroserve"


def _input(**overrides: Any) -> dict[str, Any]:
    tensor = {"name": "x", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}
    tensor.update(overrides)
    return {"inputs": [tensor]}


@pytest.mark.parametrize(
    ("model", "body", "status", "message"),
    [
        ("sum", b"{oops", 400, "invalid JSON"),
        ("sum", b'{"inputs": {}}', 400, 'Expected "inputs" to be a list, got dict'),
        ("sum", b"{}", 400, 'Expected "inputs" to be a list, got nothing'),
        ("sum", orjson.dumps(_input(shape=[2, 4])), 400, "input 'x': shape [2, 4] needs 8 elements, got 4"),
        (
            "sum",
            orjson.dumps(_input(data=["a", "b", "c", "d"])),
            400,
            "datatype is FP32 but data holds string",
        ),
        (
            "sum",
            orjson.dumps(_input(datatype="INT32", data=[1.5, 2, 3, 4])),
            400,
            "datatype is INT32 but data",
        ),
        ("sum", orjson.dumps(_input(datatype="FP99")), 400, "input 'x': unsupported datatype 'FP99'"),
        ("sum", orjson.dumps(_input(data=[[1, 2], [3]])), 400, "input 'x': data is not a regular"),
        ("sum", orjson.dumps(_input(shape="1x4")), 400, "inputs[0] 'x': 'shape' must be a list"),
        (
            "sum",
            orjson.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32"}]}),
            400,
            "missing 'data'",
        ),
        (
            "declared",
            orjson.dumps(_input(datatype="BYTES", data=list("abcd"))),
            400,
            "expected datatype FP32, got BYTES",
        ),
        ("declared", orjson.dumps(_input(shape=[2, 2])), 400, "expected shape [-1, 4], got [2, 2]"),
        ("nope", orjson.dumps(_input()), 404, "Model with name nope does not exist."),
        ("failing", orjson.dumps(_input()), 500, "RuntimeError : boom in predict"),
    ],
)
def test_infer_errors_then_good_request(
    http: httpx.Client, model: str, body: bytes, status: int, message: str
) -> None:
    r = http.post(f"/v2/models/{model}/infer", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert message in r.json()["error"]
    _good_infer(http)


@pytest.mark.parametrize(
    ("header_length", "tail", "message"),
    [
        ("999999", b"", "Inference-Header-Content-Length is 999999 but the body has"),
        ("abc", b"", "Inference-Header-Content-Length must be an integer"),
        (None, b"\x00" * 4, "binary data has 20 bytes but the tensors use 16"),
        (None, b"", "has binary_data_size but the request has no Inference-Header-Content-Length"),
    ],
)
def test_binary_extension_errors(
    http: httpx.Client, header_length: str | None, tail: bytes, message: str
) -> None:
    head = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}
            ]
        }
    )
    headers = {"content-type": "application/octet-stream"}
    if header_length is not None:
        headers["inference-header-content-length"] = header_length
    elif tail:
        headers["inference-header-content-length"] = str(len(head))
    body = head + np.zeros(4, np.float32).tobytes() + tail
    if "inference-header-content-length" not in headers:
        body = head  # a JSON-only request that still claims a binary tensor
    r = http.post("/v2/models/sum/infer", content=body, headers=headers)
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]
    _good_infer(http)


def test_oversized_v2_body_is_413(http: httpx.Client) -> None:
    x = np.zeros((3000, 8), dtype=np.float32)
    r = http.post("/v2/models/sum/infer", json=_input(shape=list(x.shape), data=x.ravel().tolist()))
    assert r.status_code == 413
    assert "exceeds the limit of 65536 bytes" in r.json()["error"]
    _good_infer(http)


@pytest.mark.parametrize("datatype", ["FP64", "INT64", "FP16"])
def test_declared_fp32_input_accepts_other_numeric_widths(http: httpx.Client, datatype: str) -> None:
    r = http.post("/v2/models/declared/infer", json=_input(datatype=datatype))
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0] == {
        "name": "doubled",
        "shape": [1, 4],
        "datatype": "FP32",
        "data": [2, 4, 6, 8],
    }
