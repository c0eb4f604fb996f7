"""The gateway's own gRPC answers, on a started engine's one port (no instances needed): statuses for
what it cannot route, the repository API refused, HTTP/2 that is not gRPC, and the header codecs."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest
from support.waiting import wait_until_async

from zeroserve.local.engine.activator import Activator
from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.gateway import Gateway
from zeroserve.local.engine.grpc_proxy import grpc_message, parse_grpc_timeout
from zeroserve.local.engine.h2c import H2ClientPool, H2Server
from zeroserve.local.engine.images import LaunchPlan
from zeroserve.local.engine.instances import Instance
from zeroserve.local.engine.routing import RouteEntry, RoutingTable


@pytest.fixture
async def routed(engine: Engine) -> AsyncIterator[str]:
    """The engine's gateway with one Route (``svc.default``) whose revision is not running."""
    engine.gateway.table = RoutingTable([RouteEntry("default", "svc", targets=(("svc-00001", 100),))])
    yield f"127.0.0.1:{engine.gateway_port}"


async def _call(address: str, authority: str, method: str, **kwargs: object) -> grpc.aio.AioRpcError:
    options = [("grpc.default_authority", authority)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await channel.unary_unary(method)(b"", timeout=10, **kwargs)
    return caught.value


async def test_statuses_the_gateway_answers(routed: str) -> None:
    err = await _call(routed, "nothing.example.org", "/inference.GRPCInferenceService/ModelInfer")
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert "no route for host 'nothing.example.org'" in (err.details() or "")

    err = await _call(routed, "svc.default", "/inference.GRPCInferenceService/RepositoryModelLoad")
    assert err.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "model repository API is not served through the gateway" in (err.details() or "")

    err = await _call(routed, "svc.default.svc.cluster.local", "/inference.GRPCInferenceService/ModelInfer")
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert err.details() == "revision default/svc-00001 of default/svc is not running"


async def test_http1_and_non_grpc_http2_on_the_same_port(routed: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{routed}") as client:
        assert (await client.get("/healthz")).status_code == 200
    pool = H2ClientPool()
    host, _, port = routed.partition(":")
    conn = await pool.connection(host, int(port))
    headers = [(b":method", b"GET"), (b":scheme", b"http"), (b":path", b"/"), (b":authority", b"svc.default")]
    stream = conn.open(headers, end=True)
    response = dict(await stream.headers)
    body = b""
    while (chunk := await stream.read()) is not None:
        body += chunk
        stream.ack()
    stream.release()
    pool.close()
    assert response[b":status"] == b"415"
    assert b"use HTTP/1.1 for REST" in body


class _StoppedRevision:
    """A revision whose one ready instance names a gRPC port nothing listens on (its server stopped)."""

    def __init__(self, log: Path) -> None:
        self.activator = Activator("default/svc-00001")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            closed = sock.getsockname()[1]
        inst = Instance(LaunchPlan(argv=["(stopped)"], env={}, port=closed), log)
        inst.grpc_port = closed
        self.activator.add(inst)
        self.instance = inst

    timeout_seconds = 30.0
    unavailable = None


async def test_a_stopped_backend_is_unavailable_after_retries(tmp_path: Path) -> None:
    revision = _StoppedRevision(tmp_path / "log")
    gateway = Gateway(lambda namespace, name: revision if name == "svc-00001" else None)
    gateway.table = RoutingTable([RouteEntry("default", "svc", targets=(("svc-00001", 100),))])
    connections: list[H2Server] = []

    def accept() -> H2Server:
        connections.append(H2Server(gateway.grpc, lambda _: None))
        return connections[-1]

    server = await asyncio.get_running_loop().create_server(accept, "127.0.0.1", 0)
    try:
        address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
        err = await _call(address, "svc.default.example.com", "/inference.GRPCInferenceService/ModelInfer")
    finally:
        for conn in connections:
            conn.shutdown()
        server.close()
        await server.wait_closed()
        gateway.grpc.close()
    assert err.code() == grpc.StatusCode.UNAVAILABLE
    assert "revision svc-00001 failed to answer: cannot connect to its gRPC port" in (err.details() or "")
    assert revision.instance.in_flight == 0
    assert revision.activator.traffic.in_flight == 0
    assert gateway.responses == {("default", "svc-00001", 503): 1}


class _IdleRevision:
    """A revision at zero that never gets an instance: calls wait at its activator."""

    def __init__(self) -> None:
        self.demand = 0
        self.activator = Activator("default/svc-00001", on_demand=self._wake)

    def _wake(self) -> None:
        self.demand += 1

    timeout_seconds = 30.0
    unavailable = None


async def test_a_call_cancelled_while_held_at_the_activator_leaves_it() -> None:
    revision = _IdleRevision()
    gateway = Gateway(lambda namespace, name: revision if name == "svc-00001" else None)
    gateway.table = RoutingTable([RouteEntry("default", "svc", targets=(("svc-00001", 100),))])
    connections: list[H2Server] = []

    def accept() -> H2Server:
        connections.append(H2Server(gateway.grpc, lambda _: None))
        return connections[-1]

    server = await asyncio.get_running_loop().create_server(accept, "127.0.0.1", 0)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    options = [("grpc.default_authority", "svc.default")]
    try:
        async with grpc.aio.insecure_channel(address, options=options) as channel:
            call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")(b"", timeout=30)
            await wait_until_async(lambda: revision.activator.pending == 1, 10, interval=0.01)
            assert revision.demand == 1  # the scale-from-zero signal, as for HTTP
            assert revision.activator.traffic.in_flight == 1  # counted for the autoscaler while held
            call.cancel()
            await wait_until_async(lambda: revision.activator.pending == 0, 10, interval=0.01)
            await wait_until_async(lambda: revision.activator.traffic.in_flight == 0, 10, interval=0.01)
    finally:
        for conn in connections:
            conn.shutdown()
        server.close()
        await server.wait_closed()
        gateway.grpc.close()


def test_header_codecs() -> None:
    assert parse_grpc_timeout(b"250m") == 0.25
    assert parse_grpc_timeout(b"2S") == 2.0
    assert parse_grpc_timeout(b"1H") == 3600.0
    assert parse_grpc_timeout(b"123456789S") is None  # more than 8 digits
    assert parse_grpc_timeout(b"10x") is None
    assert parse_grpc_timeout(b"m") is None
    assert grpc_message("revision a/b: 100% gone\n") == b"revision a/b: 100%25 gone%0A"
    assert grpc_message("café") == b"caf%C3%A9"
