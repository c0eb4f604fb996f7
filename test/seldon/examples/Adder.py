"""A Seldon MODEL: adds its ``add`` parameter to the input."""

import numpy as np


class Adder:
    def __init__(self, add=1.0):
        self.add = float(add)

    def predict(self, X, features_names=None, meta=None):
        return np.asarray(X, dtype=float) + self.add

    def tags(self):
        return {"model": f"adder{self.add:g}"}
