"""Request limits on a real server: body size (413), JSON depth (400), read timeout (408), large
bodies decoded off the event loop; the repository API off by default; readiness without a model;
binding loopback only for HTTP and gRPC."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np
import orjson
import pytest
from sample_models import SumModel
from servers_support import BackgroundServer, serve_in_background

from zeroserve.servers import Model, ServerHandle
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2_grpc as pb_grpc
from zeroserve.servers.protocols.numeric_rows import parse_numeric_instances
from zeroserve.servers.rest.deadlines import ReadDeadlines

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def limited() -> Iterator[BackgroundServer]:
    """A server with a 64 KiB body limit, a 0.5 s read timeout and the repository API off."""
    server = serve_in_background(
        [SumModel("sum")], host="127.0.0.1", max_request_size=LIMIT, request_read_timeout=0.5
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def limited_handle(limited: BackgroundServer) -> ServerHandle:
    assert limited.handle is not None
    return limited.handle


def _raw_request(handle: ServerHandle, head: bytes, body: bytes = b"", wait: float = 10.0) -> bytes:
    """Send ``head`` + ``body`` on a fresh connection and read the answer until the server closes it."""
    with socket.create_connection(("127.0.0.1", handle.http_port), timeout=wait) as sock:
        sock.sendall(head + body)
        data = b""
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_declared_content_length_over_the_limit_is_413_before_the_body_is_sent(
    limited_handle: ServerHandle,
) -> None:
    head = (
        b"POST /v1/models/sum:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000\r\n\r\n"
    )
    response = _raw_request(limited_handle, head)
    assert _status(response) == 413
    assert b"exceeds the limit of 65536 bytes" in response


def test_streamed_body_over_the_limit_is_413(limited_handle: ServerHandle) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 4096

    with httpx.Client(base_url=limited_handle.url, trust_env=False) as http:
        r = http.post("/v1/models/sum:predict", content=chunks())
    assert r.status_code == 413
    assert "exceeds the limit of 65536 bytes" in r.json()["error"]


def test_half_sent_body_is_cut_with_408(limited_handle: ServerHandle) -> None:
    head = (
        b"POST /v1/models/sum:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    started = time.monotonic()
    response = _raw_request(limited_handle, head, b'{"instances": [[1, 2')
    assert _status(response) == 408
    assert b"not received within 0.5 s" in response
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": ' + b"[" * 65 + b"1" + b"]" * 65 + b"}",
        b'{"instances": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"instances": [' + b'{"a": ' * 70 + b"1" + b"}" * 70 + b"]}",
    ],
    ids=["65-deep", "30k-deep", "objects-70-deep"],
)
def test_json_nested_past_the_depth_limit_is_400(http: httpx.Client, body: bytes) -> None:
    r = http.post("/v1/models/sum:predict", content=body)
    assert r.status_code == 400
    assert "nested deeper than 64 levels" in r.json()["error"]
    assert "max_json_depth" in r.json()["error"]


def test_brackets_inside_strings_do_not_count_as_depth(http: httpx.Client) -> None:
    strings = "[" * 200
    r = http.post("/v1/models/sum:predict", json={"instances": [[1, 2]], "note": strings})
    assert r.status_code == 200, r.text


class ArrayModel(Model):
    """Takes large numeric V1 bodies as one array; answers with the row sums and what it was given."""

    accepts_array_instances = True

    def predict(self, payload: Any, headers: Any = None) -> Any:
        instances = payload["instances"]
        kind = type(instances).__name__
        return {"kind": kind, "predictions": np.asarray(instances, dtype=np.float64).sum(axis=1)}


def test_large_bodies_answer_like_small_ones() -> None:
    rows = np.arange(60_000 * 4, dtype=np.float64).reshape(-1, 4) / 7
    body = orjson.dumps({"instances": rows.tolist()})
    assert len(body) > 1024 * 1024  # decoded in a worker thread
    server = serve_in_background([ArrayModel("array"), SumModel("sum")], grpc_port=-1)
    try:
        assert server.handle is not None
        with httpx.Client(base_url=server.handle.url, trust_env=False, timeout=60) as http:
            big = http.post("/v1/models/array:predict", content=body).json()
            assert big["kind"] == "ndarray"  # parsed straight to numpy
            np.testing.assert_allclose(big["predictions"], rows.sum(axis=1))
            small = http.post("/v1/models/array:predict", json={"instances": rows[:2].tolist()}).json()
            assert small["kind"] == "list"
            listed = http.post("/v1/models/sum:predict", content=body).json()  # a plain model: lists
            np.testing.assert_allclose(listed["predictions"], rows.sum(axis=1))
            bad = http.post("/v1/models/array:predict", content=body[:-3] + b",]]}")
            assert bad.status_code == 400
            assert "invalid JSON" in bad.json()["error"]
    finally:
        server.stop()


def test_numeric_rows_parse_to_the_same_array_as_json() -> None:
    rows = [[6.8, 2.8, 4.8, 1.4], [-1e-3, 2.5e10, 0, 3]]
    body = httpx.Response(200, json={"instances": rows}).content
    np.testing.assert_array_equal(parse_numeric_instances(body), np.asarray(rows))
    ints = parse_numeric_instances(b'{"instances": [[1, 2], [3, -4]]}')
    assert ints is not None and ints.dtype == np.int64
    for other in (
        b'{"instances": [[1, 2], [3]]}',
        b'{"instances": [[1, "2"]]}',
        b'{"instances": [[1, 2]], "parameters": {}}',
        b'{"instances": [1, 2]}',
        b'{"instances": [[[1]]]}',
        b'{"instances": [[1,,2]]}',
        b'{"instances": [[1.2.3, 2]]}',
        b'{"instances": [[1-2, 3]]}',
        b'{"instances": [[1e999]]}',
        b'{"instances": [[9007199254740993]]}',
    ):
        assert parse_numeric_instances(other) is None, other


def test_repository_api_is_off_by_default(limited_handle: ServerHandle) -> None:
    with httpx.Client(base_url=limited_handle.url, trust_env=False) as http:
        for path in (
            "/v2/repository/models/sum/unload",
            "/v2/repository/models/sum/load",
            "/v2/repository/index",
        ):
            r = http.post(path)
            assert r.status_code == 404, path
            assert "--enable_model_repository" in r.json()["error"]
        assert "model_repository_extension" not in http.get("/v2").json()["extensions"]
        assert http.post("/v1/models/sum:predict", json={"instances": [[1, 2]]}).json() == {
            "predictions": [3.0]
        }
    with grpc.insecure_channel(limited_handle.grpc_target) as channel:
        stub: Any = pb_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="sum"))
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "--enable_model_repository" in (err.value.details() or "")
        assert stub.ServerReady(pb.ServerReadyRequest()).ready


def test_not_ready_once_the_only_model_is_unloaded() -> None:
    server = serve_in_background([SumModel("only")], enable_model_repository=True)
    try:
        assert server.handle is not None
        with (
            httpx.Client(base_url=server.handle.url, trust_env=False) as http,
            grpc.insecure_channel(server.handle.grpc_target) as channel,
        ):
            stub: Any = pb_grpc.GRPCInferenceServiceStub(channel)
            assert http.get("/v2/health/ready").status_code == 200
            assert http.post("/v2/repository/models/only/unload").status_code == 200
            r = http.get("/v2/health/ready")
            assert (r.status_code, r.json()) == (503, {"ready": False})
            assert not stub.ServerReady(pb.ServerReadyRequest()).ready
            assert http.post("/v2/repository/models/only/load").status_code == 200
            assert http.get("/v2/health/ready").status_code == 200
            assert stub.ServerReady(pb.ServerReadyRequest()).ready
    finally:
        server.stop()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket listening on ``port`` (Linux ``/proc/net/tcp`` and ``tcp6``)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address.removeprefix("0000000000000000FFFF0000"))  # IPv4-mapped IPv6
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_host_binds_http_and_grpc_on_loopback_only(limited_handle: ServerHandle) -> None:
    loopback = "0100007F"  # 127.0.0.1 as /proc/net/tcp writes it
    assert _listening_addresses(limited_handle.http_port) == {loopback}
    assert limited_handle.grpc_port is not None
    assert _listening_addresses(limited_handle.grpc_port) == {loopback}


def test_grpc_message_over_the_limit_is_resource_exhausted() -> None:
    server = serve_in_background([SumModel("sum")], grpc_max_message_length=4096)
    try:
        assert server.handle is not None
        msg = pb.ModelInferRequest(model_name="sum")
        msg.inputs.add(name="x", datatype="FP64", shape=[1, 1024])
        msg.raw_input_contents.append(bytes(8 * 1024))
        with grpc.insecure_channel(server.handle.grpc_target) as channel:
            stub: Any = pb_grpc.GRPCInferenceServiceStub(channel)
            with pytest.raises(grpc.RpcError) as err:
                stub.ModelInfer(msg, timeout=10)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        server.stop()


async def test_read_deadlines_cancel_only_the_late_reads() -> None:
    deadlines = ReadDeadlines(timeout=0.05, resolution=0.01)
    loop = asyncio.get_running_loop()
    never: asyncio.Future[None] = loop.create_future()

    async def read(wait: bool) -> str:
        task: Any = asyncio.current_task()
        deadlines.start(task, loop)
        try:
            if wait:
                await never
            return "read"
        except asyncio.CancelledError:
            if deadlines.finish(task):
                return "timed out"
            raise
        finally:
            deadlines.finish(task)

    assert await asyncio.wait_for(asyncio.gather(read(True), read(False)), 5) == ["timed out", "read"]
    other = asyncio.ensure_future(read(True))
    await asyncio.sleep(0)
    other.cancel()  # a cancellation that is not the deadline's stays a cancellation
    with pytest.raises(asyncio.CancelledError):
        await other
