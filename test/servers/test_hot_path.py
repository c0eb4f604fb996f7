"""The per-request cuts: one write per response, request ids without a system call, sklearn's checks."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import numpy as np
import pytest

from zeroserve.servers import ServerHandle
from zeroserve.servers.rest.one_write import _HeadHoldingTransport
from zeroserve.servers.runtimes.sklearn import _validated
from zeroserve.servers.types import new_request_id


class _Recorder:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed


async def test_a_response_head_waits_for_its_body_and_leaves_in_one_write() -> None:
    raw = _Recorder()
    transport: Any = _HeadHoldingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert raw.writes == []
    transport.write(b"{}")
    assert raw.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # the client waits for it: never held
    assert raw.writes[-1] == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert transport.is_closing() is False  # everything else is the real transport's
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n")  # a HEAD answer: no body follows
    await asyncio.sleep(0)
    assert raw.writes[-1] == b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n"


async def test_close_flushes_a_held_head_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    raw = _Recorder()
    transport: Any = _HeadHoldingTransport(raw, loop)  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    transport.close()
    assert raw.writes == [b"HTTP/1.1 204 No Content\r\n\r\n"] and raw.closed
    raw2 = _Recorder()
    transport = _HeadHoldingTransport(raw2, loop)  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.abort()
    assert raw2.writes == [] and raw2.aborted


def test_the_server_answers_get_head_and_errors_whole(handle: ServerHandle) -> None:
    with socket.create_connection(("127.0.0.1", handle.http_port), timeout=10) as sock:
        for request in (b"GET /v2/health/live", b"HEAD /v2/health/live", b"GET /nope"):
            sock.sendall(request + b" HTTP/1.1\r\nhost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(4096)
            head, _, body = data.partition(b"\r\n\r\n")
            fields = dict(h.partition(b": ")[::2] for h in head.split(b"\r\n")[1:])
            length = int(fields[b"content-length"])
            if not request.startswith(b"HEAD"):
                while len(body) < length:
                    body += sock.recv(4096)
                assert len(body) == length
            else:
                assert body == b""
            assert head.startswith(b"HTTP/1.1 200" if b"nope" not in request else b"HTTP/1.1 404")


def test_request_ids_have_uuid4s_form_and_do_not_repeat() -> None:
    ids = {new_request_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    for rid in list(ids)[:100]:
        parsed = uuid.UUID(hex=rid)
        assert parsed.version == 4 and parsed.hex == rid


@pytest.mark.parametrize(
    ("matrix", "fast"),
    [
        (np.ones((2, 4), dtype=np.float32), True),
        (np.ones((2, 4), dtype=np.int64), True),
        (np.array([[1.0, np.nan]]), False),  # scikit-learn's own check answers (400 naming NaN)
        (np.array([[1.0, np.inf]]), False),
        (np.array([["a", "b"]]), False),
        ([[1.0, 2.0]], False),
    ],
)
def test_sklearn_skips_its_checks_only_for_finite_numeric_arrays(matrix: Any, fast: bool) -> None:
    assert _validated(matrix) is fast
