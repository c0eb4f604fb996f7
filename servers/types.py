"""The one internal representation of an inference request and response.

:class:`InferRequest` / :class:`InferResponse` hold :class:`InferInput` / :class:`InferOutput`
tensors. They carry the names and constructor signatures of KServe's Python types, so a custom
model written against ``kserve`` builds and reads them unchanged. Every transport (V2 REST JSON,
the binary extension, gRPC) decodes into these and encodes from them; a tensor keeps whichever
form it arrived in (a JSON list, raw bytes or a numpy array) and converts lazily, once.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from zeroserve.servers import tensors
from zeroserve.servers.errors import InvalidInput

__all__ = [
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "RequestedOutput",
    "new_request_id",
]

Parameters = dict[str, Any]

_ids = random.Random(os.urandom(32))
os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))  # forked workers never repeat ids
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_request_id() -> str:
    """A random request id in ``uuid.uuid4().hex``'s form, without a system call per id.

    ``uuid4()`` reads the OS random source on every call; request ids need uniqueness, not secrecy,
    so they come from a generator seeded from it once per process (and again in each forked child).
    """
    return "%032x" % (_ids.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET)


class Tensor:
    """A named, typed, shaped tensor whose data is a list, raw bytes or a numpy array."""

    __slots__ = ("_array", "_data", "_raw", "datatype", "name", "parameters", "shape")
    _role = "tensor"

    def __init__(
        self,
        name: str,
        shape: Sequence[int],
        datatype: str,
        data: Any = None,
        parameters: Parameters | None = None,
    ) -> None:
        self.name = name
        self.shape: list[int] = list(shape)
        self.datatype = datatype
        self.parameters: Parameters = parameters if parameters is not None else {}
        self._data: Any = None
        self._array: np.ndarray | None = None
        self._raw: bytes | memoryview | None = None
        if isinstance(data, np.ndarray):
            self._array = data
        else:
            self._data = data

    @property
    def where(self) -> str:
        """How error messages name this tensor, e.g. ``input 'x'``."""
        return f"{self._role} '{self.name}'"

    @property
    def data(self) -> Any:
        """The tensor's data as a (flat or nested) list, as it arrives in or leaves as JSON.

        BYTES elements that arrived as raw data (gRPC, the binary extension) stay ``bytes``, as in
        KServe, so binary contents such as a JPEG are never decoded; :meth:`as_string` decodes.
        """
        if self._data is None:
            if self._array is None and self._raw is None:
                return None
            self._data = self.as_numpy().ravel().tolist()
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data, self._array, self._raw = value, None, None

    @property
    def holds_list(self) -> bool:
        """Whether the data was given as a list (not a numpy array or raw bytes)."""
        return self._array is None and self._raw is None and isinstance(self._data, list)

    @property
    def raw_data(self) -> bytes | memoryview | None:
        """The raw little-endian contents when the tensor arrived as binary data, else ``None``."""
        return self._raw

    def set_raw_data(self, raw: bytes | memoryview) -> None:
        """Set the tensor's contents from its raw little-endian encoding."""
        self._raw, self._data, self._array = raw, None, None

    def set_data_from_numpy(self, input_tensor: np.ndarray, binary_data: bool = False) -> None:
        """Set the data (and the shape) from a numpy array.

        Args:
            input_tensor: the array; its dtype must match ``datatype`` (or ``datatype`` is set from it
                when empty).
            binary_data: ask REST encoders to send this tensor with the binary extension.
        """
        if not isinstance(input_tensor, np.ndarray):
            raise InvalidInput(f"{self.where}: expected a numpy array, got {type(input_tensor).__name__}")
        if not self.datatype:
            self.datatype = tensors.datatype_of(input_tensor)
        self.shape = list(input_tensor.shape)
        self._array, self._data, self._raw = input_tensor, None, None
        if binary_data:
            self.parameters["binary_data"] = True
        else:
            self.parameters.pop("binary_data", None)

    def as_numpy(self) -> np.ndarray:
        """The data as a numpy array of ``shape`` and ``datatype``, validated, converted once.

        Raises:
            InvalidInput: when the data does not fit the shape or the datatype; the message names the
                tensor and says what was expected and what came.
        """
        arr = self._array
        if arr is not None:
            return arr
        if self._raw is not None:
            arr = tensors.raw_to_numpy(self._raw, self.datatype, self.shape, self.where)
        elif self._data is not None:
            arr = self._from_list(self._data)
        else:
            raise InvalidInput(f"{self.where}: has no data")
        self._array = arr
        return arr

    def cast_to(self, datatype: str) -> None:
        """Convert the data to another numeric ``datatype`` in place (same kind or widening only).

        Raises:
            InvalidInput: when the conversion could change the values' kind (float -> int, bytes).
        """
        if datatype == self.datatype:
            return
        target = tensors.numpy_dtype(datatype, self.where)
        arr = self.as_numpy()
        if self.datatype == "BYTES" or datatype == "BYTES" or not np.can_cast(arr.dtype, target, "same_kind"):
            raise InvalidInput(f"{self.where}: expected datatype {datatype}, got {self.datatype}")
        self._array, self._data, self._raw = arr.astype(target), None, None
        self.datatype = datatype

    def as_string(self) -> list[str]:
        """The elements of a BYTES tensor decoded as UTF-8 strings (flat, row-major)."""
        arr = self.as_numpy()
        return [x.decode() if isinstance(x, bytes) else str(x) for x in arr.ravel()]

    def _from_list(self, data: Any) -> np.ndarray:
        dtype = tensors.numpy_dtype(self.datatype, self.where)
        try:
            # BYTES as objects: numpy's fixed-width bytes type would drop trailing NUL bytes
            inferred = np.array(data, dtype=object) if self.datatype == "BYTES" else np.asarray(data)
        except ValueError:  # ragged nesting
            raise InvalidInput(
                f"{self.where}: data is not a regular (rectangular) array: rows of different lengths"
            ) from None
        kind = inferred.dtype.kind
        if self.datatype == "UINT64" and kind in "fO":  # values past 2**63 make numpy guess float/object
            try:
                inferred = np.asarray(data, dtype=np.uint64)
                kind = "u"
            except (TypeError, ValueError, OverflowError):
                pass
        if kind not in tensors.ACCEPTED_KINDS[self.datatype] and inferred.size:
            raise InvalidInput(
                f"{self.where}: datatype is {self.datatype} but data holds {tensors.kind_name(kind)} values"
            )
        expected = tensors.element_count(self.shape)
        if inferred.size != expected:
            raise InvalidInput(
                f"{self.where}: shape {self.shape} needs {expected} elements, got {inferred.size}"
            )
        if self.datatype == "BYTES":
            items = inferred.ravel().tolist()
            if kind == "O" and not all(isinstance(x, str | bytes) for x in items):
                raise InvalidInput(f"{self.where}: datatype is BYTES but data holds non-string values")
            arr = np.empty(inferred.size, dtype=object)
            arr[:] = [x.encode() if isinstance(x, str) else x for x in items]
            return arr.reshape(self.shape)
        if kind in "iu" and dtype.kind in "iu" and inferred.size:
            info = np.iinfo(dtype)
            low, high = inferred.min(), inferred.max()
            if low < 0 and dtype.kind == "u":
                raise InvalidInput(f"{self.where}: datatype is {self.datatype} but data holds negatives")
            if low < info.min or high > info.max:
                raise InvalidInput(
                    f"{self.where}: datatype is {self.datatype} but data holds values outside "
                    f"[{info.min}, {info.max}]"
                )
        try:
            return inferred.astype(dtype, copy=False).reshape(self.shape)
        except RuntimeWarning:  # raised where warnings are errors: a value past FP16/FP32 becomes inf
            with np.errstate(over="ignore", invalid="ignore"):
                return inferred.astype(dtype, copy=False).reshape(self.shape)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Tensor):
            return NotImplemented
        return (
            self.name == other.name
            and self.shape == other.shape
            and self.datatype == other.datatype
            and np.array_equal(self.as_numpy(), other.as_numpy())
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, shape={self.shape}, datatype={self.datatype!r})"


class InferInput(Tensor):
    """An input tensor of an inference request (KServe's ``InferInput``)."""

    __slots__ = ()
    _role = "input"

    def set_data_from_numpy(self, input_tensor: np.ndarray, binary_data: bool = True) -> None:
        """Set the data from a numpy array (binary by default, as KServe's ``InferInput`` does)."""
        super().set_data_from_numpy(input_tensor, binary_data)


class InferOutput(Tensor):
    """An output tensor of an inference response (KServe's ``InferOutput``)."""

    __slots__ = ()
    _role = "output"


class RequestedOutput:
    """An output the client asked for, with its parameters (e.g. ``binary_data``)."""

    __slots__ = ("name", "parameters")

    def __init__(self, name: str, parameters: Parameters | None = None) -> None:
        self.name = name
        self.parameters: Parameters = parameters if parameters is not None else {}

    @property
    def binary_data(self) -> bool | None:
        """Whether the client asked for this output as binary data (``None``: not said)."""
        value = self.parameters.get("binary_data")
        return None if value is None else bool(value)


class InferRequest:
    """An inference request in the internal representation (KServe's ``InferRequest``).

    Args:
        model_name: the model the request is for.
        infer_inputs: the input tensors.
        request_id: the request's ``id``.
        raw_inputs: raw contents of the inputs, in order (gRPC ``raw_input_contents``).
        from_grpc: whether the request came over gRPC.
        parameters: request-level parameters.
        request_outputs: the outputs the client asked for.
        model_version: the requested model version.
    """

    __slots__ = ("from_grpc", "id", "inputs", "model_name", "model_version", "parameters", "request_outputs")

    def __init__(
        self,
        model_name: str,
        infer_inputs: list[InferInput],
        request_id: str | None = None,
        raw_inputs: Sequence[bytes] | None = None,
        from_grpc: bool = False,
        parameters: Parameters | None = None,
        request_outputs: list[RequestedOutput] | None = None,
        model_version: str | None = None,
    ) -> None:
        self.model_name = model_name
        self.inputs = infer_inputs
        self.id = request_id
        self.from_grpc = from_grpc
        self.parameters: Parameters = parameters if parameters is not None else {}
        self.request_outputs = request_outputs
        self.model_version = model_version
        if raw_inputs:
            if len(raw_inputs) != len(infer_inputs):
                raise InvalidInput(
                    f"raw_input_contents has {len(raw_inputs)} entries but the request has "
                    f"{len(infer_inputs)} inputs"
                )
            for tensor, raw in zip(infer_inputs, raw_inputs, strict=True):
                tensor.set_raw_data(raw)

    def get_input_by_name(self, name: str) -> InferInput | None:
        """The input named ``name``, or ``None``."""
        for tensor in self.inputs:
            if tensor.name == name:
                return tensor
        return None

    @property
    def use_binary_outputs(self) -> bool:
        """Whether the client asked for every output as binary data (``binary_data_output``)."""
        return bool(self.parameters.get("binary_data_output", False))

    def __repr__(self) -> str:
        return f"InferRequest(model_name={self.model_name!r}, id={self.id!r}, inputs={self.inputs!r})"


class InferResponse:
    """An inference response in the internal representation (KServe's ``InferResponse``).

    Args:
        response_id: the response's ``id`` (the request's, usually).
        model_name: the model that answered.
        infer_outputs: the output tensors.
        model_version: the model's version.
        raw_outputs: raw contents of the outputs, in order (gRPC ``raw_output_contents``).
        from_grpc: whether the response came over gRPC.
        parameters: response-level parameters.
        use_binary_outputs: send every output with the binary extension over REST.
        requested_outputs: the outputs the client asked for (filters and sets binary per output).
    """

    __slots__ = (
        "from_grpc",
        "id",
        "model_name",
        "model_version",
        "outputs",
        "parameters",
        "requested_outputs",
        "use_binary_outputs",
    )

    kserve_encoding: ClassVar[bool] = False
    """Encode as KServe's Python server does (the ``kserve`` compatibility package's subclass sets it):
    over gRPC an output holding list data travels in typed ``contents`` (arrays and raw data stay in
    ``raw_output_contents``), and V2 REST writes ``model_version`` and ``parameters`` as ``null`` when
    unset. zeroserve's own answers always use ``raw_output_contents`` (all tritonclient reads) and
    leave unset fields out."""

    def __init__(
        self,
        response_id: str | None,
        model_name: str,
        infer_outputs: list[InferOutput],
        model_version: str | None = None,
        raw_outputs: Sequence[bytes] | None = None,
        from_grpc: bool = False,
        parameters: Parameters | None = None,
        use_binary_outputs: bool = False,
        requested_outputs: list[RequestedOutput] | None = None,
    ) -> None:
        self.id = response_id
        self.model_name = model_name
        self.outputs = infer_outputs
        self.model_version = model_version
        self.from_grpc = from_grpc
        self.parameters: Parameters = parameters if parameters is not None else {}
        self.use_binary_outputs = use_binary_outputs
        self.requested_outputs = requested_outputs
        if raw_outputs:
            for tensor, raw in zip(infer_outputs, raw_outputs, strict=False):
                tensor.set_raw_data(raw)

    def get_output_by_name(self, name: str) -> InferOutput | None:
        """The output named ``name``, or ``None``."""
        for tensor in self.outputs:
            if tensor.name == name:
                return tensor
        return None

    def __repr__(self) -> str:
        return f"InferResponse(model_name={self.model_name!r}, id={self.id!r}, outputs={self.outputs!r})"
