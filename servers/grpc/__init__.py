"""V2 gRPC transport: the proto, its generated stubs, message conversion and the servicer."""
