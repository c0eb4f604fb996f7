"""The model server's spans over V2 REST and gRPC, served in a thread of this (traced) process."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx
import numpy as np
import tritonclient.grpc as triton_grpc

from zeroserve.local.traces.receiver import TraceReceiver
from zeroserve.process import tracing
from zeroserve.servers import InferRequest, Model
from zeroserve.servers.testing import serve_in_thread


class Doubler(Model):
    def load(self) -> bool:
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Any = None) -> Any:
        assert isinstance(payload, InferRequest)
        return payload.inputs[0].as_numpy() * 2


def _grpc_infer(target: str, traceparent: str) -> None:
    client = triton_grpc.InferenceServerClient(target)
    tensor = triton_grpc.InferInput("x", [1, 2], "FP32")
    tensor.set_data_from_numpy(np.array([[1.0, 2.0]], dtype=np.float32))
    client.infer("doubler", [tensor], headers={"traceparent": traceparent})
    client.close()


async def test_v2_rest_and_grpc_requests_continue_the_callers_trace() -> None:
    receiver = TraceReceiver()
    url = await receiver.start()
    tracing.configure("model-server", env={"OTEL_EXPORTER_OTLP_ENDPOINT": url})
    rest_trace, grpc_trace, caller = secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(8)
    try:
        with serve_in_thread([Doubler("doubler")]) as server:
            body = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]}
            async with httpx.AsyncClient(base_url=server.http_url, trust_env=False) as client:
                traceparent = {"traceparent": f"00-{rest_trace}-{caller}-01"}
                answer = await client.post("/v2/models/doubler/infer", json=body, headers=traceparent)
            assert answer.status_code == 200, answer.text
            await asyncio.to_thread(_grpc_infer, server.grpc_target, f"00-{grpc_trace}-{caller}-01")
        assert await asyncio.to_thread(tracing.flush)
        rest = {s.name: s for s in receiver.store.trace(rest_trace)}
        grpc = {s.name: s for s in receiver.store.trace(grpc_trace)}
    finally:
        await asyncio.to_thread(tracing.shutdown)
        await receiver.stop()
    server_span = rest.pop("POST /v2/models/doubler/infer")
    assert server_span.parent_id == caller and server_span.kind == "server"
    assert server_span.attributes["http.response.status_code"] == 200
    assert set(rest) == {"decode", "preprocess", "predict", "postprocess", "encode"}
    assert all(s.parent_id == server_span.span_id for s in rest.values())
    assert rest["predict"].attributes == {"zeroserve.model": "doubler"}
    call = grpc.pop("inference.GRPCInferenceService/ModelInfer")
    assert call.parent_id == caller and call.attributes["rpc.system"] == "grpc"
    assert set(grpc) == {"preprocess", "predict", "postprocess"}
    assert all(s.parent_id == call.span_id for s in grpc.values())
