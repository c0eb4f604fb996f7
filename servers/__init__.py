"""zeroserve's data plane: the kserve-compatible ``Model`` API, ``ModelServer`` and the protocols.

A model written for ``kserve`` runs after changing its import to::

    from zeroserve.servers import Model, ModelServer, InferRequest, InferResponse, InferInput, InferOutput
"""

from zeroserve.servers.errors import (
    InferenceError,
    InvalidInput,
    ModelNotFound,
    ModelNotReady,
    ServingError,
)
from zeroserve.servers.model import Model, PredictorClient
from zeroserve.servers.model_server import ModelServer, ServerHandle
from zeroserve.servers.predict_io import get_predict_input, get_predict_response
from zeroserve.servers.repository import ModelRepository
from zeroserve.servers.settings import ServerSettings
from zeroserve.servers.transformer.config import PredictorConfig
from zeroserve.servers.types import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput

__all__ = [
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "InferenceError",
    "InvalidInput",
    "Model",
    "ModelNotFound",
    "ModelNotReady",
    "ModelRepository",
    "ModelServer",
    "PredictorClient",
    "PredictorConfig",
    "RequestedOutput",
    "ServerHandle",
    "ServerSettings",
    "ServingError",
    "get_predict_input",
    "get_predict_response",
]
