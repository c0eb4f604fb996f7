"""``kserve.protocol.infer_type``: ``InferRequest``, ``InferResponse``, ``InferInput``, ``InferOutput``.

They are zeroserve's internal representation (``zeroserve.servers.types``), with KServe's
constructors, attributes (``inputs``, ``outputs``, ``id``, ``model_name``, ``parameters``,
``from_grpc``, ``data``, ``shape``, ``datatype``) and numpy helpers (``as_numpy``,
``set_data_from_numpy``, ``as_string``).
"""

from zeroserve.servers.types import InferInput, InferOutput, InferRequest, InferResponse, RequestedOutput

__all__ = ["InferInput", "InferOutput", "InferRequest", "InferResponse", "RequestedOutput"]
