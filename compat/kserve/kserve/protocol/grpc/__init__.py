"""``kserve.protocol.grpc``: the Open Inference Protocol's gRPC messages and stubs.

``grpc_predict_v2_pb2`` and ``grpc_predict_v2_pb2_grpc`` are zeroserve's generated modules of the
same proto (package ``inference``), so messages built here go to any V2 gRPC server.
"""
