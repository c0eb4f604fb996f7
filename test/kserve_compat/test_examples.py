"""KServe's custom model (REST and gRPC) and custom transformer examples, run unchanged with the real
KServe 0.21 (``.venv-kserve``) and with zeroserve's ``kserve`` package, answer the same: V1, V2 REST
and V2 gRPC (binary ``BYTES`` too), errors, CORS, the user's extra route, Swagger UI and response
headers; KServe's clients (the real ones and zeroserve's) get the same answers from both.

Left out of the comparison: ids and timings. ``null`` fields, an empty ``model_version`` and how a
gRPC output's values travel (typed ``contents`` for list data, ``raw_output_contents`` for arrays)
are compared too: responses of the ``kserve`` package are encoded as KServe encodes them.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from kserve_processes import KSERVE_PYTHON, SIDES, Server, python_of, start, wait_all

from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from zeroserve.servers.tensors import raw_to_numpy

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not KSERVE_PYTHON.exists(), reason="needs .venv-kserve (bash hack/clients/kserve.sh)"),
]

IMAGE = bytes(range(0, 160, 10))  # a 4x4 grey image, 16 bytes
IMAGE_B64 = base64.b64encode(IMAGE).decode()
OTHER_B64 = base64.b64encode(bytes(range(255, 95, -10))).decode()
PROTOCOLS = ("v1", "v2", "grpc-v2")
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], Server]]:
    """Per side: the custom model, and the custom transformer in front of it once per predictor protocol."""
    folder = tmp_path_factory.mktemp("kserve-examples")
    started: dict[tuple[str, str], Server] = {}
    try:
        for side in SIDES:
            started[side, "model"] = start(
                side, "custom_model.py", "model", folder, "--enable_docs_url", "true"
            )
            started[side, "grpc-model"] = start(side, "custom_model_grpc.py", "grpc-model", folder)
        for side in SIDES:
            model = started[side, "model"]
            for protocol in PROTOCOLS:
                port = model.grpc_port if protocol == "grpc-v2" else model.http_port
                started[side, protocol] = start(
                    side,
                    "custom_transformer.py",
                    f"transformer-{protocol}",
                    folder,
                    "--predictor_host",
                    f"127.0.0.1:{port}",
                    "--predictor_protocol",
                    protocol,
                )
        wait_all(list(started.values()))
        yield started
    finally:
        for server in started.values():
            server.stop()
    # zeroserve's servers stop gracefully on SIGTERM
    exits = {name: s.process.returncode for (side, name), s in started.items() if side == "zeroserve"}
    assert set(exits.values()) == {0}, exits


def _clean(doc: Any) -> Any:
    """``doc`` without ids, ``null`` fields and an empty ``model_version``."""
    if isinstance(doc, dict):
        return {k: _clean(v) for k, v in doc.items() if k != "id"}
    if isinstance(doc, list):
        return [_clean(v) for v in doc]
    return doc


def _rest(
    server: Server, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, Any, httpx.Headers]:
    content = json.dumps(body).encode() if body is not None else None
    reply = httpx.request(method, server.url + path, content=content, headers={**JSON, **headers}, timeout=10)
    try:
        doc = _clean(reply.json())
    except ValueError:
        doc = reply.text
    return reply.status_code, doc, reply.headers


def _both(
    servers: dict[tuple[str, str], Server],
    role: str,
    method: str,
    path: str,
    body: Any = None,
    **headers: str,
) -> Any:
    """The answer of both sides, asserted equal; returns it."""
    answers = {side: _rest(servers[side, role], method, path, body, **headers) for side in SIDES}
    kserve, ours = answers["kserve"], answers["zeroserve"]
    assert (ours[0], ours[1]) == (kserve[0], kserve[1]), f"{method} {path} on {role}: {answers}"
    return kserve


def _grpc_infer(server: Server, request: pb.ModelInferRequest) -> tuple[str, Any]:
    with grpc.insecure_channel(server.grpc_target) as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        try:
            reply = stub.ModelInfer(request, timeout=10)
        except grpc.RpcError as exc:
            return exc.code().name, exc.details()
    return "OK", _clean(_decoded(reply))


def _decoded(reply: pb.ModelInferResponse) -> dict[str, Any]:
    """The response as a dict whose outputs carry their values as ``data``, and ``wire``: how each
    output travelled (KServe 0.21 sends an output given as a list in typed ``contents`` and one given
    as an array in ``raw_output_contents``; the ``kserve`` package must do the same).
    """
    doc = MessageToDict(reply, preserving_proto_field_name=True)
    raws = list(reply.raw_output_contents)
    wire = []
    for out in doc.get("outputs", []):
        contents = out.pop("contents", None)
        if contents:
            (values,) = contents.values()
            out["data"] = [float(v) if out["datatype"].startswith("FP") else v for v in values]
            wire.append("contents")
        else:
            shape = [int(d) for d in out["shape"]]
            array = raw_to_numpy(
                raws[len([w for w in wire if w == "raw"])], out["datatype"], shape, out["name"]
            )
            out["data"] = array.ravel().tolist()
            wire.append("raw")
    doc.pop("raw_output_contents", None)
    doc["wire"] = wire
    return doc


def _grpc_both(servers: dict[tuple[str, str], Server], role: str, request: pb.ModelInferRequest) -> Any:
    answers = {side: _grpc_infer(servers[side, role], request) for side in SIDES}
    assert answers["zeroserve"] == answers["kserve"], f"gRPC on {role}: {answers}"
    return answers["kserve"]


def _bytes_request(model: str, raw: bool, value: bytes = IMAGE) -> pb.ModelInferRequest:
    tensor = pb.ModelInferRequest.InferInputTensor(name="image", datatype="BYTES", shape=[1])
    if raw:
        request = pb.ModelInferRequest(model_name=model, inputs=[tensor])
        request.raw_input_contents.append(len(value).to_bytes(4, "little") + value)
        return request
    tensor.contents.bytes_contents.append(value)
    return pb.ModelInferRequest(model_name=model, inputs=[tensor])


TOP5 = [150.0, 150.0, 85.0, 75.0, 75.0]


def test_custom_model_v1_and_v2_rest(servers: dict[tuple[str, str], Server]) -> None:
    status, doc, _ = _both(
        servers, "model", "POST", "/v1/models/m:predict", {"instances": [{"image": {"b64": IMAGE_B64}}]}
    )
    assert (status, doc) == (200, {"predictions": TOP5})
    v2 = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [IMAGE_B64]}]}
    status, doc, _ = _both(servers, "model", "POST", "/v2/models/m/infer", v2)
    assert status == 200
    assert doc == {
        "model_name": "m",
        "model_version": None,
        "parameters": None,
        "outputs": [
            {"name": "output-0", "shape": [1, 5], "datatype": "FP32", "parameters": None, "data": TOP5}
        ],
    }
    fp32 = {"inputs": [{"name": "x", "shape": [1, 16], "datatype": "FP32", "data": [v / 2 for v in IMAGE]}]}
    assert _both(servers, "model", "POST", "/v2/models/m/infer", fp32)[1] == doc
    # response headers of the model, CORS of the user's middleware
    for side in SIDES:
        _, _, headers = _rest(
            servers[side, "model"],
            "POST",
            "/v1/models/m:predict",
            {"instances": [{"image": {"b64": OTHER_B64}}]},
            origin="http://ui.example",
        )
        assert float(headers["prediction-time-latency"]) >= 0, side
        assert headers["access-control-allow-origin"] == "http://ui.example", side
        assert headers["access-control-allow-credentials"] == "true", side


def test_custom_model_v2_grpc_binary_bytes(servers: dict[tuple[str, str], Server]) -> None:
    typed = _grpc_both(servers, "model", _bytes_request("m", raw=False))
    code, doc = typed
    assert code == "OK" and doc["model_name"] == "m"
    assert doc["outputs"] == [{"name": "output-0", "datatype": "FP32", "shape": ["1", "5"], "data": TOP5}]
    # The same image in raw_input_contents: KServe 0.21's InferInput.data is empty there, so its own
    # example fails (IndexError -> INTERNAL); zeroserve's data holds the decoded bytes and answers.
    assert _grpc_infer(servers["zeroserve", "model"], _bytes_request("m", raw=True)) == typed
    assert _grpc_infer(servers["kserve", "model"], _bytes_request("m", raw=True))[0] == "INTERNAL"


def test_custom_model_grpc_answering_with_a_dict(servers: dict[tuple[str, str], Server]) -> None:
    code, doc = _grpc_both(servers, "grpc-model", _bytes_request("custom-model", raw=False))
    assert code == "OK" and doc["model_name"] == "custom-model"
    assert doc["outputs"] == [{"name": "output-0", "datatype": "FP32", "shape": ["1", "5"], "data": TOP5}]
    fp32 = pb.ModelInferRequest.InferInputTensor(name="x", datatype="FP32", shape=[1, 16])
    fp32.contents.fp32_contents.extend(v / 2 for v in IMAGE)
    request = pb.ModelInferRequest(model_name="custom-model", inputs=[fp32])
    assert _grpc_both(servers, "grpc-model", request) == (code, doc)


def test_custom_model_errors_match(servers: dict[tuple[str, str], Server]) -> None:
    assert _both(servers, "model", "POST", "/v1/models/m:predict", {"instances": [{"x": 1}]})[:2] == (
        400,
        {"error": "invalid payload"},
    )
    status, doc, _ = _both(
        servers, "model", "POST", "/v1/models/m:predict", {"instances": [{"image": {"b64": "AAAA"}}]}
    )
    assert status == 400 and "got 3" in doc["error"]
    assert _both(servers, "model", "POST", "/v1/models/nope:predict", {"instances": [1]})[0] == 404
    code, details = _grpc_both(servers, "model", _bytes_request("m", raw=False, value=b"abc"))
    assert code == "INVALID_ARGUMENT" and "got 3" in details
    assert _grpc_both(servers, "model", _bytes_request("nope", raw=False))[0] == "NOT_FOUND"


def test_user_routes_preflight_and_health(servers: dict[tuple[str, str], Server]) -> None:
    assert _both(servers, "model", "GET", "/custom/info")[:2] == (200, {"model": "m", "top_k": 5})
    preflight = {"origin": "http://ui.example", "access-control-request-method": "POST"}
    answers = {
        side: _rest(servers[side, "model"], "OPTIONS", "/v2/models/m/infer", **preflight) for side in SIDES
    }
    assert answers["zeroserve"][0] == answers["kserve"][0] == 200
    for name in ("access-control-allow-origin", "access-control-allow-methods", "access-control-max-age"):
        assert answers["zeroserve"][2][name] == answers["kserve"][2][name], name
    for side in SIDES:  # --enable_docs_url: Swagger UI and the OpenAPI document of the user's routes
        assert _rest(servers[side, "model"], "GET", "/docs")[0] == 200, side
        assert "/custom/info" in _rest(servers[side, "model"], "GET", "/openapi.json")[1]["paths"], side
    assert _both(servers, "model", "GET", "/")[:2] == (200, {"status": "alive"})
    assert _both(servers, "model", "GET", "/v1/models/m")[:2] == (200, {"name": "m", "ready": True})
    assert _both(servers, "model", "GET", "/v2/health/live")[:2] == (200, {"live": True})
    assert _both(servers, "model", "GET", "/v2/models/m/ready")[:2] == (200, {"name": "m", "ready": True})


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_custom_transformer(servers: dict[tuple[str, str], Server], protocol: str) -> None:
    v1 = {"instances": [{"image": {"b64": IMAGE_B64}}]}
    status, doc, _ = _both(servers, protocol, "POST", "/v1/models/m:predict", v1)
    assert status == 200
    assert doc == {"predictions": TOP5 if protocol == "v1" else [TOP5]}
    if protocol == "v1":
        return  # the example answers V2 requests with a V1 dict in front of a V1 predictor (KServe: 500)
    v2 = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "data": [IMAGE_B64]}]}
    status, doc, _ = _both(servers, protocol, "POST", "/v2/models/m/infer", v2)
    assert status == 200 and doc["outputs"][0]["data"] == TOP5
    tensor = pb.ModelInferRequest.InferInputTensor(name="image", datatype="BYTES", shape=[1])
    tensor.contents.bytes_contents.append(IMAGE_B64.encode())
    code, reply = _grpc_both(servers, protocol, pb.ModelInferRequest(model_name="m", inputs=[tensor]))
    assert code == "OK" and reply["outputs"] == [
        {"name": "output-0", "datatype": "FP32", "shape": ["1", "5"], "data": TOP5}
    ]


# Outputs are read with as_numpy(): from zeroserve's gRPC answers (raw_output_contents) KServe's own
# InferResponse.from_grpc leaves ``.data`` empty, where KServe's server sends list outputs as typed contents.
CLIENT_SCRIPT = r"""
import asyncio, base64, json, sys
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

def tensors(res):
    outputs = [
        {"name": o.name, "shape": list(o.shape), "datatype": o.datatype, "data": o.as_numpy().tolist()}
        for o in res.outputs
    ]
    return {"model_name": res.model_name, "outputs": outputs}

async def main(http, grpc_target, image_b64):
    out = {}
    for protocol in ("v1", "v2"):
        client = InferenceRESTClient(RESTConfig(protocol=protocol))
        base = "http://" + http
        out[protocol + " live"] = await client.is_server_live(base)
        out[protocol + " model ready"] = await client.is_model_ready(base, "m")
        if protocol == "v1":
            res = await client.infer(base, {"instances": [{"image": {"b64": image_b64}}]}, model_name="m")
            out["v1 infer"] = res
            try:
                await client.infer(base, {"instances": [{"x": 1}]}, model_name="m")
            except Exception as exc:
                out["v1 error"] = [type(exc).__name__, exc.response.status_code, str(exc).split(",")[0]]
        else:
            out["v2 ready"] = await client.is_server_ready(base)
            inp = InferInput("image", [1], "BYTES", [image_b64])
            out["v2 infer"] = tensors(await client.infer(base, InferRequest("m", [inp]), model_name="m"))
        await client.close()
    client = InferenceGRPCClient(grpc_target)
    inp = InferInput("image", [1], "BYTES", [base64.b64decode(image_b64)])
    out["grpc infer"] = tensors(await client.infer(InferRequest("m", [inp])))
    out["grpc live"] = await client.is_server_live()
    out["grpc ready"] = await client.is_model_ready("m")
    await client.close()
    print(json.dumps(out, sort_keys=True))

asyncio.run(main(*sys.argv[1:]))
"""


def test_kserve_clients_answer_the_same(servers: dict[tuple[str, str], Server], tmp_path: Path) -> None:
    """KServe's InferenceRESTClient / InferenceGRPCClient (the real ones and zeroserve's) on both servers."""
    script = tmp_path / "clients.py"
    script.write_text(CLIENT_SCRIPT)
    answers = {}
    for client_side in SIDES:
        for side in SIDES:
            model = servers[side, "model"]
            address = f"127.0.0.1:{model.http_port}"
            done = subprocess.run(
                [python_of(client_side), str(script), address, model.grpc_target, IMAGE_B64],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr[-3000:]
            answers[client_side, side] = json.loads(done.stdout.strip().splitlines()[-1])
    expected = answers["kserve", "kserve"]
    assert expected["v1 infer"] == {"predictions": TOP5}
    assert expected["grpc infer"]["outputs"][0]["data"] == [TOP5]
    assert expected["v1 error"] == ["HTTPStatusError", 400, "invalid payload"]
    for key, answer in answers.items():
        assert answer == expected, key


def test_zeroserve_model_server_start_reads_ports_from_argv(tmp_path: Path) -> None:
    server = start("zeroserve", "zeroserve_import.py", "zeroserve-import", tmp_path)
    try:
        wait_all([server])
        reply = httpx.post(f"{server.url}/v1/models/m:predict", json={"instances": [[1, 2]]}, timeout=10)
        assert reply.json() == {"predictions": [[1, 2]]}
        with grpc.insecure_channel(server.grpc_target) as channel:
            live = pb_grpc.GRPCInferenceServiceStub(channel).ServerLive(pb.ServerLiveRequest(), timeout=10)
        assert live.live
        server.process.terminate()  # SIGTERM: a graceful stop, exit status 0
        assert server.process.wait(30) == 0, server.output()
    finally:
        server.stop()
