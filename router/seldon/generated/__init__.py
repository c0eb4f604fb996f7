"""Generated from servers/seldon/proto (hack/gen-grpc.sh); do not edit."""
