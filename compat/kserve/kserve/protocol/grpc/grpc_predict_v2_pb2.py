"""The V2 gRPC messages (``ModelInferRequest``, ``ModelInferResponse``, ...): zeroserve's generated module."""

from zeroserve.servers.grpc.generated.grpc_predict_v2_pb2 import *  # noqa: F403
