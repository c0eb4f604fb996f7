"""A Seldon input transformer, with feature_names for its output."""

import numpy as np


class ScaleTransformer:
    def transform_input(self, X, feature_names, meta=None):
        return np.asarray(X, dtype=float) / 10.0

    def feature_names(self):
        return ["a_scaled", "b_scaled"]
