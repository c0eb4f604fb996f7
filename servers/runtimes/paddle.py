"""The PaddlePaddle runtime (KServe's ``kserve-paddleserver``): a saved program run by ``paddle.inference``.

The folder holds what ``paddle.jit.save`` writes (:mod:`.paddle_files`): ``<name>.json`` (Paddle 3,
PIR) or ``<name>.pdmodel``, with ``<name>.pdiparams``. As KServe's paddleserver, a
``paddle.inference.Config(program, params)`` predictor runs on CPU; V1 ``instances`` are the rows of
the (first) input and ``predictions`` the first output. Beyond KServe: a model with several inputs
takes them by name (V1 objects per row or columnar ``inputs``, V2 by name; :mod:`.named`), inputs are
cast to the program's datatypes, and V2 answers every output, ``output-0``, ``output-1``... in fetch
order (KServe's V2 answer is ``output-0``). Paddle is imported only when a model loads.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.runtimes.base import FileModel
from zeroserve.servers.runtimes.errors import ModelFormatError
from zeroserve.servers.runtimes.named import TensorSpec, named_inputs, named_response
from zeroserve.servers.runtimes.paddle_files import PaddleFiles, find_paddle_model, program_shapes
from zeroserve.servers.storage import ModelStorage

__all__ = ["PaddleModel", "PaddleOptions", "import_paddle_inference"]

_DATATYPES = {
    "FLOAT32": "FP32",
    "FLOAT64": "FP64",
    "FLOAT16": "FP16",
    "INT64": "INT64",
    "INT32": "INT32",
    "INT16": "INT16",
    "INT8": "INT8",
    "UINT8": "UINT8",
    "BOOL": "BOOL",
}


def import_paddle_inference() -> Any:
    """``paddle.inference``, imported without the warnings Paddle prints at import (no ccache ...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import paddle.inference

    return paddle.inference


class PaddleOptions(BaseSettings):
    """Options of the PaddlePaddle runtime (env prefix ``ZEROSERVE_PADDLE_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_PADDLE_", populate_by_name=True, extra="forbid")

    num_threads: int = Field(
        default=1, ge=0, validation_alias=AliasChoices("num_threads", "ZEROSERVE_PADDLE_NUM_THREADS")
    )
    """CPU math threads of the predictor; 0 leaves Paddle's default."""


class PaddleModel(FileModel):
    """Serves a program saved by ``paddle.jit.save`` with a ``paddle.inference`` predictor.

    Args:
        name: the model's name.
        model_dir: folder (or program file, or storage URI) holding one program + weights pair.
        options: runtime options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "paddle"
    platform = "paddle_inference"
    patterns = ("*.json", "*.pdmodel")
    options_class = PaddleOptions
    options: PaddleOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: PaddleOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self._predictor: Any = None
        self._lock = threading.Lock()
        self._output_names: list[str] = []
        self.files: PaddleFiles | None = None
        """The program and weights files, once loaded."""
        self.inputs: list[TensorSpec] = []
        self.outputs: list[TensorSpec] = []
        """``output-<i>`` in fetch order, with the program's datatypes and shapes."""

    def resolve_model_file(self) -> Path:
        self.files = find_paddle_model(self.local_model_dir())
        return self.files.program

    def load_file(self, path: Path) -> None:
        files = (
            self.files if self.files is not None and self.files.program == path else find_paddle_model(path)
        )
        inference = import_paddle_inference()
        shapes, output_shapes = program_shapes(files)  # before Paddle reads it: a bad .pdmodel crashes it
        config = inference.Config(str(files.program), str(files.params))
        config.disable_gpu()
        config.disable_glog_info()
        if self.options.num_threads:
            config.set_cpu_math_library_num_threads(self.options.num_threads)
        try:
            predictor = inference.create_predictor(config)
        except Exception as exc:  # Paddle raises ValueError / RuntimeError with its C++ message
            raise ModelFormatError(
                f"paddle: {files.program} with {files.params.name} is not a model paddle.inference can "
                f"load: {_paddle_message(exc)}"
            ) from None
        self.inputs = [
            TensorSpec(n, _datatype(predictor.get_input_handle(n).type()), shapes.get(n, ()))
            for n in predictor.get_input_names()
        ]
        self._output_names = list(predictor.get_output_names())
        self.outputs = [
            TensorSpec(
                f"output-{i}",
                _datatype(predictor.get_output_handle(n).type()),
                output_shapes[i] if i < len(output_shapes) else (),
            )
            for i, n in enumerate(self._output_names)
        ]
        self._predictor = predictor
        self.files = files

    def get_input_types(self) -> list[dict[str, Any]]:
        return [s.metadata() for s in self.inputs]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [s.metadata() for s in self.outputs]

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Run the program.

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            ``{"predictions": <first output>}`` for V1; for V2 an ``InferResponse`` with every output.
        """
        if self._predictor is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        feeds = named_inputs(self.name, payload, self.inputs)
        with self._lock:  # one predictor: its input and output buffers are shared state
            try:
                for name, value in feeds.items():
                    handle = self._predictor.get_input_handle(name)
                    handle.reshape(list(value.shape))
                    handle.copy_from_cpu(np.ascontiguousarray(value))
                self._predictor.run()
                values = [self._predictor.get_output_handle(n).copy_to_cpu() for n in self._output_names]
            except (ValueError, RuntimeError) as exc:  # Paddle's InvalidArgument / PreconditionNotMet
                raise InvalidInput(
                    f"model {self.name}: the inputs do not fit the program: {_paddle_message(exc)}"
                ) from None
        if isinstance(payload, dict):
            return {"predictions": np.asarray(values[0]).tolist()}
        return named_response(
            payload, {s.name: v for s, v in zip(self.outputs, values, strict=True)}, self.name
        )


def _datatype(dtype: Any) -> str:
    """The V2 datatype of a ``PaddleDType`` (``PaddleDType.FLOAT32`` -> ``FP32``)."""
    key = str(getattr(dtype, "name", dtype)).rsplit(".", 1)[-1].upper()
    datatype = _DATATYPES.get(key)
    if datatype is None:
        raise ModelFormatError(
            f"paddle: the program uses tensors of type {key}, which this server cannot serve; "
            f"supported: {', '.join(t.lower() for t in _DATATYPES)}"
        )
    return datatype


def _paddle_message(exc: BaseException) -> str:
    """The line of a Paddle error that says what was wrong (its C++ stack and hints left out)."""
    text = str(exc)
    if "Error Message Summary:" in text:
        text = text.split("Error Message Summary:", 1)[1]
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("In user code", "---", "[Hint", "[operator", "File ")):
            return line
    return type(exc).__name__
