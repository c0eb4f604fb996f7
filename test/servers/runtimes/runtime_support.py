"""Names of the models the runtime tests' shared server serves, and the custom model's source."""

from __future__ import annotations

# The models the shared server serves, by name.
SKLEARN = "iris-sklearn"
SKLEARN_PROBA = "iris-proba"
XGBOOST = "iris-xgb"
TORCH = "iris-torch"
CUSTOM = "custom-scale"

CUSTOM_MODEL_SOURCE = '''
"""A kserve-style custom model: only its import differs from a kserve.Model subclass."""

from typing import Dict

import numpy as np

from zeroserve.servers.model import Model
from zeroserve.servers.predict_io import get_predict_input, get_predict_response


class ScaleModel(Model):
    def __init__(self, name: str, factor: float = 1.0, offset: float = 0.0):
        super().__init__(name)
        self.factor = factor
        self.offset = offset
        self.ready = False

    def load(self):
        self.ready = True
        return self.ready

    def preprocess(self, payload, headers: Dict[str, str] = None):
        return payload

    async def predict(self, payload, headers: Dict[str, str] = None):
        x = np.asarray(get_predict_input(payload), dtype=np.float64)
        return get_predict_response(payload, x * self.factor + self.offset, self.name)


class NotAModel:
    pass


class NeedsArgument(Model):
    def __init__(self, name: str, required: int):
        super().__init__(name)
'''
