"""zeroserve's ``kserve`` compatibility package: KServe's Python API on zeroserve's model server.

A model written for KServe (``from kserve import Model, ModelServer, model_server, ...``) runs
unchanged: ``Model`` is zeroserve's model contract, ``ModelServer`` is zeroserve's server (V1,
V2 REST with the binary extension, V2 gRPC), ``model_server.parser`` / ``app`` / ``args``,
``logging``, ``utils``, ``errors`` and ``protocol`` carry KServe's names. Installed on request
(``pip install zeroserve-kserve``, see ``compat/kserve/README.md``), never by zeroserve itself, so
an installed KServe is not shadowed by accident.
"""

from kserve import errors, logging, model_server, utils
from kserve.constants import constants
from kserve.inference_client import InferenceGRPCClient, InferenceRESTClient, RESTConfig
from kserve.model import Model
from kserve.model_repository import ModelRepository
from kserve.model_server import ModelServer
from kserve.predictor_config import PredictorConfig
from kserve.protocol.infer_type import InferInput, InferOutput, InferRequest, InferResponse

__all__ = [
    "InferInput",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "InferenceGRPCClient",
    "InferenceRESTClient",
    "Model",
    "ModelRepository",
    "ModelServer",
    "PredictorConfig",
    "RESTConfig",
    "constants",
    "errors",
    "logging",
    "model_server",
    "utils",
]
