"""The XGBoost runtime: one ``*.bst`` / ``*.json`` / ``*.ubj`` booster per model folder.

As KServe's xgbserver, with the ``nthread`` option. Predictions use ``Booster.inplace_predict`` on
float32 features (no DMatrix per request). A booster with feature names also takes records,
dict-of-lists and V2 one-input-per-column requests (:mod:`.frames`); its categorical features
become ``category`` columns. XGBoost is imported only when a model loads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
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
from zeroserve.servers.runtimes.frames import column_frame, wants_frame
from zeroserve.servers.storage import ModelStorage

__all__ = ["XGBoostModel", "XGBoostOptions"]


class XGBoostOptions(BaseSettings):
    """Options of the XGBoost runtime (env prefix ``ZEROSERVE_XGBOOST_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_XGBOOST_", populate_by_name=True, extra="forbid")

    nthread: int = Field(
        default=1, ge=0, validation_alias=AliasChoices("nthread", "ZEROSERVE_XGBOOST_NTHREAD", "NTHREAD")
    )
    """Threads XGBoost uses per prediction (KServe's ``--nthread``); 0 lets XGBoost use every core."""


class XGBoostModel(FileModel):
    """Serves a saved XGBoost booster.

    Args:
        name: the model's name.
        model_dir: folder (or file, or storage URI) holding exactly one booster file.
        options: runtime options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "xgboost"
    accepts_array_instances = True
    """A large V1 body of numeric rows may arrive as one numpy array (``feature_matrix`` takes both)."""
    patterns = ("*.bst", "*.json", "*.ubj")
    options_class = XGBoostOptions
    options: XGBoostOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: XGBoostOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self._booster: Any = None
        self._outputs: list[dict[str, Any]] = []

    def load_file(self, path: Path) -> None:
        import xgboost

        booster = xgboost.Booster(params={"nthread": self.options.nthread})
        try:
            booster.load_model(str(path))
        except xgboost.core.XGBoostError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(f"xgboost: {path} is not a saved XGBoost model: {first}") from exc
        self._booster = booster
        self._outputs = self._describe_outputs(booster)

    @staticmethod
    def _describe_outputs(booster: Any) -> list[dict[str, Any]]:
        learner = json.loads(booster.save_config()).get("learner", {})
        objective = learner.get("objective", {}).get("name", "")
        num_class = int(learner.get("learner_model_param", {}).get("num_class", "0") or 0)
        shape = [-1, num_class] if objective == "multi:softprob" and num_class > 1 else [-1]
        return [{"name": "output-0", "datatype": "FP32", "shape": shape}]

    @property
    def n_features(self) -> int | None:
        """How many features the booster was trained on."""
        if self._booster is None:
            return None
        n = int(self._booster.num_features())
        return n or None

    @property
    def feature_names(self) -> list[str] | None:
        """The booster's feature names, when it was trained on named columns."""
        names = self._booster.feature_names if self._booster is not None else None
        return list(names) if names else None

    def get_input_types(self) -> list[dict[str, Any]]:
        n = self.n_features
        if not n or self._booster.feature_names:  # a booster with names takes several input forms
            return []
        return [{"name": "input-0", "datatype": "FP32", "shape": [-1, n]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        return list(self._outputs)

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Predict with the booster.

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            ``{"predictions": [...]}`` for V1, an ``InferResponse`` with ``output-0`` for V2.
        """
        if self._booster is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        names = self._booster.feature_names
        matrix: Any
        if names and wants_frame(payload):  # records, dict-of-lists, one V2 input per column
            matrix = self._frame(payload, names)
        else:
            matrix = feature_matrix(
                self.name, payload, n_features=self.n_features, feature_names=names, dtype=np.float32
            )
        try:
            result = self._booster.inplace_predict(matrix, validate_features=False)
        except ValueError as exc:
            raise InvalidInput(f"model {self.name}: {exc}") from exc
        return get_predict_response(payload, result, self.name)

    def _frame(self, payload: Any, names: list[str]) -> Any:
        """A named payload as the booster takes it: categorical columns as ``category``, else float32."""
        frame = column_frame(self.name, payload, names)
        types = self._booster.feature_types or []
        categorical = [n for n, t in zip(names, types, strict=False) if t == "c"]
        if not categorical:
            try:
                return frame.to_numpy(dtype=np.float32)
            except (TypeError, ValueError):
                raise InvalidInput(f"model {self.name}: every column must hold numbers") from None
        return frame.astype(dict.fromkeys(categorical, "category"))
