"""KServe's custom transformer example (``python/custom_transformer/model.py``), written as KServe
0.21 documents it: the predictor comes from the server's ``--predictor_host`` /
``--predictor_protocol`` flags (``self.predictor_config``).

Only the image decoding differs: KServe's decodes a JPEG with PIL and torchvision; this one takes a
base64 4x4 grey image, so that it needs neither. Runs as is with the real KServe and with
zeroserve's ``kserve`` package, in front of ``custom_model.py``.
"""

# ruff: noqa: UP006, UP007, UP035, RUF013
# (KServe's example spells its types with typing.Dict / Union and implicit Optional; kept as written)
import argparse
import base64
from typing import Dict, Union

import numpy
from kserve import (
    InferInput,
    InferRequest,
    InferResponse,
    Model,
    ModelServer,
    logging,
    model_server,
)
from kserve.model import PredictorProtocol


def image_transform(data):
    """converts the input image of Bytes Array into Tensor

    Args:
        data: The input image bytes, base64.

    Returns:
        numpy.array: Returns the numpy array after the image preprocessing.
    """
    byte_array = base64.b64decode(data)
    return numpy.frombuffer(byte_array, dtype=numpy.uint8).astype(numpy.float32) / 2


class ImageTransformer(Model):
    def __init__(self, name: str):
        super().__init__(name, return_response_headers=True)
        self.ready = True

    def preprocess(
        self, payload: Union[Dict, InferRequest], headers: Dict[str, str] = None
    ) -> Union[Dict, InferRequest]:
        if isinstance(payload, InferRequest):
            input_tensors = [image_transform(instance) for instance in payload.inputs[0].data]
        else:
            headers["request-type"] = "v1"
            # Input follows the Tensorflow V1 HTTP API for binary values
            input_tensors = [image_transform(instance["image"]["b64"]) for instance in payload["instances"]]
        input_tensors = numpy.asarray(input_tensors)
        infer_inputs = [
            InferInput(
                name="INPUT__0",
                datatype="FP32",
                shape=list(input_tensors.shape),
                data=input_tensors,
            )
        ]
        infer_request = InferRequest(model_name=self.name, infer_inputs=infer_inputs)

        # Transform to KServe v1/v2 inference protocol
        if self.predictor_config.predictor_protocol == PredictorProtocol.REST_V1.value:
            inputs = [{"data": input_tensor.tolist()} for input_tensor in input_tensors]
            payload = {"instances": inputs}
            return payload
        else:
            return infer_request

    def postprocess(
        self,
        infer_response: Union[Dict, InferResponse],
        headers: Dict[str, str] = None,
        response_headers: Dict[str, str] = None,
    ) -> Union[Dict, InferResponse]:
        if "request-type" in headers and headers["request-type"] == "v1":
            if self.predictor_config.predictor_protocol == PredictorProtocol.REST_V1.value:
                return infer_response
            else:
                # if predictor protocol is v2 but transformer uses v1
                return {"predictions": infer_response.outputs[0].as_numpy().tolist()}
        else:
            return infer_response


parser = argparse.ArgumentParser(parents=[model_server.parser])
args, _ = parser.parse_known_args()

if __name__ == "__main__":
    if args.configure_logging:
        logging.configure_logging(args.log_config_file)
    model = ImageTransformer(args.model_name)
    ModelServer().start([model])
