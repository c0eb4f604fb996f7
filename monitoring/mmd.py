"""Maximum Mean Discrepancy drift test: one multivariate test instead of one test per feature.

MMD² with a Gaussian (RBF) kernel whose bandwidth is the median pairwise distance of the pooled
sample; the p-value comes from a permutation test that reuses one kernel matrix, so a window
of ``n`` against a reference of ``m`` costs one ``(n + m)²`` kernel plus ``permutations`` sums.
Results have the same fields as the KS detector: ``distance`` and ``p_val`` hold one value.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from zeroserve.monitoring.drift import DriftResult

__all__ = ["MMDDriftDetector", "mmd2"]


def _kernel(x: np.ndarray) -> np.ndarray:
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (x @ x.T), 0.0)
    median = float(np.median(d2[np.triu_indices_from(d2, k=1)]))
    kernel: np.ndarray = np.exp(-d2 / max(median, 1e-12))
    return kernel


def mmd2(kernel: np.ndarray, first: np.ndarray) -> float:
    """The biased MMD² estimate for a pooled kernel matrix split by a boolean mask.

    Args:
        kernel: ``(n + m, n + m)`` kernel of the pooled sample.
        first: boolean mask of the rows that belong to the first sample.

    Returns:
        MMD² between the two samples.
    """
    f = first.astype(np.float64)
    g = 1.0 - f
    n, m = f.sum(), g.sum()
    kf = kernel @ f
    kg = kernel @ g
    return float(f @ kf / (n * n) + g @ kg / (m * m) - 2.0 * (f @ kg) / (n * m))


class MMDDriftDetector:
    """Tests windows of instances against a reference with MMD and a permutation test.

    Args:
        reference: ``(rows, features)`` reference sample (subsampled to ``max_reference`` rows).
        p_val: significance level.
        window: instances per test (batched windows).
        permutations: permutations of the test.
        max_reference: reference rows used, to bound the kernel's size.
        seed: random seed of the subsample and the permutations.
    """

    def __init__(
        self,
        reference: np.ndarray,
        *,
        p_val: float = 0.05,
        window: int = 500,
        permutations: int = 100,
        max_reference: int = 500,
        seed: int = 0,
    ) -> None:
        self._rng = np.random.default_rng(seed)
        reference = np.asarray(reference, dtype=np.float64)
        if len(reference) > max_reference:
            reference = reference[self._rng.choice(len(reference), max_reference, replace=False)]
        self.reference = reference
        self.features = reference.shape[1]
        self.p_val = p_val
        self.window = window
        self.permutations = permutations
        self._buffer: deque[np.ndarray] = deque(maxlen=window)

    def test(self, x: np.ndarray) -> DriftResult:
        """Test one window against the reference (pure apart from the seeded permutations)."""
        pooled = np.vstack([self.reference, x])
        kernel = _kernel(pooled)
        first = np.zeros(len(pooled), dtype=bool)
        first[: len(self.reference)] = True
        observed = mmd2(kernel, first)
        exceed = 0
        for _ in range(self.permutations):
            exceed += mmd2(kernel, self._rng.permutation(first)) >= observed
        p = (exceed + 1) / (self.permutations + 1)
        return DriftResult(
            is_drift=int(p < self.p_val),
            p_val=[float(p)],
            distance=[observed],
            threshold=self.p_val,
            window_size=len(x),
        )

    def update(self, x: np.ndarray) -> list[DriftResult]:
        """Add instances; test each full window (then start a new one).

        Raises:
            ValueError: when the number of features differs from the reference.
        """
        if x.shape[1] != self.features:
            raise ValueError(f"instances have {x.shape[1]} features, the reference has {self.features}")
        results = []
        for row in x:
            self._buffer.append(row)
            if len(self._buffer) == self.window:
                results.append(self.test(np.vstack(self._buffer)))
                self._buffer.clear()
        return results
