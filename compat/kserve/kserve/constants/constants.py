"""``kserve.constants.constants``: the constants KServe's users import."""

from kserve.model import PredictorProtocol

__all__ = [
    "DEFAULT_GRPC_PORT",
    "DEFAULT_HTTP_PORT",
    "INFERENCE_CONTENT_LENGTH_HEADER",
    "MAX_GRPC_MESSAGE_LENGTH",
    "PredictorProtocol",
]

DEFAULT_HTTP_PORT = 8080
DEFAULT_GRPC_PORT = 8081
MAX_GRPC_MESSAGE_LENGTH = 8 * 1024 * 1024
INFERENCE_CONTENT_LENGTH_HEADER = "inference-header-content-length"
