"""A Seldon outlier detector (as Seldon's alibi-detect wrappers do): transform_input passes the
request through and reports, in tags and metrics, which rows are outliers."""

import numpy as np


class OutlierDetector:
    def __init__(self, threshold=3.0):
        self.threshold = float(threshold)
        self.last = []

    def transform_input(self, X, feature_names, meta=None):
        arr = np.asarray(X, dtype=float)
        self.last = [int(v) for v in (np.abs(arr).max(axis=1) > self.threshold)]
        return X

    def tags(self):
        return {"outlier-predictions": self.last}

    def metrics(self):
        return [{"type": "GAUGE", "key": "is_outlier", "value": float(sum(self.last))}]
