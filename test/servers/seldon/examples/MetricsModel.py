"""A Seldon model reporting custom metrics and tags."""


class MetricsModel:
    def __init__(self):
        self.calls = 0

    def predict(self, X, feature_names, meta=None):
        self.calls += 1
        return X

    def metrics(self):
        return [
            {"type": "COUNTER", "key": "mycounter", "value": 1},
            {"type": "GAUGE", "key": "mygauge", "value": 100 + self.calls, "tags": {"mytag": "mytagvalue"}},
            {"type": "TIMER", "key": "mytimer", "value": 20.2},
        ]

    def tags(self):
        return {"mytag": 1, "calls": self.calls}
