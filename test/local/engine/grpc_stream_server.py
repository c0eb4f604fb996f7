"""A small gRPC server for the gateway's gRPC tests: calls none of our model servers make.

Listens on ``$PORT`` (127.0.0.1), with raw-bytes methods of a service ``test.Echo``:

- ``Chat`` (bidirectional streaming): answers every message ``m`` with ``echo:<m>`` as it arrives;
- ``Deadline`` (unary): answers the time left before the deadline the server saw, in seconds
  (``none`` without one);
- ``Hold`` (unary): writes ``started`` to the file named in the request, waits until the call is
  cancelled, then writes ``cancelled`` there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc


def chat(requests: Iterator[bytes], context: Any) -> Iterator[bytes]:
    for message in requests:
        yield b"echo:" + message


def deadline(request: bytes, context: Any) -> bytes:
    left = context.time_remaining()
    return b"none" if left is None else f"{left:.3f}".encode()


def hold(request: bytes, context: Any) -> bytes:
    marker = Path(request.decode())
    marker.write_text("started")
    done = threading.Event()
    context.add_callback(done.set)
    done.wait(60)
    if not context.is_active():
        marker.write_text("cancelled")
    return b"released"


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handlers = {
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
        "Deadline": grpc.unary_unary_rpc_method_handler(deadline),
        "Hold": grpc.unary_unary_rpc_method_handler(hold),
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    server.add_insecure_port(f"127.0.0.1:{os.environ['PORT']}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    main()
