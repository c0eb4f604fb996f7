"""Outlier scores against a reference sample: Mahalanobis distance or Isolation Forest.

Each instance gets an ``instance_score`` (larger is more anomalous) and ``is_outlier`` when the
score exceeds ``threshold``. Without an explicit threshold it is the ``threshold_percentile``-th
percentile of the reference's own scores (so about ``100 - percentile`` % of in-distribution
instances are flagged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["OutlierDetector", "OutlierResult"]


@dataclass(frozen=True)
class OutlierResult:
    """Scores of one request's instances."""

    is_outlier: list[int]
    instance_score: list[float]
    threshold: float

    def data(self) -> dict[str, object]:
        """KServe's detector event ``data`` member."""
        return {"is_outlier": self.is_outlier, "instance_score": self.instance_score, "feature_score": None}


class OutlierDetector:
    """Scores instances against a reference.

    Args:
        reference: ``(rows, features)`` in-distribution sample.
        method: ``mahalanobis`` (squared distance to the reference mean under its covariance) or
            ``isolationforest`` (scikit-learn; score = negated ``score_samples``).
        threshold: score above which an instance is an outlier; derived from the reference if ``None``.
        threshold_percentile: the percentile of reference scores used when ``threshold`` is ``None``.
        seed: random seed of the Isolation Forest.
    """

    def __init__(
        self,
        reference: np.ndarray,
        *,
        method: str = "mahalanobis",
        threshold: float | None = None,
        threshold_percentile: float = 99.5,
        seed: int = 0,
    ) -> None:
        reference = np.asarray(reference, dtype=np.float64)
        self.features = reference.shape[1]
        self.method = method
        if method == "mahalanobis":
            self._mean = reference.mean(axis=0)
            cov = np.atleast_2d(np.cov(reference, rowvar=False))
            cov += np.eye(self.features) * 1e-6 * max(1.0, float(np.trace(cov)) / self.features)
            self._precision = np.linalg.pinv(cov)
        elif method == "isolationforest":
            from sklearn.ensemble import IsolationForest

            self._forest = IsolationForest(n_estimators=100, random_state=seed).fit(reference)
        else:
            raise ValueError(f"method must be mahalanobis or isolationforest, not {method!r}")
        if threshold is None:
            threshold = float(np.percentile(self.score(reference), threshold_percentile))
        self.threshold = threshold

    def score(self, x: np.ndarray) -> np.ndarray:
        """Outlier scores of instances (larger is more anomalous)."""
        if x.shape[1] != self.features:
            raise ValueError(f"instances have {x.shape[1]} features, the reference has {self.features}")
        if self.method == "mahalanobis":
            centered = x - self._mean
            scores: np.ndarray = np.einsum("ij,jk,ik->i", centered, self._precision, centered)
            return scores
        return -np.asarray(self._forest.score_samples(x))

    def predict(self, x: np.ndarray) -> OutlierResult:
        """Score and flag instances.

        Args:
            x: ``(rows, features)`` instances.

        Returns:
            The result.
        """
        scores = self.score(x)
        return OutlierResult(
            is_outlier=[int(s > self.threshold) for s in scores],
            instance_score=[float(s) for s in scores],
            threshold=self.threshold,
        )
