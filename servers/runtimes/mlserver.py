"""The MLServer-compatible runtime (``kserve-mlserver``): our V2 server reading MLServer's model settings.

A model folder holds one ``model-settings.json`` (or MLServer's multi-model layout: one sub-folder per
model, each with its own). Read from it, as MLServer does:

- ``name``: the model's name (``MLSERVER_MODEL_NAME``, or ``--model_name`` when given, win for a
  folder of one model, as KServe sets it to the InferenceService's name);
- ``implementation``: ``mlserver_sklearn.SKLearnModel``, ``mlserver_xgboost.XGBoostModel`` or
  ``mlserver_lightgbm.LightGBMModel`` (also ``MLSERVER_MODEL_IMPLEMENTATION`` or the
  ``implementation`` option when the folder has no settings file: KServe's runtime passes it so);
- ``parameters.uri`` (relative to the settings file; default its folder) and ``parameters.version``
  (served as the model's version, ``/v2/models/NAME/versions/V/infer``);
- ``max_batch_size`` / ``max_batch_time``: the model's own adaptive batching (MLServer batches when
  ``max_batch_size`` > 1), handed to the server's batcher as ``model.batching``.

V2 only, as MLServer: outputs are named ``predict`` (or ``predict_proba`` when the request asks for
that output of a scikit-learn model); MLServer's ``pd`` content type (one input per column) becomes a
DataFrame for a model fitted on one, the columns in order otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.batching.policy import BatchConfig
from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.base import FileModel, parse_options
from zeroserve.servers.runtimes.errors import ModelFormatError, ModelMissingError
from zeroserve.servers.runtimes.frames import column_frame, is_pandas_request
from zeroserve.servers.runtimes.sklearn import SKLearnModel
from zeroserve.servers.storage import ModelStorage
from zeroserve.servers.types import InferInput, InferRequest, InferResponse

__all__ = ["IMPLEMENTATIONS", "MLServerModel", "MLServerOptions", "ModelSettings", "read_model_settings"]

SETTINGS_FILE = "model-settings.json"

IMPLEMENTATIONS: dict[str, str] = {
    "mlserver_sklearn.SKLearnModel": "sklearn",
    "mlserver_xgboost.XGBoostModel": "xgboost",
    "mlserver_lightgbm.LightGBMModel": "lightgbm",
}
"""MLServer implementation class -> our runtime (format names are accepted too)."""


class MLServerOptions(BaseSettings):
    """Options of the MLServer runtime, for a folder without ``model-settings.json`` (KServe's way)."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="forbid")

    implementation: str | None = Field(
        default=None, validation_alias=AliasChoices("implementation", "MLSERVER_MODEL_IMPLEMENTATION")
    )
    """MLServer's implementation class (or a format name: sklearn, xgboost, lightgbm)."""
    model_uri: str | None = Field(
        default=None, validation_alias=AliasChoices("model_uri", "MLSERVER_MODEL_URI")
    )
    """Where the model file is, relative to the model folder (MLServer's ``parameters.uri``)."""
    predict_proba: bool | None = None
    """Answer ``predict_proba`` by default (scikit-learn)."""


@dataclass(frozen=True)
class ModelSettings:
    """What this runtime uses of one ``model-settings.json``."""

    name: str
    implementation: str
    folder: Path
    uri: Path
    version: str | None = None
    max_batch_size: int = 0
    max_batch_time: float = 0.0

    @property
    def runtime(self) -> str:
        """Our runtime serving the implementation."""
        return _runtime_of(self.implementation, self.folder)

    @property
    def batching(self) -> BatchConfig | None:
        """The model's adaptive batching, when MLServer would batch (``max_batch_size`` > 1)."""
        if self.max_batch_size > 1:
            return BatchConfig.from_mlserver(self.max_batch_size, self.max_batch_time)
        return None


def _runtime_of(implementation: str, where: Path) -> str:
    if implementation in IMPLEMENTATIONS:
        return IMPLEMENTATIONS[implementation]
    if implementation in IMPLEMENTATIONS.values():
        return implementation
    raise ModelFormatError(
        f"mlserver: {where}: implementation {implementation!r} is not supported; "
        f"supported: {', '.join(IMPLEMENTATIONS)}"
    )


def read_model_settings(path: Path) -> ModelSettings:
    """Read one ``model-settings.json``.

    Raises:
        ModelFormatError: not JSON, or a field of the wrong type; the message names the file and field.
    """
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ModelFormatError(f"mlserver: {path} is not a JSON model-settings file: {exc}") from None
    if not isinstance(doc, dict):
        raise ModelFormatError(f"mlserver: {path} must hold a JSON object")
    parameters = doc.get("parameters") or {}
    if not isinstance(parameters, dict):
        raise ModelFormatError(f"mlserver: {path}: parameters must be an object")
    implementation = doc.get("implementation") or os.environ.get("MLSERVER_MODEL_IMPLEMENTATION")
    if not isinstance(implementation, str):
        raise ModelFormatError(
            f"mlserver: {path}: implementation is required (e.g. mlserver_sklearn.SKLearnModel)"
        )
    _runtime_of(implementation, path)
    uri = parameters.get("uri")
    try:
        size = int(doc.get("max_batch_size", 0) or 0)
        seconds = float(doc.get("max_batch_time", 0.0) or 0.0)
    except (TypeError, ValueError):
        raise ModelFormatError(f"mlserver: {path}: max_batch_size / max_batch_time must be numbers") from None
    if size < 0 or seconds < 0:
        raise ModelFormatError(f"mlserver: {path}: max_batch_size / max_batch_time must not be negative")
    version = parameters.get("version")
    return ModelSettings(
        name=str(doc.get("name") or path.parent.name),
        implementation=implementation,
        folder=path.parent,
        uri=(path.parent / str(uri)) if uri else path.parent,
        version=str(version) if version not in (None, "") else None,
        max_batch_size=size,
        max_batch_time=seconds,
    )


class MLServerModel(Model):
    """One model of an MLServer model folder, served by our sklearn / XGBoost / LightGBM runtime.

    Build it with :meth:`from_options` (the registry's entry point); a folder holding several models is
    served through :meth:`served_models`.

    Args:
        name: the model's name.
        model_dir: the model folder (or storage URI).
        options: runtime options.
        storage: resolves ``model_dir`` when it is a URI.
        settings: this model's settings, when already read.
    """

    runtime = "mlserver"
    platform = "mlserver"
    batchable = True

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: MLServerOptions | None = None,
        *,
        storage: ModelStorage | None = None,
        settings: ModelSettings | None = None,
    ) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.options = options if options is not None else MLServerOptions()
        self._storage = storage
        self.settings = settings
        self.version: str | None = settings.version if settings else None
        self.batching: BatchConfig | None = settings.batching if settings else None
        self.inner: FileModel | None = None
        """The runtime model doing the work, once loaded."""

    @classmethod
    def from_options(
        cls,
        name: str,
        model_dir: Path | str | None,
        options: Mapping[str, Any],
        storage: ModelStorage | None = None,
    ) -> MLServerModel:
        """Build the runtime from untyped options (the CLI's and the registry's entry point)."""
        if model_dir is None:
            raise ModelFormatError("mlserver: a model folder (--model-dir or --storage-uri) is required")
        return cls(name, model_dir, parse_options(MLServerOptions, "mlserver", options), storage=storage)

    def _root(self) -> Path:
        where = self.model_dir
        if isinstance(where, str) and "://" in where:
            return (self._storage or ModelStorage()).resolve(where)
        return Path(where)

    def _all_settings(self) -> list[ModelSettings]:
        root = self._root()
        if not root.exists():
            raise ModelMissingError(f"mlserver: model folder {root} does not exist")
        if root.is_dir() and (root / SETTINGS_FILE).is_file():
            return [read_model_settings(root / SETTINGS_FILE)]
        found = sorted(root.rglob(SETTINGS_FILE)) if root.is_dir() else []
        if found:
            return [read_model_settings(p) for p in found]
        folder = root if root.is_dir() else root.parent
        uri = folder / self.options.model_uri if self.options.model_uri else root
        implementation = self.options.implementation or _guess_implementation(uri)
        if not implementation:
            raise ModelMissingError(
                f"mlserver: {root} holds no {SETTINGS_FILE}, no implementation was given "
                "(MLSERVER_MODEL_IMPLEMENTATION, or --runtime-option "
                "implementation=mlserver_sklearn.SKLearnModel) and no model file says which "
                "(*.joblib|*.pkl: sklearn, *.json|*.ubj: xgboost, a LightGBM text *.bst|*.txt: lightgbm)"
            )
        _runtime_of(implementation, root)
        return [ModelSettings(self.name, implementation, folder, uri)]

    def served_models(self) -> list[Model]:
        """One model per ``model-settings.json`` in the folder (or this one, configured, for one)."""
        settings = self._all_settings()
        if len(settings) == 1:
            self._configure(settings[0])
            return [self]
        names = [s.name for s in settings]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ModelFormatError(f"mlserver: {self._root()}: several models are called {twice}")
        return [
            MLServerModel(s.name, s.folder, self.options, storage=self._storage, settings=s) for s in settings
        ]

    def _configure(self, settings: ModelSettings) -> None:
        self.settings = settings
        named = os.environ.get("MLSERVER_MODEL_NAME")
        if named:
            self.name = named
        elif self.name in ("", "model"):  # no --model_name: the settings' name, as MLServer
            self.name = settings.name
        self.version = settings.version
        self.batching = settings.batching

    def load(self) -> bool:
        """Load the model the settings describe with our runtime of its implementation."""
        if self.settings is None:
            found = self._all_settings()
            if len(found) > 1:
                raise ModelFormatError(
                    f"mlserver: {self._root()} holds {len(found)} models; serve the folder with "
                    "`zeroserve serve mlserver` (every model) or point at one model's folder"
                )
            self._configure(found[0])
        settings = self.settings
        assert settings is not None
        from zeroserve.servers.runtimes.registry import RuntimeRegistry

        options: dict[str, Any] = {}
        if settings.runtime == "sklearn" and self.options.predict_proba is not None:
            options["predict_proba"] = self.options.predict_proba
        inner = RuntimeRegistry.builtin().create(settings.runtime, self.name, settings.uri, options)
        assert isinstance(inner, FileModel)
        inner.load()
        self.inner = inner
        self.ready = True
        return True

    def get_input_types(self) -> list[dict[str, Any]]:
        return []  # MLServer takes one [N, F] tensor or, with content type pd, one input per column

    def get_output_types(self) -> list[dict[str, Any]]:
        if self.inner is None:
            return []
        return [
            {**o, "name": "predict"} if o.get("name") == "output-0" else o
            for o in self.inner.get_output_types()
        ]

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Predict with the underlying runtime and name the output as MLServer does.

        Args:
            payload: a V2 ``InferRequest`` (V1 is refused: MLServer speaks V2 only).
            headers: the request headers.

        Returns:
            An ``InferResponse`` with output ``predict`` (or ``predict_proba``).
        """
        inner = self.inner
        if inner is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        if not isinstance(payload, InferRequest):
            raise InvalidInput(
                f"model {self.name} is an MLServer model and speaks the Open Inference Protocol (V2) only: "
                f"POST /v2/models/{self.name}/infer"
            )
        wanted = [o.name for o in payload.request_outputs or []]
        unknown = [n for n in wanted if n not in ("predict", "predict_proba")]
        if unknown:
            raise InvalidInput(
                f"model {self.name}: unknown output(s) {unknown}; outputs: predict, predict_proba"
            )
        request = payload
        if is_pandas_request(payload) and getattr(inner, "feature_names", None) is None:
            request = _as_matrix(self.name, payload)
        if "predict_proba" in wanted:
            if not isinstance(inner, SKLearnModel):
                raise InvalidInput(f"model {self.name}: only scikit-learn models have a predict_proba output")
            result = inner.predict_with(request, "predict_proba")
            name = "predict_proba"
        else:
            result = inner.predict(request, headers)
            name = "predict_proba" if getattr(inner.options, "predict_proba", False) else "predict"
        if isinstance(result, InferResponse):
            for output in result.outputs:
                if output.name == "output-0":
                    output.name = name
                output.parameters.setdefault("content_type", "np")
            result.model_version = self.version
            result.requested_outputs = None
        return result


def _guess_implementation(where: Path) -> str | None:
    """The implementation a lone model file implies (KServe may leave ``modelClass`` empty)."""
    files = (
        [where] if where.is_file() else [p for p in where.iterdir() if p.is_file()] if where.is_dir() else []
    )
    kinds: set[str] = set()
    for path in files:
        suffix = path.suffix.lower()
        if suffix in (".joblib", ".pkl", ".pickle"):
            kinds.add("mlserver_sklearn.SKLearnModel")
        elif suffix in (".json", ".ubj"):
            kinds.add("mlserver_xgboost.XGBoostModel")
        elif suffix in (".bst", ".txt"):
            with path.open("rb") as handle:
                head = handle.read(64)
            lightgbm = head.startswith(b"tree\n") or head.startswith(b"tree\r\n")
            kinds.add("mlserver_lightgbm.LightGBMModel" if lightgbm else "mlserver_xgboost.XGBoostModel")
    return kinds.pop() if len(kinds) == 1 else None


def _as_matrix(model: str, request: InferRequest) -> InferRequest:
    """A ``pd`` request for a model without column names: the columns, in order, as one tensor."""
    import numpy as np

    frame = column_frame(model, request, None)
    try:
        matrix = frame.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"model {model}: every column must hold numbers for a model without column names"
        ) from None
    tensor = InferInput("input-0", list(matrix.shape), "FP64", matrix)
    return InferRequest(
        request.model_name, [tensor], request_id=request.id, model_version=request.model_version
    )
