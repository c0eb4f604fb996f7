"""A Seldon model with predict_raw: it gets and returns the whole message."""


class RawModel:
    def predict_raw(self, msg):
        if isinstance(msg, dict):
            return {"jsonData": {"raw": True, "keys": sorted(msg)}, "meta": {"tags": {"raw": "rest"}}}
        from google.protobuf import json_format

        return json_format.ParseDict({"jsonData": {"raw": True, "grpc": True}}, type(msg)())

    def predict(self, X, feature_names):
        raise AssertionError("predict_raw wins")
