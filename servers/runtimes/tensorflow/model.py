"""The TensorFlow runtime: a SavedModel's ``serving_default`` signature, as TFServing serves it.

The model folder is TFServing's: ``DIR/<version>/saved_model.pb`` (the highest numeric version is
served, and reported as the model's version) or ``DIR/saved_model.pb`` (version 1). Inputs and
outputs are the signature's, by name, dtype and shape (``-1`` for a free dimension).

Requests (TFServing's REST API on ``/v1/models/NAME:predict``, see :mod:`.surface` for the other
paths): ``instances`` (row format: values for a one-input signature, objects ``{input: value}``
for several) answered with ``predictions``, or ``inputs`` (columnar: a value, or an object
``{input: values}``) answered with ``outputs``; V2 takes named inputs and answers every signature
output under its own name. tensorflow is imported only when a model loads (seconds).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.runtimes.base import FileModel
from zeroserve.servers.runtimes.errors import ModelFormatError, ModelMissingError
from zeroserve.servers.runtimes.named import TensorSpec, named_inputs, named_response
from zeroserve.servers.storage import ModelStorage

__all__ = ["TensorFlowModel", "TensorFlowOptions", "find_saved_model"]

_DATATYPES = {
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "int8": "INT8",
    "int16": "INT16",
    "int32": "INT32",
    "int64": "INT64",
    "uint8": "UINT8",
    "uint16": "UINT16",
    "uint32": "UINT32",
    "uint64": "UINT64",
    "bool": "BOOL",
    "string": "BYTES",
}


class TensorFlowOptions(BaseSettings):
    """Options of the TensorFlow runtime (env prefix ``ZEROSERVE_TENSORFLOW_``)."""

    model_config = SettingsConfigDict(
        env_prefix="ZEROSERVE_TENSORFLOW_", populate_by_name=True, extra="forbid"
    )

    signature_name: str = Field(
        default="serving_default",
        validation_alias=AliasChoices("signature_name", "ZEROSERVE_TENSORFLOW_SIGNATURE_NAME"),
    )
    """The signature served."""
    num_threads: int = Field(
        default=1, ge=0, validation_alias=AliasChoices("num_threads", "ZEROSERVE_TENSORFLOW_NUM_THREADS")
    )
    """Intra- and inter-op threads; 0 lets TensorFlow choose."""


def find_saved_model(model_dir: Path) -> tuple[Path, str]:
    """The SavedModel folder to serve and its version.

    Args:
        model_dir: TFServing's base path (holding numeric version folders) or a SavedModel folder.

    Returns:
        ``(folder holding saved_model.pb, version)``.

    Raises:
        ModelMissingError: no ``saved_model.pb`` where TFServing would look.
    """
    if (model_dir / "saved_model.pb").is_file():
        return model_dir, "1"
    if not model_dir.is_dir():
        raise ModelMissingError(f"tensorflow: model folder {model_dir} does not exist")
    versions = sorted(
        (int(p.name), p) for p in model_dir.iterdir() if p.name.isdigit() and (p / "saved_model.pb").is_file()
    )
    if versions:
        number, folder = versions[-1]
        return folder, str(number)
    nested = sorted(p.parent for p in model_dir.rglob("saved_model.pb"))
    if len(nested) == 1:
        return nested[0], "1"
    raise ModelMissingError(
        f"tensorflow: no SavedModel in {model_dir}: expected {model_dir}/<version>/saved_model.pb or "
        f"{model_dir}/saved_model.pb"
        + (f" (found {len(nested)}: {[str(p) for p in nested]})" if nested else "")
    )


class TensorFlowModel(FileModel):
    """Serves one signature of a TensorFlow SavedModel.

    Args:
        name: the model's name.
        model_dir: TFServing's base path (or a SavedModel folder, or a storage URI).
        options: runtime options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "tensorflow"
    platform = "tensorflow_savedmodel"
    batchable = False
    """TFServing's columnar answer (``outputs`` as an object) cannot be cut by rows: no joined batches."""
    patterns = ("saved_model.pb",)
    options_class = TensorFlowOptions
    options: TensorFlowOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: TensorFlowOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self._function: Any = None
        self._tf: Any = None
        self.version: str | None = None
        self.inputs: list[TensorSpec] = []
        self.outputs: list[TensorSpec] = []
        self.input_keys: dict[str, str] = {}
        """Input name -> the graph tensor it feeds (TFServing's metadata ``name``)."""

    def resolve_model_file(self) -> Path:
        folder, self.version = find_saved_model(self.local_model_dir())
        return folder / "saved_model.pb"

    def load_file(self, path: Path) -> None:
        import tensorflow as tf

        if self.options.num_threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(self.options.num_threads)
                tf.config.threading.set_inter_op_parallelism_threads(self.options.num_threads)
            except RuntimeError:
                pass  # TensorFlow already started in this process: its thread pools are set
        try:
            loaded = tf.saved_model.load(str(path.parent))
        except Exception as exc:  # TensorFlow raises many kinds for a bad SavedModel
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(
                f"tensorflow: {path.parent} is not a SavedModel TensorFlow can load: {first}"
            ) from exc
        signatures = dict(loaded.signatures)
        wanted = self.options.signature_name
        if wanted not in signatures:
            raise ModelFormatError(
                f"tensorflow: the SavedModel in {path.parent} has no signature {wanted!r}; "
                f"it has {sorted(signatures) or 'none'} (set the signature_name option)"
            )
        function = signatures[wanted]
        _, kwargs = function.structured_input_signature
        self.inputs = [_spec(name, spec) for name, spec in sorted(kwargs.items())]
        self.input_keys = {name: getattr(spec, "name", None) or name for name, spec in kwargs.items()}
        self.outputs = [_spec(name, spec) for name, spec in sorted(function.structured_outputs.items())]
        self._loaded = loaded  # keeps the function's variables alive
        self._function = function
        self._tf = tf

    def wrap_rest_app(self, app: Any) -> Any:
        """TFServing's status, metadata and versioned predict paths for this model, in front of ``app``."""
        from zeroserve.servers.runtimes.tensorflow.surface import TFServingSurface

        return TFServingSurface(app, {self.name: self}, self.options.signature_name)

    def get_input_types(self) -> list[dict[str, Any]]:
        return [s.metadata() for s in self.inputs]

    def get_output_types(self) -> list[dict[str, Any]]:
        return [s.metadata() for s in self.outputs]

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Run the signature.

        Args:
            payload: a V1 / TFServing dict or a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            ``{"predictions": ...}`` (row format), ``{"outputs": ...}`` (columnar) or an
            ``InferResponse`` with every signature output.
        """
        if self._function is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        if isinstance(payload, dict):
            asked = payload.get("signature_name")
            if asked not in (None, "", self.options.signature_name):
                raise InvalidInput(
                    f"model {self.name} serves signature {self.options.signature_name!r}, not {asked!r}"
                )
            payload = {k: v for k, v in payload.items() if k in ("instances", "inputs")}
        feeds = named_inputs(self.name, payload, self.inputs)
        tf = self._tf
        dtypes = {s.name: s for s in self.inputs}
        try:
            tensors = {
                name: tf.constant(value, dtype=tf.string if dtypes[name].datatype == "BYTES" else None)
                for name, value in feeds.items()
            }
            result = self._function(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InvalidInput(f"model {self.name}: the inputs do not fit the signature: {first}") from None
        outputs = {o.name: result[o.name].numpy() for o in self.outputs}
        return named_response(payload, outputs, self.name, columnar_outputs=True)


def _spec(name: str, spec: Any) -> TensorSpec:
    dtype = spec.dtype.name
    datatype = _DATATYPES.get(dtype)
    if datatype is None:
        raise ModelFormatError(
            f"tensorflow: tensor {name!r} has dtype {dtype}, which this server cannot serve"
        )
    dims = spec.shape.as_list() if spec.shape.rank is not None else []
    return TensorSpec(name, datatype, tuple(-1 if d is None else int(d) for d in dims))
