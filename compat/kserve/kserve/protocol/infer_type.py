"""``kserve.protocol.infer_type``: ``InferRequest``, ``InferResponse``, ``InferInput``, ``InferOutput``.

They are zeroserve's internal representation (``zeroserve.servers.types``), with KServe's
constructors, attributes (``inputs``, ``outputs``, ``id``, ``model_name``, ``parameters``,
``from_grpc``, ``data``, ``shape``, ``datatype``) and numpy helpers (``as_numpy``,
``set_data_from_numpy``, ``as_string``). A response built from this module is encoded as KServe's
server encodes it: over gRPC, outputs given as lists travel in typed ``contents`` (so KServe's
``InferResponse.from_grpc`` fills ``.data``), and V2 REST writes unset ``model_version`` and
``parameters`` as ``null``.
"""

from zeroserve.servers.types import InferInput, InferOutput, InferRequest, RequestedOutput
from zeroserve.servers.types import InferResponse as _ZeroserveInferResponse

__all__ = ["InferInput", "InferOutput", "InferRequest", "InferResponse", "RequestedOutput"]


class InferResponse(_ZeroserveInferResponse):
    """KServe's ``InferResponse``: zeroserve's, encoded on the wire as KServe encodes it."""

    __slots__ = ()
    kserve_encoding = True
