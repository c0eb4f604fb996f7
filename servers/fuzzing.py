"""Malformed inference requests, generated from a seed, and the rule every answer must follow.

Used by ``hack/chaos/fuzz.py`` (10,000+ cases against a server or through the gateway) and by a
small seeded slice in the tests. Each :class:`Case` starts from a valid request of one protocol
(KServe V1, V2 REST JSON, V2 REST with the binary tensor extension, V2 gRPC, Seldon) and breaks it:
a field replaced by a value of another type, a shape that lies, a huge or negative number, a
missing or extra key, JSON nested thousands deep, truncated or flipped bytes, a binary part that
does not match its header, random bytes as a protobuf.

The rule (:func:`judge_http`, :func:`judge_grpc`): the server answers, never with a 5xx / an
``INTERNAL`` or ``UNKNOWN`` gRPC status, and never with a Python exception's class name or a
traceback in the message.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb

__all__ = ["PROTOCOLS", "Case", "generate", "judge_grpc", "judge_http", "send_grpc", "send_http"]

PROTOCOLS = ("v1", "v2", "v2-binary", "seldon", "grpc")
"""The protocols :func:`generate` covers, in turn."""

GRPC_INFER = "/inference.GRPCInferenceService/ModelInfer"
"""The gRPC method the ``grpc`` cases call (their body is the serialized request)."""

_ROW = [6.8, 2.8, 4.8, 1.4]
_LEAK = re.compile(r"Traceback|\b[A-Z][A-Za-z]*(Error|Exception)\b|File \"|line \d+, in ")
_BAD_GRPC = frozenset({"UNKNOWN", "INTERNAL", "DATA_LOSS"})


@dataclass
class Case:
    """One malformed request."""

    protocol: str
    """One of :data:`PROTOCOLS`."""
    path: str
    """The REST path, or :data:`GRPC_INFER`."""
    body: bytes
    """The request body (REST) or the serialized ``ModelInferRequest`` (gRPC)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra request headers (content type, ``Inference-Header-Content-Length``)."""
    mutation: str = ""
    """What was broken, for the report."""


def judge_http(status: int, body: bytes) -> str | None:
    """Why a REST answer breaks the rule, or ``None`` when it is fine.

    Args:
        status: the HTTP status.
        body: the response body.

    Returns:
        A one-line reason, or ``None``.
    """
    if status >= 500:
        return f"HTTP {status}: {body[:200]!r}"
    if status >= 400:
        text = body.decode("utf-8", "replace")
        if _LEAK.search(text):
            return f"HTTP {status} leaks Python internals: {text[:200]}"
    return None


def judge_grpc(code: str, details: str) -> str | None:
    """Why a gRPC answer breaks the rule, or ``None`` when it is fine.

    Args:
        code: the status code's name (``OK``, ``INVALID_ARGUMENT``, ...).
        details: the status message.

    Returns:
        A one-line reason, or ``None``.
    """
    if code in _BAD_GRPC:
        return f"gRPC {code}: {details[:200]}"
    if code != "OK" and _LEAK.search(details):
        return f"gRPC {code} leaks Python internals: {details[:200]}"
    return None


def send_http(client: Any, case: Case, prefix: str = "", host: str | None = None) -> str | None:
    """Send a REST case with a blocking ``httpx.Client`` and judge the answer.

    Args:
        client: an ``httpx.Client`` whose base URL is the server (or the gateway).
        case: the case (not a ``grpc`` one).
        prefix: put before the case's path (e.g. a gateway's ``/serving/<ns>/<name>``).
        host: the ``Host`` header to send (a gateway routes by it).

    Returns:
        Why the answer breaks the rule, or ``None``.
    """
    headers = dict(case.headers)
    if host:
        headers["host"] = host
    response = client.post(prefix + case.path, content=case.body, headers=headers)
    return judge_http(response.status_code, response.content)


def send_grpc(call: Any, case: Case, timeout: float = 30.0) -> str | None:
    """Send a ``grpc`` case through a raw-bytes unary callable and judge the answer.

    Args:
        call: ``channel.unary_unary(GRPC_INFER)`` (no serializers: the body goes as it is).
        case: the case.
        timeout: seconds for the call.

    Returns:
        Why the answer breaks the rule, or ``None``.
    """
    import grpc

    try:
        call(case.body, timeout=timeout)
    except grpc.RpcError as exc:
        return judge_grpc(exc.code().name, exc.details() or "")
    return None


# -- random values ---------------------------------------------------------------------------------


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -1,
            1.5,
            2**64,
            -(2**63) - 1,
            10**400 // 10**380,
            1e308,
            -1e308,
            "",
            "x",
            "1",
            "\u0000",
            "\ud7ff" * 3,
            "NaN",
            rng.random(),
            rng.randint(-(2**70), 2**70),
        ]
    )


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.5 or depth > 3:
        return _scalar(rng)
    if roll < 0.65:
        return []
    if roll < 0.75:
        return {}
    if roll < 0.9:
        return [_value(rng, depth + 1) for _ in range(rng.randint(1, 4))]
    return {rng.choice(["name", "shape", "data", "x", ""]): _value(rng, depth + 1)}


def _deep(rng: random.Random) -> Any:
    depth = rng.choice([65, 200, 600])  # deeper still: raw text in _json_case (json.dumps recurses)
    doc: Any = 1
    for _ in range(depth):
        doc = [doc] if rng.random() < 0.7 else {"a": doc}
    return doc


# -- valid requests --------------------------------------------------------------------------------


def _valid_v1(rng: random.Random) -> dict[str, Any]:
    rows = [list(_ROW) for _ in range(rng.randint(1, 3))]
    return {"instances": rows} if rng.random() < 0.8 else {"inputs": rows}


def _valid_v2(rng: random.Random) -> dict[str, Any]:
    rows = rng.randint(1, 3)
    doc: dict[str, Any] = {
        "id": "fuzz",
        "inputs": [{"name": "input-0", "shape": [rows, 4], "datatype": "FP32", "data": _ROW * rows}],
    }
    if rng.random() < 0.3:
        doc["outputs"] = [{"name": "output-0", "parameters": {"binary_data": False}}]
    if rng.random() < 0.2:
        doc["parameters"] = {"binary_data_output": rng.random() < 0.5}
    return doc


def _valid_seldon(rng: random.Random) -> dict[str, Any]:
    if rng.random() < 0.5:
        return {"data": {"ndarray": [list(_ROW)]}}
    return {"data": {"names": ["a", "b", "c", "d"], "tensor": {"shape": [1, 4], "values": list(_ROW)}}}


# -- mutations of a JSON document -------------------------------------------------------------------


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            out.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for i, value in enumerate(doc[:4]):
            out.extend(_paths(value, (*prefix, i)))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _mutate_doc(rng: random.Random, doc: Any) -> tuple[Any, str]:
    paths = _paths(doc)
    path = rng.choice(paths)
    where = "/".join(map(str, path)) or "(root)"
    roll = rng.random()
    if roll < 0.45:
        return _replace(doc, path, _value(rng)), f"replace {where}"
    if roll < 0.6 and path:
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        return doc, f"delete {where}"
    if roll < 0.7:
        return _replace(doc, path, _deep(rng)), f"deep {where}"
    if roll < 0.8 and isinstance(doc, dict):
        doc[rng.choice(["instances", "inputs", "outputs", "parameters", "data", "jsonData", "id", "zz"])] = (
            _value(rng)
        )
        return doc, "extra key"
    if roll < 0.9:
        big = rng.choice([2**64, 18446744073709551616, -1, -(2**63), 10**30, 0])
        return _replace(doc, path, [big, 4]), f"shape-like {where}"
    return [doc], "wrapped in a list"


def _mutate_bytes(rng: random.Random, body: bytes) -> tuple[bytes, str]:
    data = bytearray(body)
    roll = rng.random()
    if roll < 0.3 and data:
        cut = rng.randrange(len(data))
        return bytes(data[:cut]), f"truncated at {cut}"
    if roll < 0.6 and data:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data), "bytes flipped"
    if roll < 0.8:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.randbytes(rng.randint(1, 16))
        return bytes(data), "bytes inserted"
    return rng.randbytes(rng.randint(0, 64)), "random bytes"


def _json_case(rng: random.Random, protocol: str, path: str, doc: Any) -> Case:
    headers = {"content-type": "application/json"}
    roll = rng.random()
    if roll < 0.72:
        for _ in range(rng.randint(1, 2)):
            doc, what = _mutate_doc(rng, doc)
        try:
            body = json.dumps(doc).encode()  # not orjson: it refuses integers past 64 bits
        except RecursionError:  # two deep mutations nested: send it as a deep text instead
            body, what = b'{"instances": ' + b"[" * 3000 + b"]" * 3000 + b"}", "nested 3000 deep"
        return Case(protocol, path, body, headers, what)
    if roll < 0.77:
        depth = rng.choice([1025, 5000, 30_000])
        key = rng.choice(["instances", "inputs", "data", "jsonData"])
        body = f'{{"{key}": {"[" * depth}{"]" * depth}}}'.encode()
        return Case(protocol, path, body, headers, f"{key} nested {depth} deep")
    body, what = _mutate_bytes(rng, orjson.dumps(doc))
    return Case(protocol, path, body, headers, what)


# -- binary extension and gRPC -------------------------------------------------------------------


def _binary_case(rng: random.Random, path: str) -> Case:
    rows = rng.randint(1, 3)
    raw = b"\x00\x00\x80\x3f" * (4 * rows)
    size: Any = len(raw)
    shape: Any = [rows, 4]
    datatype: Any = "FP32"
    roll = rng.random()
    what = "binary"
    if roll < 0.2:
        size = rng.choice([len(raw) + 1, len(raw) - 1, -1, 2**64, "16", None, True])
        what = f"binary_data_size {size!r}"
    elif roll < 0.35:
        shape = rng.choice([[rows, 5], [-1, 4], [2**62, 4], [True, 4], [rows], "x"])
        what = f"shape {shape!r}"
    elif roll < 0.5:
        datatype = rng.choice(["BYTES", "BF16", "FP16", "INT8", "BOOL", "", "fp32", 7])
        what = f"datatype {datatype!r}"
    elif roll < 0.6:
        raw = rng.randbytes(len(raw))
        datatype = "BYTES"
        what = "random BYTES"
    entry = {
        "name": "input-0",
        "shape": shape,
        "datatype": datatype,
        "parameters": {"binary_data_size": size},
    }
    head = json.dumps({"inputs": [entry]}).encode()
    length: Any = len(head)
    if rng.random() < 0.25:
        length = rng.choice([len(head) + 3, len(head) - 3, 0, -5, 10**12, "abc", ""])
        what += f", header length {length!r}"
    body = head + raw
    if rng.random() < 0.15:
        body, cut = _mutate_bytes(rng, body)
        what += f", {cut}"
    headers = {"content-type": "application/octet-stream", "inference-header-content-length": str(length)}
    return Case("v2-binary", path, body, headers, what)


def _grpc_case(rng: random.Random, model: str) -> Case:
    rows = rng.randint(1, 3)
    msg = pb.ModelInferRequest(model_name=model, id="fuzz")
    tensor = msg.inputs.add(name="input-0", datatype="FP32", shape=[rows, 4])
    raw = b"\x00\x00\x80\x3f" * (4 * rows)
    roll = rng.random()
    what = "grpc"
    if roll < 0.15:
        del tensor.shape[:]
        tensor.shape.extend(rng.choice([[-1, 4], [rows, -4], [2**62, 4], [rows, 5], [], [0, 4]]))
        what = f"shape {list(tensor.shape)}"
        msg.raw_input_contents.append(raw)
    elif roll < 0.3:
        tensor.datatype = rng.choice(["BYTES", "BF16", "FP16", "INT8", "", "UINT64", "x" * 300])
        what = f"datatype {tensor.datatype[:20]!r}"
        msg.raw_input_contents.append(rng.choice([raw, rng.randbytes(len(raw)), b""]))
    elif roll < 0.45:
        tensor.contents.fp32_contents.extend([1.0] * rng.choice([0, 3, 4 * rows, 4 * rows + 1]))
        if rng.random() < 0.5:
            tensor.contents.int_contents.extend([1, 2])
        what = "typed contents"
    elif roll < 0.55:
        msg.raw_input_contents.extend([raw, raw])
        what = "two raw contents for one input"
    elif roll < 0.65:
        msg.raw_input_contents.append(raw)
        msg.outputs.add(name=rng.choice(["output-0", "nope", ""]))
        msg.parameters["binary_data_output"].string_param = "yes"
        what = "outputs and parameters"
    elif roll < 0.72:
        msg.model_name = rng.choice(["", "missing", "x" * 1000])
        msg.raw_input_contents.append(raw)
        what = "model name"
    else:
        msg.raw_input_contents.append(raw)
    body = msg.SerializeToString()
    if roll >= 0.72:
        body, what = _mutate_bytes(rng, body)
    return Case("grpc", GRPC_INFER, body, {}, what)


def generate(seed: int, count: int, model: str = "iris") -> Iterator[Case]:
    """``count`` malformed requests for ``model``, the same ones for the same seed.

    Args:
        seed: the random seed.
        count: how many cases.
        model: the model the requests name.

    Yields:
        The cases, cycling through :data:`PROTOCOLS`.
    """
    rng = random.Random(seed)
    v1_path = f"/v1/models/{model}:predict"
    v2_path = f"/v2/models/{model}/infer"
    for i in range(count):
        protocol = PROTOCOLS[i % len(PROTOCOLS)]
        if protocol == "v1":
            yield _json_case(rng, "v1", v1_path, _valid_v1(rng))
        elif protocol == "v2":
            yield _json_case(rng, "v2", v2_path, _valid_v2(rng))
        elif protocol == "v2-binary":
            yield _binary_case(rng, v2_path)
        elif protocol == "seldon":
            yield _json_case(rng, "seldon", "/api/v1.0/predictions", _valid_seldon(rng))
        else:
            yield _grpc_case(rng, model)
