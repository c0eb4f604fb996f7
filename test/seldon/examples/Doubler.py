"""A Seldon MODEL: doubles its input; reports a tag and a counter."""

import numpy as np


class Doubler:
    def predict(self, X, features_names=None):
        return np.asarray(X, dtype=float) * 2

    def tags(self):
        return {"model": "doubler"}

    def metrics(self):
        return [{"type": "COUNTER", "key": "doubled", "value": 1}]
