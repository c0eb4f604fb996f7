"""KServe's custom model example for V2 gRPC (``python/custom_model/model_grpc.py``), as KServe writes it:
``predict`` answers with a dict in ``ModelInferResponse`` form (typed ``contents``).

As in ``custom_model.py``, a fixed integer matrix over a 4x4 grey image stands in for AlexNet.
"""

# ruff: noqa: UP006, UP035, RUF013
# (KServe's example spells its types with typing.Dict and implicit Optional; kept as written)
import argparse
from typing import Dict

import numpy as np
from kserve import InferRequest, Model, ModelServer, logging, model_server
from kserve.utils.utils import generate_uuid

SIDE = 4


class AlexNetModel(Model):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name
        self.load()
        self.model = None
        self.ready = False

    def load(self):
        self.model = (np.arange(SIDE * SIDE * 10, dtype=np.float64).reshape(SIDE * SIDE, 10) % 7) - 3
        self.ready = True

    def preprocess(self, payload: InferRequest, headers: Dict[str, str] = None) -> np.ndarray:
        req = payload.inputs[0]
        if req.datatype == "BYTES":
            return np.frombuffer(req.data[0], dtype=np.uint8).astype(np.float64).reshape(1, -1) / 2
        elif req.datatype == "FP32":
            np_array = payload.inputs[0].as_numpy()
            return np_array.astype(np.float64).reshape(1, -1)

    def predict(self, input_tensor: np.ndarray, headers: Dict[str, str] = None) -> Dict:
        output = input_tensor @ self.model
        values = -np.sort(-output, axis=1)[:, :5]
        result = values.flatten().tolist()
        id = generate_uuid()
        response = {
            "id": id,
            "model_name": "custom-model",
            "outputs": [
                {
                    "contents": {
                        "fp32_contents": result,
                    },
                    "datatype": "FP32",
                    "name": "output-0",
                    "shape": list(values.shape),
                }
            ],
        }
        return response


parser = argparse.ArgumentParser(parents=[model_server.parser])
args, _ = parser.parse_known_args()

if __name__ == "__main__":
    if args.configure_logging:
        logging.configure_logging(args.log_config_file)
    model = AlexNetModel("custom-model")
    model.load()
    ModelServer().start([model])
