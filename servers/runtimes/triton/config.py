"""Triton's model configuration (``config.pbtxt``) and repository layout, for the fields that matter.

``name``, ``platform`` / ``backend``, ``max_batch_size``, ``input`` / ``output`` (``name``,
``data_type``, ``dims``, ``reshape``), ``version_policy`` (``latest { num_versions }``, ``all {}``,
``specific { versions }``), ``default_model_filename`` and ``parameters``. Everything else in the file is
kept as written and returned by ``get_model_config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeroserve.servers.runtimes.errors import ModelFormatError, ModelMissingError
from zeroserve.servers.runtimes.triton.pbtxt import TextFormatError, parse_text_proto

__all__ = ["BACKENDS", "ModelConfig", "TensorConfig", "read_model_config", "select_versions"]

BACKENDS: dict[str, str] = {
    "onnxruntime": "model.onnx",
    "pytorch": "model.pt",
    "python": "model.py",
}
"""Backends we run -> their default model file name."""

_PLATFORMS = {"onnxruntime_onnx": "onnxruntime", "pytorch_libtorch": "pytorch"}
_KNOWN_ELSEWHERE = {
    "tensorflow_savedmodel": "tensorflow",
    "tensorflow_graphdef": "tensorflow",
    "tensorrt_plan": "tensorrt",
    "ensemble": "ensemble",
}
_REPEATED = ("input", "output", "dims", "instance_group")

_DATATYPES = {
    "TYPE_BOOL": "BOOL",
    "TYPE_UINT8": "UINT8",
    "TYPE_UINT16": "UINT16",
    "TYPE_UINT32": "UINT32",
    "TYPE_UINT64": "UINT64",
    "TYPE_INT8": "INT8",
    "TYPE_INT16": "INT16",
    "TYPE_INT32": "INT32",
    "TYPE_INT64": "INT64",
    "TYPE_FP16": "FP16",
    "TYPE_FP32": "FP32",
    "TYPE_FP64": "FP64",
    "TYPE_STRING": "BYTES",
    "TYPE_BF16": "BF16",
}


@dataclass(frozen=True)
class TensorConfig:
    """One ``input`` / ``output`` entry."""

    name: str
    datatype: str
    """The V2 datatype (``TYPE_FP32`` -> ``FP32``, ``TYPE_STRING`` -> ``BYTES``)."""
    dims: list[int]
    """``dims`` without the batch dimension."""
    reshape: list[int] | None = None


@dataclass(frozen=True)
class ModelConfig:
    """A parsed ``config.pbtxt``."""

    name: str
    backend: str
    """``onnxruntime``, ``pytorch`` or ``python``."""
    platform: str
    """What the model metadata reports (``onnxruntime_onnx``, ``pytorch_libtorch``, ``python``)."""
    max_batch_size: int
    inputs: list[TensorConfig]
    outputs: list[TensorConfig]
    default_model_filename: str
    raw: dict[str, Any] = field(default_factory=dict)
    """The file as parsed, with ``name``, ``platform``/``backend`` and ``max_batch_size`` filled in."""

    def shape(self, tensor: TensorConfig) -> list[int]:
        """The tensor's full shape as metadata reports it (``-1`` batch dimension first when batching)."""
        return ([-1] if self.max_batch_size > 0 else []) + list(tensor.dims)


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _tensor(entry: Any, where: str) -> TensorConfig:
    if not isinstance(entry, dict) or not entry.get("name"):
        raise ModelFormatError(f"triton: {where} needs a name")
    dtype = str(entry.get("data_type", ""))
    if dtype not in _DATATYPES:
        raise ModelFormatError(
            f"triton: {where} ({entry['name']}): data_type {dtype or '(none)'} is not one of "
            f"{', '.join(_DATATYPES)}"
        )
    dims = [int(d) for d in _list(entry.get("dims"))]
    reshape = entry.get("reshape")
    shape = [int(d) for d in _list(reshape.get("shape"))] if isinstance(reshape, dict) else None
    return TensorConfig(str(entry["name"]), _DATATYPES[dtype], dims, shape)


def read_model_config(model_dir: Path) -> ModelConfig:
    """Read ``model_dir/config.pbtxt``.

    Args:
        model_dir: one model's folder in the repository (its name is the default model name).

    Returns:
        The configuration.

    Raises:
        ModelMissingError: there is no ``config.pbtxt``.
        ModelFormatError: it is malformed, or names a backend we cannot run (the message lists the
            ones we can).
    """
    path = model_dir / "config.pbtxt"
    if not path.is_file():
        raise ModelMissingError(f"triton: {path} is missing (every model folder needs a config.pbtxt)")
    try:
        raw = parse_text_proto(path.read_text(encoding="utf-8"))
    except (TextFormatError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"triton: {path}: {exc}") from None
    for key in _REPEATED:
        if key in raw:
            raw[key] = _list(raw[key])
    platform = str(raw.get("platform") or "")
    backend = str(raw.get("backend") or _PLATFORMS.get(platform, platform))
    if backend not in BACKENDS:
        named = f"backend {backend!r}" if raw.get("backend") else f"platform {platform!r}"
        if not backend:
            named = "no platform or backend"
        raise ModelFormatError(
            f"triton: {path}: {named} is not supported here; supported: platform onnxruntime_onnx "
            "(backend onnxruntime), platform pytorch_libtorch (backend pytorch), backend python"
        )
    name = str(raw.get("name") or model_dir.name)
    try:
        max_batch = int(raw.get("max_batch_size", 0))
    except (TypeError, ValueError):
        raise ModelFormatError(f"triton: {path}: max_batch_size must be an integer") from None
    inputs = [_tensor(e, f"{path}: input[{i}]") for i, e in enumerate(_list(raw.get("input")))]
    outputs = [_tensor(e, f"{path}: output[{i}]") for i, e in enumerate(_list(raw.get("output")))]
    raw.update({"name": name, "max_batch_size": max_batch, "backend": backend})
    if platform or backend != "python":
        raw.setdefault("platform", platform or {v: k for k, v in _PLATFORMS.items()}.get(backend, backend))
    return ModelConfig(
        name=name,
        backend=backend,
        platform=str(raw.get("platform") or backend),
        max_batch_size=max_batch,
        inputs=inputs,
        outputs=outputs,
        default_model_filename=str(raw.get("default_model_filename") or BACKENDS[backend]),
        raw=raw,
    )


def select_versions(model_dir: Path, config: ModelConfig) -> list[int]:
    """The version folders ``version_policy`` selects (default: the latest one), newest first.

    Raises:
        ModelMissingError: no numeric version folder, or none the policy selects.
    """
    present = sorted(
        (int(p.name) for p in model_dir.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True
    )
    if not present:
        raise ModelMissingError(
            f"triton: {model_dir} has no version folder "
            f"(expected {model_dir}/1/{config.default_model_filename})"
        )
    policy = config.raw.get("version_policy") or {}
    if "all" in policy:
        chosen = present
    elif "specific" in policy:
        wanted = {int(v) for v in _list((policy["specific"] or {}).get("versions"))}
        chosen = [v for v in present if v in wanted]
    else:
        latest = policy.get("latest") or {}
        chosen = present[: max(int(latest.get("num_versions", 1)), 1)]
    if not chosen:
        raise ModelMissingError(f"triton: {model_dir}: version_policy selects none of versions {present}")
    return chosen
