"""The process layer every component shares: ASGI plumbing, ports, the ready file, private files, logs."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from zeroserve.process.asgi import BodyTooLarge, ClientDisconnected, read_body, respond_json, serve_lifespan
from zeroserve.process.listen import PortInUse, bind_socket, default_http_port
from zeroserve.process.logs import configure_logging, new_request_id_var
from zeroserve.process.private import create_private_file, private_folder, secure_tree
from zeroserve.process.ready import read_ready_file, write_ready_file


def _receiver(messages: list[dict[str, Any]]) -> Callable[[], Awaitable[dict[str, Any]]]:
    queue = list(messages)

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def _chunks(*parts: bytes) -> list[dict[str, Any]]:
    return [
        {"type": "http.request", "body": part, "more_body": index < len(parts) - 1}
        for index, part in enumerate(parts)
    ]


async def test_read_body_joins_chunks_and_stops_at_the_limit() -> None:
    assert await read_body(_receiver(_chunks(b"ab", b"cd", b"e"))) == b"abcde"
    assert await read_body(_receiver(_chunks(b"ab", b"cd")), limit=4) == b"abcd"
    with pytest.raises(BodyTooLarge) as raised:
        await read_body(_receiver(_chunks(b"ab", b"cd", b"e", b"never read")), limit=4)
    assert raised.value.limit == 4 and "4 bytes" in str(raised.value)
    with pytest.raises(BodyTooLarge):
        await read_body(_receiver(_chunks(b"abcde")), limit=4)
    with pytest.raises(ClientDisconnected):
        await read_body(_receiver([*_chunks(b"ab", b"c")[:1], {"type": "http.disconnect"}]))


async def test_lifespan_runs_hooks_and_reports_a_failed_startup() -> None:
    sent: list[dict[str, Any]] = []
    calls: list[str] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    async def startup() -> None:
        calls.append("up")

    async def shutdown() -> None:
        calls.append("down")

    lifecycle = _receiver([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    await serve_lifespan(lifecycle, send, startup=startup, shutdown=shutdown)
    assert calls == ["up", "down"]
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

    async def broken() -> None:
        raise RuntimeError("no model folder")

    sent.clear()
    await serve_lifespan(_receiver([{"type": "lifespan.startup"}]), send, startup=broken)
    assert sent == [{"type": "lifespan.startup.failed", "message": "no model folder"}]


async def test_respond_json_sets_length_and_type() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await respond_json(send, 404, {"error": "no"}, [(b"x-a", b"1")])
    start, body = sent
    assert start["status"] == 404
    assert dict(start["headers"]) == {
        b"content-length": b"14",
        b"content-type": b"application/json",
        b"x-a": b"1",
    }
    assert json.loads(body["body"]) == {"error": "no"}


def test_a_busy_port_names_the_address_and_the_flag() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse) as raised:
            bind_socket("127.0.0.1", port, flag="--gateway-port")
    message = str(raised.value)
    assert message.startswith(f"cannot listen on 127.0.0.1:{port}: ")
    assert message.endswith("choose another port with --gateway-port")
    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.getsockname()[1] > 0
    finally:
        sock.close()


@pytest.mark.parametrize(("env", "port"), [({}, 8080), ({"PORT": ""}, 8080), ({"PORT": "9000"}, 9000)])
def test_default_http_port_follows_knatives_port_variable(env: dict[str, str], port: int) -> None:
    assert default_http_port(env) == port


def test_ready_file_is_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "run" / "ready.json"
    assert read_ready_file(path) is None
    write_ready_file(path, 8080, None)
    assert read_ready_file(path) == {"pid": os.getpid(), "http_port": 8080, "grpc_port": None}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["ready.json"]  # no temporary left


def test_private_folders_and_files(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        nested = private_folder(tmp_path / "a" / "b")
        create_private_file(nested / "db")
        loose = tmp_path / "loose"
        loose.mkdir(mode=0o755)
        (loose / "inner").mkdir(mode=0o755)
        (loose / "inner" / "secret").write_text("x")
        user_named = tmp_path / "mine"
        user_named.mkdir(mode=0o755)
        private_folder(user_named, tighten=False)
        secure_tree(loose)
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert (mode(tmp_path / "a"), mode(nested), mode(nested / "db")) == (0o700, 0o700, 0o600)
    assert (mode(loose), mode(loose / "inner"), mode(loose / "inner" / "secret")) == (0o700, 0o700, 0o600)
    assert mode(user_named) == 0o755


@pytest.mark.parametrize("style", ["json", "plain"])
def test_one_log_format(style: str) -> None:
    stream = io.StringIO()
    request_id = new_request_id_var()
    handler = configure_logging("info", request_id, stream, style=style)  # type: ignore[arg-type]
    try:
        token = request_id.set("req-1")
        logging.getLogger("zeroserve.test").info("hello %s", "there", extra={"port": 1})
        request_id.reset(token)
    finally:
        logging.getLogger().removeHandler(handler)
    line = stream.getvalue().strip()
    if style == "json":
        entry = json.loads(line)
        assert set(entry) == {"ts", "level", "logger", "msg", "request_id", "port"}
        assert (entry["level"], entry["logger"], entry["msg"]) == ("INFO", "zeroserve.test", "hello there")
        assert entry["ts"].endswith("Z") and len(entry["ts"]) == 24
    else:
        assert " INFO    zeroserve.test: hello there " in line and "request_id=req-1" in line
