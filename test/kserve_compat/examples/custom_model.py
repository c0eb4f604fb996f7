"""KServe's custom model example (``python/custom_model/model.py``), written as KServe documents it.

Only the network differs: KServe's scores an image with a downloaded AlexNet (torchvision); this one
scores a 4x4 grey image with a fixed integer matrix, so it runs without torchvision or downloaded
weights and its scores are exact on every machine. Imports, flags, logging, CORS, the extra route,
hooks and the ``__main__`` block are the example's. Runs as is with the real KServe and with
zeroserve's ``kserve`` package.
"""

# ruff: noqa: UP006, UP007, UP035, RUF013
# (KServe's example spells its types with typing.Dict / Union and implicit Optional; kept as written)
import argparse
import base64
import time
from typing import Dict, Union

import numpy as np
from fastapi.middleware.cors import CORSMiddleware
from kserve import (
    InferOutput,
    InferRequest,
    InferResponse,
    Model,
    ModelServer,
    logging,
    model_server,
)
from kserve.errors import InvalidInput
from kserve.model_server import app
from kserve.utils.utils import generate_uuid

SIDE = 4
CLASSES = 10


def make_network(classes: int) -> np.ndarray:
    """The stand-in for AlexNet's weights: small integers, so every score is exact in FP32."""
    return (np.arange(SIDE * SIDE * classes, dtype=np.float64).reshape(SIDE * SIDE, classes) % 7) - 3


def image_to_tensor(raw_img_data: bytes) -> np.ndarray:
    """The stand-in for KServe's resize / crop / normalise: 16 grey bytes -> a (1, 16) tensor."""
    if len(raw_img_data) != SIDE * SIDE:
        raise InvalidInput(
            f"expected a {SIDE}x{SIDE} 8-bit grey image ({SIDE * SIDE} bytes), got {len(raw_img_data)}"
        )
    return np.frombuffer(raw_img_data, dtype=np.uint8).astype(np.float64).reshape(1, -1) / 2


class AlexNetModel(Model):
    def __init__(self, name: str, top_k: int):
        super().__init__(name, return_response_headers=True)
        self.model = None
        self.top_k = top_k
        self.ready = False
        self.load()

    def load(self):
        self.model = make_network(CLASSES)
        # The ready flag is used by model ready endpoint for readiness probes,
        # set to True when model is loaded successfully without exceptions.
        self.ready = True

    def preprocess(self, payload: Union[Dict, InferRequest], headers: Dict[str, str] = None) -> np.ndarray:
        raw_img_data = None
        if isinstance(payload, Dict) and "instances" in payload:
            headers["request-type"] = "v1"
            if "data" in payload["instances"][0]:
                # assume the data is already preprocessed in transformer
                return np.asarray(payload["instances"][0]["data"], dtype=np.float64).reshape(1, -1)
            elif "image" in payload["instances"][0]:
                # Input follows the Tensorflow V1 HTTP API for binary values
                img_data = payload["instances"][0]["image"]["b64"]
                raw_img_data = base64.b64decode(img_data)
        elif isinstance(payload, InferRequest):
            infer_input = payload.inputs[0]
            if infer_input.datatype == "BYTES":
                if payload.from_grpc:
                    raw_img_data = infer_input.data[0]
                else:
                    raw_img_data = base64.b64decode(infer_input.data[0])
            elif infer_input.datatype == "FP32":
                # assume the data is already preprocessed in transformer
                return infer_input.as_numpy().astype(np.float64).reshape(1, -1)
        if raw_img_data is None:
            raise InvalidInput("invalid payload")
        return image_to_tensor(raw_img_data)

    def predict(
        self,
        input_tensor: np.ndarray,
        headers: Dict[str, str] = None,
        response_headers: Dict[str, str] = None,
    ) -> Union[Dict, InferResponse]:
        start = time.time()
        output = input_tensor @ self.model
        values = -np.sort(-output, axis=1)[:, : self.top_k]
        result = values.flatten().tolist()
        response_id = generate_uuid()
        infer_output = InferOutput(name="output-0", shape=list(values.shape), datatype="FP32", data=result)
        infer_response = InferResponse(
            model_name=self.name, infer_outputs=[infer_output], response_id=response_id
        )
        end = time.time()

        # Example for custom response headers
        if response_headers is not None:
            response_headers.update({"prediction-time-latency": f"{round((end - start) * 1000, 9)}"})

        if "request-type" in headers and headers["request-type"] == "v1":
            return {"predictions": result}
        else:
            return infer_response


parser = argparse.ArgumentParser(parents=[model_server.parser])
parser.add_argument("--top_k", type=int, default=5, help="how many scores to return")
args, _ = parser.parse_known_args()

if __name__ == "__main__":
    if args.configure_logging:
        logging.configure_logging(args.log_config_file)
    logging.logger.info("starting custom model %s", args.model_name)
    model = AlexNetModel(args.model_name, args.top_k)
    model.load()
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
    )

    @app.get("/custom/info")
    def info() -> Dict[str, Union[str, int]]:
        return {"model": args.model_name, "top_k": args.top_k}

    ModelServer().start([model])
