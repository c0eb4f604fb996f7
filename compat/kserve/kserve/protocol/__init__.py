"""``kserve.protocol``: the request and response types (``infer_type``) and the gRPC messages."""
