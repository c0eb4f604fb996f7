"""A Seldon OUTPUT_TRANSFORMER: negates the output."""

import numpy as np


class Negator:
    def transform_output(self, X, feature_names, meta=None):
        return -np.asarray(X, dtype=float)
