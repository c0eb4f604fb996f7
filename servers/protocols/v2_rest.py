"""Open Inference Protocol V2 REST codec, JSON and the binary tensor extension.

A binary body is ``<JSON header><raw tensors>``; ``Inference-Header-Content-Length`` gives the JSON
length, each binary tensor carries ``parameters.binary_data_size`` and the raw tensors follow in
order. Requests and responses are symmetric, so both directions are here (the server decodes
requests and encodes responses; the transformer's predictor client does the reverse).
"""

from __future__ import annotations

from typing import Any

import orjson

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.protocols.json_body import DEFAULT_MAX_DEPTH, loads
from zeroserve.servers.tensors import MAX_DIMENSION, to_raw
from zeroserve.servers.types import (
    InferInput,
    InferOutput,
    InferRequest,
    InferResponse,
    RequestedOutput,
    Tensor,
)

__all__ = [
    "HEADER_LENGTH",
    "decode_infer_request",
    "decode_infer_response",
    "encode_infer_request",
    "encode_infer_response",
]

HEADER_LENGTH = "inference-header-content-length"
"""The binary extension's header (lower case, as ASGI and httpx present header names)."""

_OPTS = orjson.OPT_SERIALIZE_NUMPY


def _split(body: bytes, header_length: int | None, max_depth: int) -> tuple[Any, memoryview | None]:
    if header_length is None:
        json_part, binary = body, None
    else:
        if header_length < 0 or header_length > len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length is {header_length} but the body has {len(body)} bytes"
            )
        view = memoryview(body)
        json_part, binary = bytes(view[:header_length]), view[header_length:]
    doc = loads(json_part, "Unrecognized request format", max_depth)
    if not isinstance(doc, dict):
        raise InvalidInput(f"Unrecognized request format: expected a JSON object, got {type(doc).__name__}")
    return doc, binary


def _tensors(
    doc: dict[str, Any], key: str, binary: memoryview | None, cls: type[Tensor], validate: bool
) -> list[Any]:
    items = doc.get(key)
    if not isinstance(items, list):
        got = "nothing" if items is None else type(items).__name__
        raise InvalidInput(f'Expected "{key}" to be a list, got {got}')
    out = []
    offset = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidInput(f"{key}[{i}]: expected an object, got {type(item).__name__}")
        name = item.get("name")
        if not isinstance(name, str):
            raise InvalidInput(f"{key}[{i}]: missing or non-string 'name'")
        where = f"{key}[{i}] '{name}'"
        shape = item.get("shape")
        if not isinstance(shape, list) or not all(
            type(d) is int and 0 <= d <= MAX_DIMENSION
            for d in shape  # not bool, not float
        ):
            shown = orjson.dumps(shape).decode()[:80]
            raise InvalidInput(f"{where}: 'shape' must be a list of non-negative integers, got {shown}")
        datatype = item.get("datatype")
        if not isinstance(datatype, str):
            raise InvalidInput(f"{where}: missing or non-string 'datatype'")
        params = item.get("parameters")
        if params is not None and not isinstance(params, dict):
            raise InvalidInput(f"{where}: 'parameters' must be an object")
        tensor = cls(name, shape, datatype, None, params)
        size = params.get("binary_data_size") if params else None
        if size is not None:
            if binary is None:
                raise InvalidInput(
                    f"{where}: has binary_data_size but the request has no Inference-Header-Content-Length"
                )
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise InvalidInput(
                    f"{where}: binary_data_size {size!r} exceeds the {len(binary) - offset} binary bytes left"
                )
            tensor.set_raw_data(binary[offset : offset + size])
            offset += size
        else:
            data = item.get("data")
            if data is None:
                raise InvalidInput(f"{where}: missing 'data'")
            tensor.data = data
        if validate:
            tensor.as_numpy()
        out.append(tensor)
    if binary is not None and offset != len(binary):
        raise InvalidInput(f"binary data has {len(binary)} bytes but the tensors use {offset}")
    return out


def decode_infer_request(
    body: bytes,
    model_name: str,
    header_length: int | None = None,
    model_version: str | None = None,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> InferRequest:
    """Decode a ``POST /v2/models/<m>/infer`` body.

    Every input is checked here (data fits shape and datatype), so a bad request is a 400 before any
    model code runs.

    Args:
        body: the request body.
        model_name: the model named in the path.
        header_length: ``Inference-Header-Content-Length`` when present (binary extension).
        model_version: the version named in the path, if any.
        max_depth: the deepest JSON nesting accepted.

    Returns:
        The request.

    Raises:
        InvalidInput: the body is not a V2 request, or an input does not fit its shape and datatype;
            the message names the field (``inputs[0] 'x'``, ``outputs[1].parameters``).
    """
    doc, binary = _split(body, header_length, max_depth)
    inputs = _tensors(doc, "inputs", binary, InferInput, validate=True)
    params = doc.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise InvalidInput("'parameters' must be an object")
    requested = None
    outputs = doc.get("outputs")
    if outputs is not None:
        if not isinstance(outputs, list):
            raise InvalidInput(f'Expected "outputs" to be a list, got {type(outputs).__name__}')
        requested = []
        for i, item in enumerate(outputs):
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InvalidInput(f"outputs[{i}]: expected an object with a string 'name'")
            out_params = item.get("parameters")
            if out_params is not None and not isinstance(out_params, dict):
                raise InvalidInput(f"outputs[{i}] '{item['name']}': 'parameters' must be an object")
            requested.append(RequestedOutput(item["name"], out_params or {}))
    rid = doc.get("id")
    if rid is not None and not isinstance(rid, str | int):
        raise InvalidInput(f"'id' must be a string, got {type(rid).__name__}")
    return InferRequest(
        model_name,
        inputs,
        request_id=str(rid) if rid is not None else None,
        parameters=params,
        request_outputs=requested,
        model_version=model_version,
    )


def _bytes_as_text(tensor: Tensor) -> list[Any] | None:
    """A BYTES tensor's elements as JSON strings, or ``None`` when one of them is not UTF-8."""
    items = tensor._data if tensor._data is not None else tensor.as_numpy().ravel().tolist()

    def text(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode()
        if isinstance(value, list):
            return [text(v) for v in value]
        return value

    try:
        return [text(v) for v in items] if isinstance(items, list) else text(items)
    except UnicodeDecodeError:
        return None


def _encode(
    head: dict[str, Any], tensors: list[Tensor], key: str, binary_flags: list[bool], nulls: bool = False
) -> tuple[bytes, int | None]:
    items = []
    chunks: list[bytes] = []
    for tensor, binary in zip(tensors, binary_flags, strict=True):
        entry: dict[str, Any] = {"name": tensor.name, "shape": tensor.shape, "datatype": tensor.datatype}
        if nulls:  # KServe's field order, with "parameters": null when there are none
            entry["parameters"] = None
        params = {k: v for k, v in tensor.parameters.items() if k not in ("binary_data", "binary_data_size")}
        text = None
        if not binary and tensor.datatype == "BYTES":
            text = _bytes_as_text(tensor)
            binary = text is None  # not UTF-8: JSON cannot carry it, the binary extension can
        if binary:
            raw = tensor.raw_data
            chunk = bytes(raw) if raw is not None else to_raw(tensor.as_numpy(), tensor.datatype)
            params["binary_data_size"] = len(chunk)
            chunks.append(chunk)
        elif text is not None:
            entry["data"] = text
        elif tensor._data is not None:
            entry["data"] = tensor._data
        else:
            arr = tensor.as_numpy()
            if arr.dtype.kind in "OSU":
                entry["data"] = [x.decode() if isinstance(x, bytes) else x for x in arr.ravel().tolist()]
            else:
                entry["data"] = arr.ravel()
        if params or nulls:
            entry["parameters"] = params or None
        items.append(entry)
    head[key] = items
    try:
        doc = orjson.dumps(head, option=_OPTS)
    except TypeError:  # byte order or dtype orjson cannot write directly
        for entry in items:
            data = entry.get("data")
            if data is not None and hasattr(data, "tolist"):
                entry["data"] = data.tolist()
        doc = orjson.dumps(head, option=_OPTS)
    if not chunks:
        return doc, None
    return b"".join([doc, *chunks]), len(doc)


def encode_infer_response(response: InferResponse, request: InferRequest | None) -> tuple[bytes, int | None]:
    """Encode a response, honouring the request's ``outputs`` and binary-data parameters.

    Args:
        response: what the model answered.
        request: the request, for requested outputs and ``binary_data_output``.

    Returns:
        ``(body, json_header_length)``; the length is ``None`` when no tensor is binary.
    """
    outputs = response.outputs
    default_binary = response.use_binary_outputs
    requested = response.requested_outputs
    if request is not None:
        default_binary = default_binary or request.use_binary_outputs
        requested = request.request_outputs or requested
    flags: list[bool]
    if requested:
        by_name = {o.name: o for o in outputs}
        chosen = []
        flags = []
        for want in requested:
            found = by_name.get(want.name)
            if found is None:
                raise InvalidInput(
                    f"requested output '{want.name}' is not produced by model {response.model_name} "
                    f"(outputs: {list(by_name)})"
                )
            chosen.append(found)
            b = want.binary_data
            flags.append(default_binary if b is None else b)
        outputs = chosen
    else:
        flags = [bool(o.parameters.get("binary_data", default_binary)) for o in outputs]
    nulls = response.kserve_encoding
    head: dict[str, Any] = {"model_name": response.model_name}
    if response.model_version is not None or nulls:
        head["model_version"] = response.model_version
    head["id"] = response.id if response.id is not None else (request.id if request is not None else None)
    if response.parameters or nulls:
        head["parameters"] = response.parameters or None
    return _encode(head, list(outputs), "outputs", flags, nulls)


def encode_infer_request(request: InferRequest, binary: bool = False) -> tuple[bytes, int | None]:
    """Encode a request (for a predictor), tensors as binary data when ``binary``."""
    head: dict[str, Any] = {}
    if request.id is not None:
        head["id"] = request.id
    if request.parameters:
        head["parameters"] = request.parameters
    if request.request_outputs:
        head["outputs"] = [{"name": o.name, "parameters": o.parameters} for o in request.request_outputs]
    flags = [binary or bool(t.parameters.get("binary_data")) for t in request.inputs]
    return _encode(head, list(request.inputs), "inputs", flags)


def decode_infer_response(body: bytes, header_length: int | None = None) -> InferResponse:
    """Decode a V2 infer response body (JSON or binary extension)."""
    doc, binary = _split(body, header_length, 1024)
    outputs = _tensors(doc, "outputs", binary, InferOutput, validate=False)
    return InferResponse(
        doc.get("id"),
        doc.get("model_name", ""),
        outputs,
        model_version=doc.get("model_version"),
        parameters=doc.get("parameters") or {},
    )
