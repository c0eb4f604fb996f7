"""A Seldon model as its users write it: a plain class, the model loaded in load()."""

import numpy as np


class IrisModel:
    def __init__(self, scale=1.0, offset=0, label="iris", verbose=False, extra=None):
        self.scale = scale
        self.offset = offset
        self.label = label
        self.verbose = verbose
        self.extra = extra
        self.loaded = False
        self.feedback = []

    def load(self):
        self.loaded = True

    def predict(self, X, features_names=None, meta=None):
        if isinstance(X, str):
            return X.upper()
        if isinstance(X, bytes):
            return X[::-1]
        if isinstance(X, dict):
            return {"echo": X, "label": self.label}
        arr = np.asarray(X, dtype=float)
        if arr.size and arr.ravel()[0] < -1000:
            raise ValueError("values below -1000 are not supported")
        return arr * self.scale + self.offset

    def class_names(self):
        return ["setosa", "versicolor", "virginica"]

    def send_feedback(self, features, feature_names, reward, truth, routing=None):
        self.feedback.append(reward)
        return None

    def init_metadata(self):
        return {
            "name": "iris",
            "versions": ["v1"],
            "platform": "seldon",
            "inputs": [{"messagetype": "tensor", "schema": {"names": ["a", "b", "c"]}}],
            "outputs": [{"messagetype": "tensor", "schema": {"shape": [3]}}],
            "custom": {"author": "zeroserve"},
        }

    def health_status(self):
        return {
            "loaded": self.loaded,
            "params": [self.scale, self.offset, self.label, self.verbose, self.extra],
        }
