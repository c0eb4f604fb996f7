"""The backends a Triton model folder can name: ONNX Runtime, TorchScript (libtorch) and Python.

Each loads one version folder's model file and runs a dict of named numpy inputs into a dict of named
numpy outputs; the framework is imported when the model loads.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import numpy as np

from zeroserve.servers.errors import InferenceError, InvalidInput
from zeroserve.servers.runtimes.errors import ModelFormatError
from zeroserve.servers.runtimes.triton import python_utils
from zeroserve.servers.runtimes.triton.config import ModelConfig

__all__ = ["Backend", "OnnxBackend", "PythonBackend", "TorchBackend", "load_backend"]


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class Backend:
    """One loaded model version."""

    def __init__(self, config: ModelConfig, path: Path, version: int) -> None:
        self.config = config
        self.path = path
        self.version = version

    def run(
        self, inputs: dict[str, np.ndarray], outputs: list[str], request_id: str
    ) -> dict[str, np.ndarray]:
        """Compute ``outputs`` (all configured ones when empty) from ``inputs``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the model (the Python backend's ``finalize``)."""


class OnnxBackend(Backend):
    """``platform: "onnxruntime_onnx"`` / ``backend: "onnxruntime"``."""

    def __init__(self, config: ModelConfig, path: Path, version: int) -> None:
        super().__init__(config, path, version)
        import onnxruntime as ort

        try:
            self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception classes
            raise ModelFormatError(f"triton: {path} is not an ONNX model: {_first_line(exc)}") from exc
        names = {i.name for i in self.session.get_inputs()}
        for tensor in config.inputs:
            if tensor.name not in names:
                raise ModelFormatError(
                    f"triton: {config.name}: config.pbtxt input {tensor.name!r} is not an input of "
                    f"{path.name} "
                    f"(its inputs: {', '.join(sorted(names))})"
                )

    def run(
        self, inputs: dict[str, np.ndarray], outputs: list[str], request_id: str
    ) -> dict[str, np.ndarray]:
        names = (
            outputs or [o.name for o in self.config.outputs] or [o.name for o in self.session.get_outputs()]
        )
        try:
            results = self.session.run(names, inputs)
        except Exception as exc:  # shape and type mismatches: the client's input
            raise InvalidInput(
                f"model {self.config.name}: onnxruntime rejected the input: {_first_line(exc)}"
            ) from exc
        return dict(zip(names, results, strict=True))


class TorchBackend(Backend):
    """``platform: "pytorch_libtorch"``: a TorchScript file; inputs by config order (``INPUT__0`` ...)."""

    def __init__(self, config: ModelConfig, path: Path, version: int) -> None:
        super().__init__(config, path, version)
        import torch

        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=r"`torch\.jit\.", category=DeprecationWarning)
                self.module = torch.jit.load(str(path), map_location="cpu")
        except (RuntimeError, ValueError) as exc:
            raise ModelFormatError(
                f"triton: {path} is not a TorchScript archive: {_first_line(exc)}"
            ) from exc
        self.module.eval()
        self.torch = torch

    def run(
        self, inputs: dict[str, np.ndarray], outputs: list[str], request_id: str
    ) -> dict[str, np.ndarray]:
        torch = self.torch
        order = [t.name for t in self.config.inputs] or sorted(inputs)
        args = [torch.from_numpy(np.array(inputs[name])) for name in order]
        try:
            with torch.inference_mode():
                result = self.module(*args)
        except RuntimeError as exc:
            raise InvalidInput(
                f"model {self.config.name}: the module rejected the input: {_first_line(exc)}"
            ) from exc
        results = list(result) if isinstance(result, (tuple, list)) else [result]
        names = [o.name for o in self.config.outputs] or [f"OUTPUT__{i}" for i in range(len(results))]
        arrays = dict(zip(names, (r.detach().cpu().numpy() for r in results), strict=False))
        return {k: v for k, v in arrays.items() if not outputs or k in outputs}


class PythonBackend(Backend):
    """``backend: "python"``: ``model.py`` defining ``TritonPythonModel``."""

    def __init__(self, config: ModelConfig, path: Path, version: int) -> None:
        super().__init__(config, path, version)
        python_utils.install()
        unique = f"zeroserve_triton_{config.name}_{version}".replace("-", "_").replace(".", "_")
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise ModelFormatError(f"triton: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(unique, None)
            raise ModelFormatError(f"triton: {path} failed to import: {type(exc).__name__}: {exc}") from exc
        cls = getattr(module, "TritonPythonModel", None)
        if cls is None:
            raise ModelFormatError(f"triton: {path} defines no class TritonPythonModel")
        self.model = cls()
        initialize = getattr(self.model, "initialize", None)
        if callable(initialize):
            args = {
                "model_config": json.dumps(config.raw),
                "model_instance_kind": "CPU",
                "model_instance_name": f"{config.name}_0",
                "model_instance_device_id": "0",
                "model_repository": str(path.parent.parent),
                "model_version": str(version),
                "model_name": config.name,
            }
            try:
                initialize(args)
            except Exception as exc:
                raise ModelFormatError(
                    f"triton: {config.name}: TritonPythonModel.initialize failed: {type(exc).__name__}: {exc}"
                ) from exc

    def run(
        self, inputs: dict[str, np.ndarray], outputs: list[str], request_id: str
    ) -> dict[str, np.ndarray]:
        tensors = [python_utils.Tensor(name, array) for name, array in inputs.items()]
        requested = outputs or [o.name for o in self.config.outputs]
        request = python_utils.InferenceRequest(tensors, requested, request_id, self.config.name)
        try:
            responses = self.model.execute([request])
        except python_utils.TritonModelException as exc:
            raise InvalidInput(f"model {self.config.name}: {exc}") from exc
        except Exception as exc:
            raise InferenceError(
                f"model {self.config.name}: TritonPythonModel.execute failed: {type(exc).__name__}: {exc}"
            ) from exc
        if not responses or len(responses) != 1:
            raise InferenceError(f"model {self.config.name}: execute must return one response per request")
        response = responses[0]
        if response.has_error():
            error = response.error()
            raise InvalidInput(f"model {self.config.name}: {error.message() if error else 'error'}")
        found = {t.name(): t.as_numpy() for t in response.output_tensors()}
        return {k: v for k, v in found.items() if not outputs or k in outputs}

    def close(self) -> None:
        finalize = getattr(self.model, "finalize", None)
        if callable(finalize):
            finalize()


_BY_BACKEND: dict[str, type[Backend]] = {
    "onnxruntime": OnnxBackend,
    "pytorch": TorchBackend,
    "python": PythonBackend,
}


def load_backend(config: ModelConfig, model_dir: Path, version: int) -> Backend:
    """Load ``model_dir/<version>/<default_model_filename>`` with the config's backend.

    Raises:
        ModelMissingError: the model file is absent.
        ModelFormatError: the file cannot be loaded by that backend.
    """
    from zeroserve.servers.runtimes.errors import ModelMissingError

    path = model_dir / str(version) / config.default_model_filename
    if not path.exists():
        raise ModelMissingError(
            f"triton: {path} is missing (backend {config.backend} reads {config.default_model_filename} "
            "from each version folder)"
        )
    return _BY_BACKEND[config.backend](config, path, version)
