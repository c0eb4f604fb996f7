"""A minimal ``triton_python_backend_utils`` (``pb_utils``) for Python-backend models (``model.py``).

What ``TritonPythonModel.initialize/execute/finalize`` use: :class:`Tensor`, :class:`InferenceRequest`,
:class:`InferenceResponse`, :class:`TritonError`, :class:`TritonModelException`,
``get_input_tensor_by_name``, ``get_output_tensor_by_name``, ``get_input_config_by_name``,
``get_output_config_by_name`` and ``triton_string_to_numpy``. It is registered as
``triton_python_backend_utils`` only when no module of that name is importable (it exists only inside
Triton's own Python backend).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import numpy as np

__all__ = [
    "InferenceRequest",
    "InferenceResponse",
    "Tensor",
    "TritonError",
    "TritonModelException",
    "get_input_config_by_name",
    "get_input_tensor_by_name",
    "get_output_config_by_name",
    "get_output_tensor_by_name",
    "install",
    "triton_string_to_numpy",
]

_NUMPY = {
    "TYPE_BOOL": np.bool_,
    "TYPE_UINT8": np.uint8,
    "TYPE_UINT16": np.uint16,
    "TYPE_UINT32": np.uint32,
    "TYPE_UINT64": np.uint64,
    "TYPE_INT8": np.int8,
    "TYPE_INT16": np.int16,
    "TYPE_INT32": np.int32,
    "TYPE_INT64": np.int64,
    "TYPE_FP16": np.float16,
    "TYPE_FP32": np.float32,
    "TYPE_FP64": np.float64,
    "TYPE_STRING": np.object_,
}


class TritonModelException(Exception):
    """Raised by the utilities (and by models) for a failed request."""


class TritonError:
    """An error carried by an :class:`InferenceResponse`."""

    def __init__(self, msg: str, code: int | None = None) -> None:
        self._msg = msg
        self._code = code

    def message(self) -> str:
        """The error's text."""
        return self._msg

    def code(self) -> int | None:
        """The error's code, when given."""
        return self._code


class Tensor:
    """A named numpy tensor."""

    def __init__(self, name: str, array: Any) -> None:
        self._name = name
        self._array = np.asarray(array)

    def name(self) -> str:
        """The tensor's name."""
        return self._name

    def as_numpy(self) -> np.ndarray:
        """The data."""
        return self._array

    def is_cpu(self) -> bool:
        """Always ``True`` here."""
        return True

    def shape(self) -> list[int]:
        """The tensor's shape."""
        return list(self._array.shape)


class InferenceRequest:
    """One request as ``execute`` receives it."""

    def __init__(
        self,
        inputs: list[Tensor],
        requested_output_names: list[str],
        request_id: str = "",
        model_name: str = "",
    ) -> None:
        self._inputs = inputs
        self._requested = requested_output_names
        self._id = request_id
        self._model_name = model_name

    def inputs(self) -> list[Tensor]:
        """The input tensors."""
        return list(self._inputs)

    def requested_output_names(self) -> list[str]:
        """The outputs the client asked for (all of them when it named none)."""
        return list(self._requested)

    def request_id(self) -> str:
        """The request's id."""
        return self._id

    def model_name(self) -> str:
        """The model's name."""
        return self._model_name


class InferenceResponse:
    """A response: output tensors, or an error."""

    def __init__(self, output_tensors: list[Tensor] | None = None, error: TritonError | None = None) -> None:
        self._outputs = list(output_tensors or [])
        self._error = error

    def output_tensors(self) -> list[Tensor]:
        """The output tensors."""
        return list(self._outputs)

    def has_error(self) -> bool:
        """Whether the response carries an error."""
        return self._error is not None

    def error(self) -> TritonError | None:
        """The error, if any."""
        return self._error


def get_input_tensor_by_name(request: InferenceRequest, name: str) -> Tensor | None:
    """The request's input ``name``, or ``None``."""
    return next((t for t in request.inputs() if t.name() == name), None)


def get_output_tensor_by_name(response: InferenceResponse, name: str) -> Tensor | None:
    """The response's output ``name``, or ``None``."""
    return next((t for t in response.output_tensors() if t.name() == name), None)


def _config_by_name(model_config: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    for entry in model_config.get(key) or []:
        if entry.get("name") == name:
            return dict(entry)
    return {}


def get_input_config_by_name(model_config: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``input`` entry ``name`` of the model configuration (``{}`` when absent)."""
    return _config_by_name(model_config, "input", name)


def get_output_config_by_name(model_config: dict[str, Any], name: str) -> dict[str, Any]:
    """The ``output`` entry ``name`` of the model configuration (``{}`` when absent)."""
    return _config_by_name(model_config, "output", name)


def triton_string_to_numpy(triton_type: str) -> Any:
    """The numpy dtype of a Triton ``TYPE_*`` name."""
    try:
        return _NUMPY[triton_type]
    except KeyError:
        raise TritonModelException(f"unknown Triton data type {triton_type!r}") from None


def install() -> None:
    """Register this module as ``triton_python_backend_utils`` unless a real one is importable."""
    name = "triton_python_backend_utils"
    if name in sys.modules or importlib.util.find_spec(name) is not None:
        return
    sys.modules[name] = sys.modules[__name__]
