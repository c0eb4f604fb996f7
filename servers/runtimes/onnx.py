"""The ONNX runtime: one ``model.onnx`` (any ``*.onnx``) per model folder, run by onnxruntime on CPU.

Inputs and outputs are the graph's: names, element types and shapes come from the session
(a symbolic or unknown dimension is ``-1``) and are reported in the V2 model metadata, with the
platform ``onnxruntime_onnx`` (Triton's name). V1 takes the rows of a one-input graph (or named
objects / columnar ``inputs`` for several inputs, see :mod:`.named`) and answers ``predictions``; V2
takes any number of named inputs and answers every graph output under its own name. onnxruntime is
imported only when a model loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.runtimes.base import FileModel
from zeroserve.servers.runtimes.errors import ModelFormatError
from zeroserve.servers.runtimes.named import TensorSpec, named_inputs, named_response
from zeroserve.servers.storage import ModelStorage

__all__ = ["ONNXModel", "ONNXOptions", "onnx_datatype"]

_ONNX_TYPES = {
    "tensor(float)": "FP32",
    "tensor(double)": "FP64",
    "tensor(float16)": "FP16",
    "tensor(int8)": "INT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(uint8)": "UINT8",
    "tensor(uint16)": "UINT16",
    "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64",
    "tensor(bool)": "BOOL",
    "tensor(string)": "BYTES",
}


def onnx_datatype(onnx_type: str) -> str:
    """The V2 datatype of an onnxruntime type string such as ``tensor(float)``.

    Raises:
        ModelFormatError: a type the V2 protocol cannot carry (sequences, maps, bfloat16).
    """
    datatype = _ONNX_TYPES.get(onnx_type)
    if datatype is None:
        raise ModelFormatError(
            f"onnx: the graph uses type {onnx_type}, which this server cannot serve; "
            f"supported: {', '.join(_ONNX_TYPES)}"
        )
    return datatype


class ONNXOptions(BaseSettings):
    """Options of the ONNX runtime (env prefix ``ZEROSERVE_ONNX_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_ONNX_", populate_by_name=True, extra="forbid")

    num_threads: int = Field(
        default=1, ge=0, validation_alias=AliasChoices("num_threads", "ZEROSERVE_ONNX_NUM_THREADS")
    )
    """Intra-op threads of the session; 0 lets onnxruntime choose."""


class ONNXModel(FileModel):
    """Serves an ONNX graph with onnxruntime.

    Args:
        name: the model's name.
        model_dir: folder (or file, or storage URI) holding exactly one ``*.onnx`` file.
        options: runtime options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "onnx"
    platform = "onnxruntime_onnx"
    patterns = ("*.onnx",)
    options_class = ONNXOptions
    options: ONNXOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: ONNXOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self._session: Any = None
        self.inputs: list[TensorSpec] = []
        self.outputs: list[TensorSpec] = []
        self.graph_metadata: dict[str, Any] = {}
        """The model's own metadata: producer, graph name, domain, description, version, custom map."""

    def load_file(self, path: Path) -> None:
        import onnxruntime

        settings = onnxruntime.SessionOptions()
        settings.intra_op_num_threads = self.options.num_threads
        settings.inter_op_num_threads = 1
        try:
            session = onnxruntime.InferenceSession(str(path), settings, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own pybind error classes
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(
                f"onnx: {path} is not an ONNX model onnxruntime can load: {first}"
            ) from exc
        self.inputs = [
            TensorSpec(i.name, onnx_datatype(i.type), _shape(i.shape)) for i in session.get_inputs()
        ]
        self.outputs = [
            TensorSpec(o.name, onnx_datatype(o.type), _shape(o.shape)) for o in session.get_outputs()
        ]
        meta = session.get_modelmeta()
        self.graph_metadata = {
            "producer_name": meta.producer_name,
            "graph_name": meta.graph_name,
            "domain": meta.domain,
            "description": meta.description,
            "version": meta.version if 0 <= meta.version < 2**63 - 1 else None,
            "custom_metadata_map": dict(meta.custom_metadata_map),
        }
        self._session = session

    def get_input_types(self) -> list[dict[str, Any]]:
        return [s.metadata() for s in self.inputs]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [s.metadata() for s in self.outputs]

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Run the graph.

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            ``{"predictions": ...}`` for V1; for V2 an ``InferResponse`` with every graph output.
        """
        if self._session is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        feeds = named_inputs(self.name, payload, self.inputs)
        names = [o.name for o in self.outputs]
        try:
            values = self._session.run(names, feeds)
        except Exception as exc:  # onnxruntime's InvalidArgument / Fail: the inputs do not fit
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInput(f"model {self.name}: the inputs do not fit the graph: {first}") from None
        return named_response(payload, dict(zip(names, values, strict=True)), self.name)


def _shape(dims: Any) -> tuple[int, ...]:
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in dims)
