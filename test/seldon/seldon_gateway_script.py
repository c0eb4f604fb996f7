"""Runs in .venv-seldon (Seldon Core 1.18.2): SeldonClient in gateway mode against a SeldonDeployment.

Usage: python seldon_gateway_script.py GATEWAY_HOST:PORT DEPLOYMENT [rest|grpc]
Prints one JSON object: {"predict": ..., "feedback": ...}, each {"success", "msg", "response"}.
Over gRPC the client sends the ``seldon`` and ``namespace`` metadata (its Ambassador gateway mode).
"""

import json
import sys

import numpy as np
from google.protobuf import json_format
from seldon_core.seldon_client import SeldonClient


def as_dict(message):
    return message if isinstance(message, dict) else json_format.MessageToDict(message)


def result(r):
    response = getattr(r, "response", None)
    if response is not None and not isinstance(response, dict):
        response = json_format.MessageToDict(response)
    return {"success": bool(r.success), "msg": str(r.msg), "response": response}


def main():
    endpoint, deployment = sys.argv[1], sys.argv[2]
    transport = sys.argv[3] if len(sys.argv) > 3 else "rest"
    client = SeldonClient(
        deployment_name=deployment,
        namespace="default",
        gateway_endpoint=endpoint,
        gateway="istio" if transport == "rest" else "ambassador",
        transport=transport,
        # protobuf answers over gRPC: its feedback() puts the prediction's request/response back into a proto
        client_return_type="proto" if transport == "grpc" else "dict",
    )
    if transport == "grpc":
        prediction = client.predict(data=np.array([[0.0, 7.0]]), payload_type="ndarray", names=["route", "x"])
        feedback = client.feedback(
            prediction_request=prediction.request, prediction_response=prediction.response, reward=1.0
        )
        print(json.dumps({"predict": result(prediction), "feedback": result(feedback)}))
        return
    prediction = client.predict(data=np.array([[0.0, 7.0]]), payload_type="ndarray", names=["route", "x"])
    # its REST gateway predict hands back a request whose ndarray is a plain list, which its own
    # feedback() cannot put into a proto again: send the Feedback as JSON (raw_request) instead
    feedback = client.feedback(
        raw_request={
            "request": as_dict(prediction.request),
            "response": as_dict(prediction.response),
            "reward": 1.0,
        }
    )
    print(json.dumps({"predict": result(prediction), "feedback": result(feedback)}))


if __name__ == "__main__":
    main()
