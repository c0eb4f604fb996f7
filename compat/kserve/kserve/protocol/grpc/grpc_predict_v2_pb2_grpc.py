"""The V2 gRPC stubs (``GRPCInferenceServiceStub``, ...): zeroserve's generated module."""

from zeroserve.servers.grpc.generated.grpc_predict_v2_pb2_grpc import *  # noqa: F403
