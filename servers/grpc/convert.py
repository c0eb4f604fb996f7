"""gRPC messages <-> the internal types, in one place (both directions, requests and responses).

Tensors arrive either as ``raw_input_contents`` (little-endian bytes) or as typed ``contents``;
responses use ``raw_output_contents``, which every V2 client reads and which needs no per-element
conversion (responses of the ``kserve`` compatibility package follow KServe: list data in typed
``contents``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.tensors import DATATYPES, to_raw
from zeroserve.servers.types import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput

__all__ = [
    "infer_request_from_grpc",
    "infer_request_to_grpc",
    "infer_response_from_grpc",
    "infer_response_to_grpc",
    "metadata_to_grpc",
    "parameters_from_grpc",
]

# V2 datatype -> the InferTensorContents field holding it.
_CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def parameters_from_grpc(params: Any) -> dict[str, Any]:
    """A ``map<string, InferParameter>`` as a plain dict."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        which = value.WhichOneof("parameter_choice")
        if which is not None:
            out[key] = getattr(value, which)
    return out


def _set_parameters(target: Any, params: dict[str, Any]) -> None:
    for key, value in params.items():
        slot = target[key]
        if isinstance(value, bool):
            slot.bool_param = value
        elif isinstance(value, int):
            slot.int64_param = value
        else:
            slot.string_param = str(value)


def _tensor_from_contents(tensor: InferInput | InferOutput, contents: Any, where: str) -> None:
    field = _CONTENTS_FIELD.get(tensor.datatype)
    if field is None:
        if tensor.datatype not in DATATYPES:
            raise InvalidInput(f"{where}: unsupported datatype {tensor.datatype!r}")
        raise InvalidInput(f"{where}: datatype {tensor.datatype} can only be sent in raw_input_contents")
    values = getattr(contents, field)
    if tensor.datatype == "BYTES":
        arr = np.empty(len(values), dtype=object)
        arr[:] = list(values)
    else:
        arr = np.asarray(values, dtype=DATATYPES[tensor.datatype])
    expected = int(np.prod(tensor.shape)) if tensor.shape else 1
    if arr.size != expected:
        raise InvalidInput(
            f"{where}: shape {tensor.shape} needs {expected} elements, got {arr.size} in contents"
        )
    tensor.set_data_from_numpy(arr.reshape(tensor.shape), binary_data=False)


def infer_request_from_grpc(msg: Any) -> InferRequest:
    """Decode a ``ModelInferRequest`` (raw or typed contents), checking every input.

    Raises:
        InvalidInput: when raw contents and inputs disagree, or data does not fit shape/datatype.
    """
    raw = msg.raw_input_contents
    if raw and len(raw) != len(msg.inputs):
        raise InvalidInput(
            f"raw_input_contents has {len(raw)} entries but the request has {len(msg.inputs)} inputs"
        )
    inputs = []
    for i, item in enumerate(msg.inputs):
        tensor = InferInput(
            item.name, list(item.shape), item.datatype, None, parameters_from_grpc(item.parameters)
        )
        if raw:
            tensor.set_raw_data(raw[i])
        else:
            _tensor_from_contents(tensor, item.contents, tensor.where)
        tensor.as_numpy()
        inputs.append(tensor)
    outputs = [RequestedOutput(o.name, parameters_from_grpc(o.parameters)) for o in msg.outputs] or None
    return InferRequest(
        msg.model_name,
        inputs,
        request_id=msg.id or None,
        from_grpc=True,
        parameters=parameters_from_grpc(msg.parameters),
        request_outputs=outputs,
        model_version=msg.model_version or None,
    )


def infer_response_to_grpc(response: InferResponse, request: InferRequest | None) -> Any:
    """Encode a response as a ``ModelInferResponse`` with ``raw_output_contents``."""
    outputs = response.outputs
    requested = request.request_outputs if request is not None else None
    if requested:
        by_name = {o.name: o for o in outputs}
        missing = [r.name for r in requested if r.name not in by_name]
        if missing:
            raise InvalidInput(
                f"requested output '{missing[0]}' is not produced by model {response.model_name} "
                f"(outputs: {list(by_name)})"
            )
        outputs = [by_name[r.name] for r in requested]
    msg = pb.ModelInferResponse(
        model_name=response.model_name,
        model_version=response.model_version or "",
        id=response.id or (request.id if request is not None and request.id else ""),
    )
    if response.parameters:
        _set_parameters(msg.parameters, response.parameters)
    raws = []
    # KServe's rule (InferResponse.kserve_encoding): list data as typed contents unless any output is
    # FP16/BF16 or binary outputs were asked for
    typed = (
        response.kserve_encoding
        and not response.use_binary_outputs
        and all(o.datatype in _CONTENTS_FIELD for o in outputs)
    )
    for out in outputs:
        entry = msg.outputs.add(name=out.name, datatype=out.datatype, shape=out.shape)
        params = {k: v for k, v in out.parameters.items() if k not in ("binary_data", "binary_data_size")}
        if params:
            _set_parameters(entry.parameters, params)
        if typed and out.holds_list:
            _set_contents(entry.contents, out)
            continue
        raw = out.raw_data
        raws.append(bytes(raw) if raw is not None else to_raw(out.as_numpy(), out.datatype))
    msg.raw_output_contents.extend(raws)
    return msg


def _set_contents(contents: Any, out: InferOutput) -> None:
    field = _CONTENTS_FIELD[out.datatype]
    if out.datatype == "BYTES":
        values = [
            v.encode() if isinstance(v, str) else bytes(v) for v in np.asarray(out.data, dtype=object).ravel()
        ]
    else:
        values = out.as_numpy().ravel().tolist()
    getattr(contents, field).extend(values)


def infer_request_to_grpc(request: InferRequest) -> Any:
    """Encode a request as a ``ModelInferRequest`` with ``raw_input_contents`` (predictor client)."""
    msg = pb.ModelInferRequest(
        model_name=request.model_name, model_version=request.model_version or "", id=request.id or ""
    )
    if request.parameters:
        _set_parameters(msg.parameters, request.parameters)
    raws = []
    for tensor in request.inputs:
        entry = msg.inputs.add(name=tensor.name, datatype=tensor.datatype, shape=tensor.shape)
        params = {k: v for k, v in tensor.parameters.items() if k not in ("binary_data", "binary_data_size")}
        if params:
            _set_parameters(entry.parameters, params)
        raw = tensor.raw_data
        raws.append(bytes(raw) if raw is not None else to_raw(tensor.as_numpy(), tensor.datatype))
    msg.raw_input_contents.extend(raws)
    for out in request.request_outputs or []:
        msg.outputs.add(name=out.name)
    return msg


def infer_response_from_grpc(msg: Any) -> InferResponse:
    """Decode a ``ModelInferResponse`` (raw or typed contents) (predictor client)."""
    raw = msg.raw_output_contents
    outputs = []
    next_raw = 0  # KServe mixes: typed contents for list outputs, raw contents for the others
    for item in msg.outputs:
        tensor = InferOutput(
            item.name, list(item.shape), item.datatype, None, parameters_from_grpc(item.parameters)
        )
        if next_raw < len(raw) and not item.contents.ListFields():
            tensor.set_raw_data(raw[next_raw])
            next_raw += 1
        else:
            _tensor_from_contents(tensor, item.contents, tensor.where)
        outputs.append(tensor)
    return InferResponse(
        msg.id or None,
        msg.model_name,
        outputs,
        model_version=msg.model_version or None,
        from_grpc=True,
        parameters=parameters_from_grpc(msg.parameters),
    )


def metadata_to_grpc(meta: dict[str, Any]) -> Any:
    """A V2 model metadata dict as a ``ModelMetadataResponse``."""
    msg = pb.ModelMetadataResponse(
        name=meta["name"], versions=meta.get("versions", []), platform=meta["platform"]
    )
    for key, target in (("inputs", msg.inputs), ("outputs", msg.outputs)):
        for item in meta.get(key, []):
            target.add(name=item["name"], datatype=item.get("datatype", ""), shape=item.get("shape", []))
    return msg


def config_to_grpc(config: dict[str, Any]) -> Any:
    """A Triton-style model configuration dict (``DataPlane.model_config``) as a ``ModelConfigResponse``."""
    msg = pb.ModelConfig(
        name=config["name"],
        platform=config.get("platform", ""),
        backend=config.get("backend", ""),
        max_batch_size=config.get("max_batch_size", 0),
    )
    for key, target in (("input", msg.input), ("output", msg.output)):
        for item in config.get(key, []):
            target.add(name=item["name"], data_type=pb.DataType.Value(item["data_type"]), dims=item["dims"])
    batching = config.get("dynamic_batching")
    if batching is not None:
        msg.dynamic_batching.CopyFrom(
            pb.ModelDynamicBatching(
                preferred_batch_size=batching["preferred_batch_size"],
                max_queue_delay_microseconds=batching["max_queue_delay_microseconds"],
                preserve_ordering=batching["preserve_ordering"],
            )
        )
    return pb.ModelConfigResponse(config=msg)


def statistics_to_grpc(stats: dict[str, Any]) -> Any:
    """Triton-style statistics (``DataPlane.model_statistics``) as a ``ModelStatisticsResponse``."""
    msg = pb.ModelStatisticsResponse()
    for item in stats["model_stats"]:
        entry = msg.model_stats.add(
            name=item["name"],
            version=item["version"],
            last_inference=item["last_inference"],
            inference_count=item["inference_count"],
            execution_count=item["execution_count"],
        )
        for phase, duration in item["inference_stats"].items():
            getattr(entry.inference_stats, phase).CopyFrom(pb.StatisticDuration(**duration))
        for batch in item["batch_stats"]:
            entry.batch_stats.add(
                batch_size=batch["batch_size"],
                compute_input=pb.StatisticDuration(**batch["compute_input"]),
                compute_infer=pb.StatisticDuration(**batch["compute_infer"]),
                compute_output=pb.StatisticDuration(**batch["compute_output"]),
            )
    return msg
