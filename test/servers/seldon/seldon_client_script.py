"""Runs in .venv-seldon (Seldon Core 1.18.2): Seldon's own SeldonClient against our components.

Usage: python seldon_client_script.py '{"IrisModel": {"rest": "host:port", "grpc": "host:port"}, ...}'
Prints one JSON object: call name -> {"success", "msg", "response"} (the response in JSON form).
"""

import json
import sys

import numpy as np
from google.protobuf import json_format
from seldon_core.seldon_client import SeldonClient


def result(r):
    response = getattr(r, "response", None)
    if response is not None and not isinstance(response, dict):
        response = json_format.MessageToDict(response)
    return {"success": bool(r.success), "msg": str(r.msg), "response": response}


def main():
    endpoints = json.loads(sys.argv[1])
    out = {}
    for transport in ("rest", "grpc"):
        iris = SeldonClient(microservice_endpoint=endpoints["IrisModel"][transport], transport=transport)
        data = np.array([[1.0, 2.0, 3.0]])
        for payload_type in ("ndarray", "tensor"):
            r = iris.microservice(
                method="predict", data=data, payload_type=payload_type, names=["a", "b", "c"]
            )
            out[f"{transport}-predict-{payload_type}"] = result(r)
        out[f"{transport}-predict-str"] = result(iris.microservice(method="predict", str_data="hello"))
        out[f"{transport}-predict-bin"] = result(iris.microservice(method="predict", bin_data=b"abc"))
        out[f"{transport}-predict-json"] = result(iris.microservice(method="predict", json_data={"k": [1]}))
        prediction = iris.microservice(method="predict", data=data, payload_type="ndarray")
        fb = iris.microservice_feedback(prediction.request, prediction.response, reward=1.0)
        out[f"{transport}-feedback"] = result(fb)

        router = SeldonClient(microservice_endpoint=endpoints["ABRouter"][transport], transport=transport)
        r = router.microservice(method="route", data=np.array([[5.0, 1.0]]), payload_type="ndarray")
        out[f"{transport}-route"] = result(r)

        combiner = SeldonClient(
            microservice_endpoint=endpoints["MeanCombiner"][transport], transport=transport
        )
        r = combiner.microservice(
            method="aggregate", datas=[np.array([[1.0, 3.0]]), np.array([[3.0, 5.0]])], payload_type="ndarray"
        )
        out[f"{transport}-aggregate"] = result(r)

        transformer = SeldonClient(
            microservice_endpoint=endpoints["ScaleTransformer"][transport], transport=transport
        )
        r = transformer.microservice(
            method="transform-input", data=np.array([[10.0, 20.0]]), payload_type="tensor"
        )
        out[f"{transport}-transform-input"] = result(r)

        output = SeldonClient(
            microservice_endpoint=endpoints["LabelOutputTransformer"][transport], transport=transport
        )
        r = output.microservice(
            method="transform-output", data=np.array([[0.1, 0.7, 0.2]]), payload_type="ndarray"
        )
        out[f"{transport}-transform-output"] = result(r)

        metrics = SeldonClient(
            microservice_endpoint=endpoints["MetricsModel"][transport], transport=transport
        )
        out[f"{transport}-metrics"] = result(metrics.microservice(method="predict", data=np.array([[1.0]])))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
