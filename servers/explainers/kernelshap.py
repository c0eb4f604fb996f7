"""``zeroserve serve kernelshap``: the built-in tabular explainer (Kernel SHAP, :mod:`.shap`).

``:explain`` with ``{"instances": [[...], ...]}`` answers, per row, the Shapley value of every feature
for every output of the predictor, the background's expected value and the prediction::

    {"explanations": {"shap_values": [[[...features] per row] per output],
                      "expected_value": [...per output], "predictions": [[...per output] per row],
                      "feature_names": [...], "nsamples": N, "exact": true}}

The background (reference rows) is ``background.npy``, ``.csv`` or ``.json`` in the model folder
(``storageUri``), else the request's ``"background"``, else one row of zeros. ``:predict`` is passed to
the predictor.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.explainers.predictor import predict_rows, require_predictor
from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.errors import ModelFormatError, RuntimeOptionsError
from zeroserve.servers.storage import ModelStorage

__all__ = ["KernelShapExplainer", "build_kernelshap", "read_background"]

_BACKGROUND = ("background.npy", "background.csv", "background.json")


def read_background(folder: Path) -> np.ndarray | None:
    """The background rows in ``folder`` (``background.npy|csv|json``), or ``None``.

    Raises:
        ModelFormatError: the file is not a 2-D numeric table.
    """
    for name in _BACKGROUND:
        path = folder / name
        if not path.is_file():
            continue
        try:
            if name.endswith(".npy"):
                data = np.load(path, allow_pickle=False)
            elif name.endswith(".csv"):
                data = np.loadtxt(path, delimiter=",", ndmin=2)
            else:
                data = np.asarray(json.loads(path.read_text()), dtype=np.float64)
            data = np.asarray(data, dtype=np.float64)
        except (ValueError, OSError) as exc:
            raise ModelFormatError(f"kernelshap: {path} is not a numeric table: {exc}") from None
        if data.ndim != 2:
            raise ModelFormatError(f"kernelshap: {path} must hold rows of features (2-D), got {data.ndim}-D")
        return data
    return None


class KernelShapExplainer(Model):
    """Kernel SHAP over the predictor's V1 predictions.

    Args:
        name: the model name (the predictor's model is called the same).
        model_dir: optional folder or storage URI holding the background rows.
        nsamples: the most coalitions evaluated per row (all of them when ``2**d - 2`` fits).
        seed: the random seed of sampled coalitions.
        storage: resolves ``model_dir`` URIs.
    """

    def __init__(
        self,
        name: str,
        model_dir: Path | str | None = None,
        nsamples: int = 2048,
        seed: int = 0,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.nsamples = nsamples
        self.seed = seed
        self._storage = storage
        self.background: np.ndarray | None = None

    def load(self) -> bool:
        """Check for a predictor and read the background rows, when there are any."""
        require_predictor(self, "kernelshap")
        if self.model_dir:
            where = self.model_dir
            local = (
                (self._storage or ModelStorage()).resolve(where)
                if isinstance(where, str) and "://" in where
                else Path(where)
            )
            if local.is_dir():
                self.background = read_background(local)
        self.ready = True
        return True

    def _rows(self, payload: Any, key: str) -> np.ndarray:
        if not isinstance(payload, dict) or key not in payload:
            raise InvalidInput(
                f'model {self.name}: explain expects a JSON object with "{key}": [[features...]]'
            )
        try:
            rows = np.asarray(payload[key], dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInput(f"model {self.name}: {key} must be rows of numbers") from None
        if rows.ndim == 1:
            rows = rows[None, :]
        if rows.ndim != 2 or rows.shape[1] == 0:
            raise InvalidInput(
                f"model {self.name}: {key} must be rows of features, got shape {list(rows.shape)}"
            )
        return rows

    async def explain(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Shapley values of every row of ``instances``."""
        rows = self._rows(payload, "instances")
        d = rows.shape[1]
        if isinstance(payload, dict) and "background" in payload:
            background = self._rows(payload, "background")
        elif self.background is not None:
            background = self.background
        else:
            background = np.zeros((1, d))
        if background.shape[1] != d:
            raise InvalidInput(
                f"model {self.name}: the background has {background.shape[1]} features, the instances {d}"
            )
        from zeroserve.servers.explainers.shap import plan, solve

        rng = np.random.default_rng(self.seed)
        values, predictions = [], []
        expected = np.zeros(0)
        for x in rows:
            # one predictor call per row: x, the background and every coalition in one batch
            batch, masks, weights = plan(x, background, self.nsamples, rng)
            answer = await predict_rows(self, batch, headers)
            phi, expected, fx = solve(answer, masks, weights, background.shape[0])
            values.append(phi)
            predictions.append(fx.tolist())
        shap_values = np.stack(values, axis=1)  # (outputs, rows, features)
        return {
            "explanations": {
                "shap_values": shap_values.tolist(),
                "expected_value": expected.tolist(),
                "predictions": predictions,
                "feature_names": [f"feature_{i}" for i in range(d)],
                "nsamples": int(min(self.nsamples, 2**d - 2)),
                "exact": bool(2**d - 2 <= self.nsamples),
            }
        }


def build_kernelshap(
    name: str, model_dir: Path | str | None, options: Mapping[str, Any], storage: ModelStorage | None = None
) -> Model:
    """The runtime registry's factory of ``kernelshap`` (options ``nsamples``, ``seed``)."""
    unknown = sorted(set(options) - {"nsamples", "seed"})
    if unknown:
        raise RuntimeOptionsError(
            f"kernelshap: unknown option(s) {', '.join(unknown)}; known: nsamples, seed"
        )
    try:
        nsamples = int(options.get("nsamples", 2048))
        seed = int(options.get("seed", 0))
    except (TypeError, ValueError):
        raise RuntimeOptionsError("kernelshap: nsamples and seed must be integers") from None
    if nsamples < 2:
        raise RuntimeOptionsError(f"kernelshap: nsamples must be at least 2, got {nsamples}")
    return KernelShapExplainer(name, model_dir, nsamples, seed, storage)
