"""The scikit-learn runtime: one ``*.joblib`` / ``*.pkl`` / ``*.pickle`` estimator per model folder.

As KServe's sklearnserver: ``predict`` by default, ``predict_proba`` when the ``predict_proba``
option (or the ``PREDICT_PROBA`` environment variable) is true. An estimator fitted on a DataFrame
(``feature_names_in_``) gets a DataFrame built by :mod:`~zeroserve.servers.runtimes.frames` (records,
dict-of-lists, V2 one input per column, MLServer's ``pd``). scikit-learn and joblib are imported
only when a model loads.

Linear models answer ``predict`` without scikit-learn's per-call input checks (~175 us of a ~300 us
one-row request): for a scikit-learn linear classifier or regressor whose ``predict`` is the library's
own, a finite, C-contiguous float32/float64 matrix of the fitted width gets the same arithmetic as
scikit-learn's (``X @ coef_.T + intercept_``, then the sign or ``argmax`` and ``classes_.take``) on the
same array, so the answer is bit-identical. At load the shortcut is checked against ``model.predict``
on a fixed sample (both dtypes, exact equality of values and dtype) and left off when it differs;
anything else (other estimators, pipelines, ``predict_proba``, other dtypes, DataFrames) goes to
``model.predict`` as before.
"""

from __future__ import annotations

import contextlib
import functools
import logging
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

logger = logging.getLogger(__name__)


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
        self._fast_predict: Callable[[np.ndarray], np.ndarray] | None = None

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
        self._fast_predict = _checked_fast_predict(model) if method == "predict" else None
        if self._fast_predict is not None:
            logger.debug("sklearn: %s answers predict through its linear shortcut", type(model).__name__)

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
        fast = self._fast_predict
        method = getattr(self._model, method_name)
        try:
            if fast is not None and method_name == "predict" and _fast_input(matrix, self.n_features):
                result = fast(matrix)  # the same arithmetic as scikit-learn's predict (module docstring)
            elif _validated(matrix):
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


def _fast_input(matrix: Any, n_features: int | None) -> bool:
    """Whether ``matrix`` is what scikit-learn's checks would pass through unchanged to the arithmetic.

    A finite, 2-D, C-contiguous float32/float64 numpy array of the fitted width.
    """
    return (
        type(matrix) is np.ndarray
        and matrix.ndim == 2
        and matrix.dtype in _FAST_DTYPES
        and matrix.shape[0] > 0
        and matrix.shape[1] == n_features
        and matrix.flags.c_contiguous
        and bool(np.isfinite(matrix).all())
    )


_FAST_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _linear_predict(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """scikit-learn's linear ``predict`` without its input checks, when ``model`` uses the library's own."""
    from sklearn.linear_model._base import LinearClassifierMixin, LinearModel, MultiOutputLinearModel

    coef = getattr(model, "coef_", None)
    intercept = getattr(model, "intercept_", None)
    if type(coef) is not np.ndarray or coef.ndim not in (1, 2) or coef.dtype.kind != "f":
        return None
    if not isinstance(intercept, (np.ndarray, float, np.floating)):
        return None
    cls = type(model)
    coef_t = coef.T if coef.ndim == 2 else coef
    if isinstance(model, LinearClassifierMixin):
        classes = getattr(model, "classes_", None)
        if (
            cls.predict is not LinearClassifierMixin.predict
            or cls.decision_function is not LinearClassifierMixin.decision_function
            or type(classes) is not np.ndarray
        ):
            return None

        def classify(x: np.ndarray) -> np.ndarray:
            scores = x @ coef_t + intercept  # safe_sparse_dot on dense arrays is this matmul
            if scores.ndim > 1 and scores.shape[1] == 1:
                scores = scores.reshape(-1)
            indices = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
            return np.take(classes, indices, axis=0)

        return classify
    if isinstance(model, LinearModel):
        own_predict = cls.predict in (LinearModel.predict, MultiOutputLinearModel.predict)
        own = own_predict and cls._decision_function is LinearModel._decision_function
        if not own:
            return None

        def regress(x: np.ndarray) -> np.ndarray:
            return x @ coef_t + intercept

        return regress
    return None


def _checked_fast_predict(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """The linear shortcut for ``model``, if it answers exactly as ``model.predict`` on a fixed sample."""
    n = getattr(model, "n_features_in_", None)
    if n is None or getattr(model, "feature_names_in_", None) is not None:
        return None
    try:
        fast = _linear_predict(model)
        if fast is None:
            return None
        rng = np.random.default_rng(0)
        base = np.concatenate(
            [np.zeros((1, int(n))), rng.normal(0.0, 1.0, (7, int(n))), rng.normal(0.0, 100.0, (8, int(n)))]
        )
        for dtype in _FAST_DTYPES:
            for rows in (base, base[:1]):
                sample = np.ascontiguousarray(rows, dtype=dtype)
                expected = np.asarray(model.predict(sample))
                got = fast(sample)
                if got.dtype != expected.dtype or got.shape != expected.shape or not _equal(got, expected):
                    logger.info("sklearn: %s: shortcut differs from predict, unused", type(model).__name__)
                    return None
    except Exception as exc:  # any surprise in a third-party estimator: keep its own predict
        logger.info("sklearn: no linear shortcut for %s: %s", type(model).__name__, exc)
        return None
    return fast


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Exact equality of two answers (labels of any dtype, or floats bit for bit)."""
    if a.dtype.kind == "f":
        return bool(np.array_equal(a.view(np.uint8), b.view(np.uint8)))
    return bool(np.array_equal(a, b))
