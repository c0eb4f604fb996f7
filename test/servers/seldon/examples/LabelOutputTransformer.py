"""A Seldon output transformer: turns class scores into labels."""

import numpy as np


class LabelOutputTransformer:
    LABELS = ["setosa", "versicolor", "virginica"]

    def transform_output(self, X, feature_names):
        return np.array([[self.LABELS[int(np.argmax(row))]] for row in np.asarray(X)])
