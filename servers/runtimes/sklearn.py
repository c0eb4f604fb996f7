"""The scikit-learn runtime: one ``*.joblib`` / ``*.pkl`` / ``*.pickle`` estimator per model folder.

As KServe's sklearnserver: ``predict`` by default, ``predict_proba`` when the ``predict_proba``
option (or the ``PREDICT_PROBA`` environment variable) is true. An estimator fitted on a DataFrame
(``feature_names_in_``) gets a DataFrame built by :mod:`~zeroserve.servers.runtimes.frames` (records,
dict-of-lists, V2 one input per column, MLServer's ``pd``). scikit-learn and joblib are imported
only when a model loads.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.predict_io import get_predict_response
from zeroserve.servers.runtimes.base import FileModel
from zeroserve.servers.runtimes.errors import ModelFormatError
from zeroserve.servers.runtimes.features import feature_matrix
from zeroserve.servers.runtimes.frames import column_frame
from zeroserve.servers.storage import ModelStorage
from zeroserve.servers.tensors import datatype_of

__all__ = ["SKLearnModel", "SKLearnOptions"]


class SKLearnOptions(BaseSettings):
    """Options of the sklearn runtime (env prefix ``ZEROSERVE_SKLEARN_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_SKLEARN_", populate_by_name=True, extra="forbid")

    predict_proba: bool = Field(
        default=False,
        validation_alias=AliasChoices("predict_proba", "ZEROSERVE_SKLEARN_PREDICT_PROBA", "PREDICT_PROBA"),
    )
    """Answer with ``predict_proba`` (class probabilities) instead of ``predict``.

    Also read from KServe's ``PREDICT_PROBA`` environment variable."""


class SKLearnModel(FileModel):
    """Serves a pickled scikit-learn estimator (or pipeline).

    Args:
        name: the model's name.
        model_dir: folder (or file, or storage URI) holding exactly one joblib/pickle file.
        options: runtime options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "sklearn"
    accepts_array_instances = True
    """A large V1 body of numeric rows may arrive as one numpy array (``feature_matrix`` takes both)."""
    patterns = ("*.joblib", "*.pkl", "*.pickle")
    options_class = SKLearnOptions
    options: SKLearnOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: SKLearnOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self._model: Any = None
        self._checked_context: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext

    def load_file(self, path: Path) -> None:
        import joblib

        try:
            model = joblib.load(path)
        except Exception as exc:
            raise ModelFormatError(
                f"sklearn: {path} is not a joblib/pickle file of a model: {type(exc).__name__}: {exc}"
            ) from exc
        method = "predict_proba" if self.options.predict_proba else "predict"
        if not callable(getattr(model, method, None)):
            raise ModelFormatError(
                f"sklearn: the object in {path} is a {type(model).__name__}, which has no {method}()"
            )
        self._model = model
        import sklearn

        self._checked_context = functools.partial(
            sklearn.config_context, assume_finite=True, skip_parameter_validation=True
        )

    @property
    def n_features(self) -> int | None:
        """How many features the estimator was fitted on, when it says (``n_features_in_``)."""
        n = getattr(self._model, "n_features_in_", None)
        return int(n) if n is not None else None

    @property
    def feature_names(self) -> list[str] | None:
        """The estimator's feature names when it was fitted on named columns (``feature_names_in_``)."""
        names = getattr(self._model, "feature_names_in_", None)
        return [str(n) for n in names] if names is not None else None

    def get_input_types(self) -> list[dict[str, Any]]:
        n = self.n_features
        if n is None or self.feature_names is not None:  # a DataFrame model takes several input forms
            return []
        return [{"name": "input-0", "datatype": "FP32", "shape": [-1, n]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        if self._model is None:
            return []
        classes = getattr(self._model, "classes_", None)
        if self.options.predict_proba:
            width = len(classes) if classes is not None else -1
            return [{"name": "output-0", "datatype": "FP64", "shape": [-1, width]}]
        datatype = datatype_of(np.asarray(classes)) if classes is not None else "FP64"
        return [{"name": "output-0", "datatype": datatype, "shape": [-1]}]

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Predict with the estimator.

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            ``{"predictions": [...]}`` for V1, an ``InferResponse`` with ``output-0`` for V2.
        """
        return self.predict_with(payload, "predict_proba" if self.options.predict_proba else "predict")

    @property
    def estimator(self) -> Any:
        """The loaded estimator (``None`` before :meth:`load`)."""
        return self._model

    def predict_with(self, payload: Any, method_name: str) -> Any:
        """Answer with the estimator's ``method_name`` (``predict`` or ``predict_proba``).

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            method_name: the estimator's method to call.

        Returns:
            ``{"predictions": [...]}`` for V1, an ``InferResponse`` with ``output-0`` for V2.
        """
        if self._model is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        if not callable(getattr(self._model, method_name, None)):
            raise InvalidInput(f"model {self.name}: the estimator has no {method_name}()")
        names = self.feature_names
        matrix: Any
        if names is not None:  # fitted on a DataFrame: records, dict-of-lists, one V2 input per column
            matrix = column_frame(self.name, payload, names)
        else:
            matrix = feature_matrix(self.name, payload, n_features=self.n_features)
        method = getattr(self._model, method_name)
        try:
            if _validated(matrix):
                # the matrix is numeric, 2-D, of the fitted width and finite: scikit-learn's own
                # finiteness scan and parameter validation would only repeat that (~30% of predict)
                with self._checked_context():
                    result = method(matrix)
            else:
                result = method(matrix)
        except (ValueError, TypeError, RuntimeWarning) as exc:  # the warning: overflow, when it is an error
            raise InvalidInput(f"model {self.name}: the instances do not fit the model: {exc}") from None
        return get_predict_response(payload, result, self.name)


def _validated(matrix: Any) -> bool:
    """Whether ``matrix`` is a numeric numpy array without NaN or infinity (checked here, once)."""
    if not isinstance(matrix, np.ndarray):
        return False
    kind = matrix.dtype.kind
    if kind in "biu":
        return True
    return kind == "f" and bool(np.isfinite(matrix).all())
