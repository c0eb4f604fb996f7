"""Feature-wise Kolmogorov-Smirnov drift detection over a batched or sliding window.

For each feature a two-sample KS test compares the window with the reference; drift is declared
when a corrected p-value falls below ``p_val``: Bonferroni (a feature's p-value below
``p_val / features``) or Benjamini-Hochberg FDR. The result carries alibi-detect's KSDrift fields:
``is_drift`` (0/1), per-feature ``p_val`` and ``distance`` (the KS statistic) and ``threshold``
(the significance level the corrected test used).

``mode="batch"`` tests each ``window`` instances once and starts a new window (alibi's
``drift_batch_size``); ``mode="sliding"`` tests the last ``window`` instances every ``step`` new ones.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["DriftResult", "KSDriftDetector"]


@dataclass(frozen=True)
class DriftResult:
    """One drift test."""

    is_drift: int
    p_val: list[float]
    distance: list[float]
    threshold: float
    window_size: int

    def data(self) -> dict[str, object]:
        """KServe's detector event ``data`` member."""
        return {
            "is_drift": self.is_drift,
            "p_val": self.p_val,
            "distance": self.distance,
            "threshold": self.threshold,
        }


class KSDriftDetector:
    """Tests windows of instances against a reference sample.

    Args:
        reference: ``(rows, features)`` reference sample.
        p_val: significance level of the whole test.
        correction: ``bonferroni`` or ``fdr``.
        window: instances per test.
        mode: ``batch`` or ``sliding``.
        step: in sliding mode, new instances between tests (default: ``window // 10``, at least 1).
    """

    def __init__(
        self,
        reference: np.ndarray,
        *,
        p_val: float = 0.05,
        correction: str = "bonferroni",
        window: int = 500,
        mode: str = "batch",
        step: int | None = None,
    ) -> None:
        if correction not in ("bonferroni", "fdr"):
            raise ValueError(f"correction must be bonferroni or fdr, not {correction!r}")
        if mode not in ("batch", "sliding"):
            raise ValueError(f"mode must be batch or sliding, not {mode!r}")
        self.reference = np.asarray(reference, dtype=np.float64)
        self.features = self.reference.shape[1]
        self.p_val = p_val
        self.correction = correction
        self.window = window
        self.mode = mode
        self.step = step or max(1, window // 10)
        self._buffer: deque[np.ndarray] = deque(maxlen=window)
        self._since_test = 0

    def test(self, x: np.ndarray) -> DriftResult:
        """Test one window against the reference (pure).

        Args:
            x: ``(rows, features)`` instances.

        Returns:
            The result.
        """
        p_vals, distances = [], []
        for j in range(self.features):
            result = stats.ks_2samp(self.reference[:, j], x[:, j])
            distances.append(float(result.statistic))
            p_vals.append(float(result.pvalue))
        return DriftResult(
            is_drift=int(self._reject(np.asarray(p_vals))),
            p_val=p_vals,
            distance=distances,
            threshold=self.p_val,
            window_size=len(x),
        )

    def _reject(self, p_vals: np.ndarray) -> bool:
        if self.correction == "bonferroni":
            return bool(np.min(p_vals) < self.p_val / len(p_vals))
        ranked = np.sort(p_vals)
        limits = self.p_val * np.arange(1, len(ranked) + 1) / len(ranked)
        return bool(np.any(ranked <= limits))

    def update(self, x: np.ndarray) -> list[DriftResult]:
        """Add instances; run every test they complete.

        Args:
            x: ``(rows, features)`` new instances.

        Returns:
            The tests run (often none; several when a large request fills several windows).

        Raises:
            ValueError: when the number of features differs from the reference.
        """
        if x.shape[1] != self.features:
            raise ValueError(f"instances have {x.shape[1]} features, the reference has {self.features}")
        results = []
        for row in x:
            self._buffer.append(row)
            self._since_test += 1
            full = len(self._buffer) == self.window
            if self.mode == "batch" and full:
                results.append(self.test(np.vstack(self._buffer)))
                self._buffer.clear()
                self._since_test = 0
            elif self.mode == "sliding" and full and self._since_test >= self.step:
                results.append(self.test(np.vstack(self._buffer)))
                self._since_test = 0
        return results
