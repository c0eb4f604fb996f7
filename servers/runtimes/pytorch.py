"""The PyTorch runtime: a TorchScript ``model.pt`` run on ``cpu`` or ``cuda:N``, chosen at load.

V1 instances become one float32 tensor (option ``input_dtype``); V2 inputs keep their datatype and
are passed to the module positionally, in request order. A tensor result is ``output-0``; a tuple or
list of tensors becomes ``output-0``, ``output-1``, ... PyTorch is imported only when a model loads.
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.errors import InferenceError, InvalidInput
from zeroserve.servers.predict_io import get_predict_input
from zeroserve.servers.runtimes.base import FileModel
from zeroserve.servers.runtimes.errors import DeviceUnavailableError, ModelFormatError
from zeroserve.servers.storage import ModelStorage
from zeroserve.servers.tensors import datatype_of
from zeroserve.servers.types import InferOutput, InferRequest, InferResponse

__all__ = ["TorchScriptModel", "TorchScriptOptions"]


class TorchScriptOptions(BaseSettings):
    """Options of the PyTorch runtime (env prefix ``ZEROSERVE_PYTORCH_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_PYTORCH_", populate_by_name=True, extra="forbid")

    device: str = Field(default="cpu", validation_alias=AliasChoices("device", "ZEROSERVE_PYTORCH_DEVICE"))
    """``cpu``, ``cuda`` (= ``cuda:0``) or ``cuda:N``; a CUDA device that is absent fails the load."""

    input_dtype: Literal["float16", "float32", "float64", "int32", "int64"] = "float32"
    """dtype of the tensor built from V1 ``instances`` (JSON numbers carry none)."""

    num_threads: int | None = Field(default=None, ge=1)
    """Intra-op CPU threads (``torch.set_num_threads``); PyTorch's default when unset."""

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        value = value.strip().lower()
        if value == "cuda":
            return "cuda:0"
        if value == "cpu" or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {value!r}")


class TorchScriptModel(FileModel):
    """Serves a TorchScript module saved with ``torch.jit.save`` / ``ScriptModule.save``.

    Args:
        name: the model's name.
        model_dir: folder (or file, or storage URI) holding exactly one ``*.pt`` file.
        options: runtime options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "pytorch"
    patterns = ("*.pt",)
    options_class = TorchScriptOptions
    options: TorchScriptOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: TorchScriptOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self._module: Any = None
        self._torch: Any = None

    def _check_device(self, torch: Any) -> Any:
        device = self.options.device
        if device == "cpu":
            return torch.device("cpu")
        index = int(device.split(":", 1)[1])
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA support"
            raise DeviceUnavailableError(
                f"pytorch: device {device} was requested but CUDA is not available "
                f"(torch {torch.__version__} with {build}); use --device cpu"
            )
        count = torch.cuda.device_count()
        if index >= count:
            raise DeviceUnavailableError(
                f"pytorch: device {device} was requested but only {count} CUDA device(s) are visible"
            )
        return torch.device(device)

    def load_file(self, path: Path) -> None:
        import torch

        device = self._check_device(torch)
        if self.options.num_threads:
            torch.set_num_threads(self.options.num_threads)
        try:
            with warnings.catch_warnings():
                # torch >= 2.9 deprecates TorchScript; serving TorchScript files is this runtime's
                # contract (KServe's and Triton's model.pt), so the warning helps no operator.
                warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
                module = torch.jit.load(str(path), map_location=device)
        except (RuntimeError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(
                f"pytorch: {path} is not a TorchScript archive "
                f"(save one with torch.jit.script(m).save(...)): {first}"
            ) from exc
        module.eval()
        self._module = module
        self._torch = torch
        self.device = device

    def _inputs(self, payload: Any) -> list[Any]:
        torch = self._torch
        if isinstance(payload, InferRequest):
            if not payload.inputs:
                raise InvalidInput(f"model {self.name}: request has no inputs")
            arrays = [t.as_numpy() for t in payload.inputs]
        else:
            data = get_predict_input(payload)
            try:
                arrays = [np.asarray(data, dtype=self.options.input_dtype)]
            except (TypeError, ValueError) as exc:
                raise InvalidInput(f"model {self.name}: instances are not a numeric array: {exc}") from None
        tensors = []
        for arr in arrays:
            if arr.dtype == object:
                raise InvalidInput(
                    f"model {self.name}: BYTES inputs are not supported by the pytorch runtime"
                )
            arr = np.ascontiguousarray(arr)
            if not arr.flags.writeable:  # a view of the request body; torch wants to own writable memory
                arr = arr.copy()
            tensors.append(torch.from_numpy(arr).to(self.device))
        return tensors

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Run the module.

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            ``{"predictions": [...]}`` for V1, an ``InferResponse`` for V2.
        """
        if self._module is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        inputs = self._inputs(payload)
        try:
            with self._torch.inference_mode():
                result = self._module(*inputs)
        except self._torch.cuda.OutOfMemoryError as exc:
            raise InferenceError(f"model {self.name}: out of memory on {self.device}: {exc}") from exc
        except RuntimeError as exc:
            # TorchScript reports shape and dtype mismatches as RuntimeError: the client sent bad input.
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInput(f"model {self.name}: the module rejected the input: {first}") from exc
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        arrays = [r.detach().cpu().numpy() for r in results]
        if not isinstance(payload, InferRequest):
            return {"predictions": arrays[0].tolist() if len(arrays) == 1 else [a.tolist() for a in arrays]}
        outputs = []
        for i, arr in enumerate(arrays):
            out = InferOutput(f"output-{i}", list(arr.shape), datatype_of(arr))
            out.set_data_from_numpy(arr)
            outputs.append(out)
        return InferResponse(payload.id or str(uuid.uuid4()), self.name, outputs)
