"""The orchestrator's gRPC engine API (``seldon.protos.Seldon``) over real Seldon components.

The orchestrator runs in-process with its gRPC server on a free port; its components are the
``examples/`` served by ``seldon-core-microservice`` (see ``conftest.py``), called over REST, or over
gRPC for units whose endpoint type is ``GRPC``.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf import json_format
from support.waiting import wait_until

from zeroserve.protos import seldon_prediction_pb2 as pb
from zeroserve.router.seldon.app import SeldonOrchestrator
from zeroserve.router.seldon.graph import load_seldon_json
from zeroserve.router.seldon.grpc import STATUS_TRAILER, start_grpc_server
from zeroserve.router.seldon.walk import GraphWalker

Call = Callable[..., Any]


def _unit(name: str, port: int, kind: str = "REST", **fields: Any) -> dict[str, Any]:
    endpoint = {"service_host": "127.0.0.1", "service_port": port, "type": kind}
    return {"name": name, "endpoint": endpoint, **fields}


@pytest.fixture(params=["REST", "GRPC"])
async def engine(
    request: pytest.FixtureRequest, components: dict[str, int], grpc_components: dict[str, int]
) -> AsyncIterator[grpc.aio.Channel]:
    """A router graph (picker -> doubler | adder) behind the gRPC engine API, its components called
    over REST or over gRPC: a channel to the orchestrator."""
    kind = request.param
    ports = grpc_components if kind == "GRPC" else components
    graph = _unit(
        "picker",
        ports["Picker"],
        kind,
        type="ROUTER",
        children=[_unit("doubler", ports["Doubler"], kind), _unit("adder", ports["Adder"], kind)],
    )
    parsed = load_seldon_json(json.dumps({"deployment": "d", "namespace": "ns", "graph": graph}))
    async with httpx.AsyncClient(trust_env=False) as http:
        walker = GraphWalker(parsed, http, random.Random(1))
        server, port = await start_grpc_server(SeldonOrchestrator(parsed, http, walker), "127.0.0.1", 0)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield channel
        finally:
            await server.stop(None)
            await walker.close()


def _rpc(channel: grpc.aio.Channel, method: str) -> Call:
    return channel.unary_unary(
        f"/seldon.protos.Seldon/{method}",
        request_serializer=lambda m: m if isinstance(m, bytes) else m.SerializeToString(),
        response_deserializer=pb.SeldonMessage.FromString,
    )


async def test_router_graph_and_feedback_over_grpc(engine: grpc.aio.Channel, feedback_file: Path) -> None:
    before = len(feedback_file.read_text().splitlines()) if feedback_file.exists() else 0  # noqa: ASYNC240
    request = json_format.ParseDict({"data": {"ndarray": [[1, 0]]}}, pb.SeldonMessage())
    answer = await _rpc(engine, "Predict")(request, metadata=(("seldon-puid", "p" * 26),))
    assert json_format.MessageToDict(answer.data)["ndarray"] == [[2.0, 1.0]]  # routed to the adder
    assert dict(answer.meta.routing) == {"picker": 1}
    assert set(answer.meta.requestPath) == {"picker", "adder"}
    assert answer.meta.puid == "p" * 26
    # feedback with the response: the router gets its own route; by puid alone, the remembered one
    sent = pb.Feedback(request=request, response=answer, reward=1.0)
    reply = await _rpc(engine, "SendFeedback")(sent)
    assert dict(reply.meta.routing) == {"picker": 1}
    puid_only = pb.Feedback(response=pb.SeldonMessage(meta=pb.Meta(puid=answer.meta.puid)), reward=0.5)
    reply = await _rpc(engine, "SendFeedback")(puid_only)
    assert dict(reply.meta.routing) == {"picker": 1}
    wait_until(
        lambda: len(feedback_file.read_text().splitlines()) >= before + 2,
        10,
        what="the router to record two feedbacks",
        retry_on=(OSError,),
    )
    records = [json.loads(line) for line in feedback_file.read_text().splitlines()[before:]]  # noqa: ASYNC240
    assert [(r["reward"], r["routing"]) for r in records] == [(1.0, 1), (0.5, 1)]


def _status(error: grpc.aio.AioRpcError) -> Any:
    trailers = {k: v for k, v in error.trailing_metadata() or ()}
    return pb.Status.FromString(trailers[STATUS_TRAILER])


async def test_malformed_messages_are_invalid_argument_with_seldons_status(engine: grpc.aio.Channel) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _rpc(engine, "Predict")(b"\xff\xff\xff not protobuf")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "the request is not a valid seldon.protos.SeldonMessage"
    status = _status(caught.value)
    assert (status.code, status.reason, status.status) == (400, "BAD_REQUEST", pb.Status.FAILURE)
    # a tensor whose shape is not its values: the router component's own Seldon 400, passed on
    ragged = json_format.ParseDict({"data": {"tensor": {"shape": [2, 2], "values": [1]}}}, pb.SeldonMessage())
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _rpc(engine, "Predict")(ragged)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    status = _status(caught.value)
    assert status.code == 400 and status.status == pb.Status.FAILURE and status.info
    # feedback whose routing names a child the router does not have
    bad = pb.Feedback(response=pb.SeldonMessage(meta=pb.Meta(routing={"picker": 7})), reward=1.0)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _rpc(engine, "SendFeedback")(bad)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert _status(caught.value).reason == "BAD_FEEDBACK"
