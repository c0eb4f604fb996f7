"""Calling the predictor from an explainer: rows in, a numpy array of predictions out.

The explainer runs with ``--predictor_host`` (the server injects the predictor client, as for a
transformer); every call sends one V1 ``{"instances": rows}`` request for a whole batch of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from zeroserve.servers.errors import InferenceError, ModelLoadError
from zeroserve.servers.model import Model

__all__ = ["forwarded_headers", "predict_rows", "require_predictor"]

_FORWARDED = ("authorization", "x-request-id", "traceparent")


def require_predictor(model: Model, runtime: str) -> None:
    """Fail a load when the explainer has no predictor to call.

    Raises:
        ModelLoadError: no ``--predictor_host`` was given.
    """
    if model.predictor_config is None:
        raise ModelLoadError(
            f"{runtime}: an explainer needs a predictor to explain: give --predictor_host host[:port] "
            "(the controller sets it to the InferenceService's predictor)"
        )


def forwarded_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The request headers passed on to the predictor (credentials and tracing only)."""
    return {k: v for k, v in (headers or {}).items() if k.lower() in _FORWARDED}


async def predict_rows(
    model: Model, rows: np.ndarray, headers: Mapping[str, str] | None = None
) -> np.ndarray:
    """The predictor's V1 predictions for ``rows``, as a float array (one entry per row).

    Raises:
        InferenceError: the predictor answered without ``predictions`` or with non-numbers.
    """
    client = model.predictor_client
    if client is None:
        raise InferenceError(f"model {model.name}: no predictor client (--predictor_host not given)")
    answer: Any = await client.predict(model.name, {"instances": rows.tolist()}, forwarded_headers(headers))
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if predictions is None:
        raise InferenceError(f"model {model.name}: the predictor's answer has no predictions")
    try:
        result = np.asarray(predictions, dtype=np.float64)
    except (TypeError, ValueError):
        raise InferenceError(f"model {model.name}: the predictor's predictions are not numbers") from None
    if len(result) != len(rows):
        raise InferenceError(
            f"model {model.name}: the predictor answered {len(result)} predictions for {len(rows)} rows"
        )
    return result
