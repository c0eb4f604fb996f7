"""The LightGBM runtime: one text model (``model.bst``; any ``*.bst`` or ``*.txt``) per model folder.

As KServe's lgbserver: the answer is ``Booster.predict`` as is (class probabilities ``[N, C]`` for a
multi-class model, the probability of class 1 for a binary one, values for a regression), with the
``nthread`` option. A booster trained on a DataFrame (named features, pandas categoricals) takes
records, dict-of-lists and V2 one-input-per-column requests (:mod:`.frames`); string columns become
``category`` as in training. LightGBM is imported only when a model loads.
"""

from __future__ import annotations

import re
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

__all__ = ["LightGBMModel", "LightGBMOptions"]

_DEFAULT_NAME = re.compile(r"Column_\d+")


class LightGBMOptions(BaseSettings):
    """Options of the LightGBM runtime (env prefix ``ZEROSERVE_LIGHTGBM_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_LIGHTGBM_", populate_by_name=True, extra="forbid")

    nthread: int = Field(
        default=1, ge=0, validation_alias=AliasChoices("nthread", "ZEROSERVE_LIGHTGBM_NTHREAD", "NTHREAD")
    )
    """Threads per prediction (KServe's ``--nthread``); 0 lets LightGBM use every core."""


class LightGBMModel(FileModel):
    """Serves a LightGBM booster saved with ``Booster.save_model`` (the text format).

    Args:
        name: the model's name.
        model_dir: folder (or file, or storage URI) holding exactly one ``*.bst`` / ``*.txt`` file.
        options: runtime options; defaults (and the environment) when omitted.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "lightgbm"
    accepts_array_instances = True
    """A large V1 body of numeric rows may arrive as one numpy array."""
    patterns = ("*.bst", "*.txt")
    options_class = LightGBMOptions
    options: LightGBMOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: LightGBMOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self._booster: Any = None
        self._names: list[str] = []
        self._named = False

    def load_file(self, path: Path) -> None:
        import lightgbm

        try:
            booster = lightgbm.Booster(model_file=str(path))
        except lightgbm.basic.LightGBMError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelFormatError(
                f"lightgbm: {path} is not a LightGBM text model (Booster.save_model): {first}"
            ) from exc
        self._booster = booster
        self._names = [str(n) for n in booster.feature_name()]
        defaults = all(_DEFAULT_NAME.fullmatch(n) for n in self._names)
        self._named = bool(booster.pandas_categorical) or not defaults

    @property
    def n_features(self) -> int | None:
        """How many features the booster was trained on."""
        return len(self._names) or None

    @property
    def feature_names(self) -> list[str]:
        """The booster's feature names (``Column_0``... when it was trained on an array)."""
        return list(self._names)

    def get_input_types(self) -> list[dict[str, Any]]:
        n = self.n_features
        if not n or self._named:  # a DataFrame model takes several input forms
            return []
        return [{"name": "input-0", "datatype": "FP64", "shape": [-1, n]}]

    def get_output_types(self) -> list[dict[str, Any]]:
        if self._booster is None:
            return []
        classes = int(self._booster.num_model_per_iteration())
        shape = [-1, classes] if classes > 1 else [-1]
        return [{"name": "output-0", "datatype": "FP64", "shape": shape}]

    def features(self, payload: Any) -> Any:
        """The request as LightGBM takes it: a DataFrame for named payloads or models, else an array."""
        if self._named or wants_frame(payload):
            frame = column_frame(self.name, payload, self._names)
            if self._booster.pandas_categorical:
                from pandas.api.types import is_numeric_dtype

                strings = [c for c in frame.columns if not is_numeric_dtype(frame[c].dtype)]
                frame = frame.astype(dict.fromkeys(strings, "category"))
            return frame
        return feature_matrix(self.name, payload, n_features=self.n_features, feature_names=self._names)

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
        data = self.features(payload)
        if isinstance(data, np.ndarray) and data.dtype.kind not in "biuf":
            kind = data.dtype.kind
            raise InvalidInput(f"model {self.name}: instances must hold numbers, got {kind!r} data")
        try:
            result = self._booster.predict(data, num_threads=self.options.nthread)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"model {self.name}: the instances do not fit the model: {exc}") from None
        except Exception as exc:  # LightGBMError: e.g. a wrong number of features
            if type(exc).__name__ != "LightGBMError":
                raise
            raise InvalidInput(f"model {self.name}: the instances do not fit the model: {exc}") from None
        return get_predict_response(payload, result, self.name)
