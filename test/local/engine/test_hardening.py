"""What the engine refuses and keeps private: loopback-only instances, no open proxy, no repository API
from outside, bounded streamed bodies, private state files, the platform's state folder for every
instance. Real engines, real instances, real HTTP."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from support.waiting import wait_until_async

from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.revision import RevisionSpec
from zeroserve.local.engine.routing import RouteEntry

from .conftest import STANDIN_IMAGE, fast_settings, standin_images

pytestmark = pytest.mark.e2e


def _spec(
    name: str, *, image: str = STANDIN_IMAGE, args: list[str] | None = None, **kw: object
) -> RevisionSpec:
    return RevisionSpec(
        namespace="default",
        name=name,
        service=name.rsplit("-", 1)[0],
        container={"image": image, "args": args or []},
        annotations={"autoscaling.knative.dev/min-scale": "1"},
        **kw,  # type: ignore[arg-type]
    )


async def _serve(engine: Engine, name: str, **kw: object) -> None:
    rev = engine.ensure_revision(_spec(f"{name}-00001", **kw))
    engine.set_routes(
        [*engine.gateway.table.routes.values(), RouteEntry("default", name, ((f"{name}-00001", 100),))]
    )
    await wait_until_async(lambda: rev.ready_count == 1, 30.0, interval=0.02, retry_on=())


@pytest.fixture
async def outside() -> AsyncIterator[str]:
    """An HTTP server outside the platform (127.0.0.2, not in the instances' NO_PROXY)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ")[1]
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(path), path))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.2", 0)
    try:
        yield f"http://127.0.0.2:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def egress_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    eng = Engine(
        fast_settings(egress=True), tmp_path, images=standin_images(), resolve_model=lambda uri: Path(uri)
    )
    await eng.start("127.0.0.1", 0)
    try:
        yield eng
    finally:
        await eng.stop()


async def test_egress_when_enabled_serves_only_the_platforms_instances(
    egress_engine: Engine, outside: str
) -> None:
    await _serve(egress_engine, "caller")
    base = f"http://127.0.0.1:{egress_engine.gateway_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        # an instance (HTTP_PROXY with the platform's credentials) reaches the outside host
        via_instance = await client.get(
            f"/?fetch={quote(outside + '/outside?q=1', safe='')}", headers={"Host": "caller.default"}
        )
        assert via_instance.json() == {"status": 200, "text": "/outside?q=1"}
    # anyone else using the gateway as a proxy does not
    async with httpx.AsyncClient(proxy=base, timeout=10) as stranger:
        refused = await stranger.get(f"{outside}/outside")
    assert refused.status_code == 404
    assert "no route for host" in refused.json()["error"]


async def test_no_egress_by_default_even_for_instances(engine: Engine, outside: str) -> None:
    await _serve(engine, "caller")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=10) as client:
        resp = await client.get(
            f"/?fetch={quote(outside + '/x', safe='')}", headers={"Host": "caller.default"}
        )
    assert resp.json()["status"] == 404


async def test_the_repository_api_is_not_routed(engine: Engine) -> None:
    await _serve(engine, "repo")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=10) as client:
        for path, host in (
            ("/v2/repository/index", "repo.default.example.com"),
            ("/v2/repository/models/m/unload", "repo.default"),
            ("/serving/default/repo/v2/repository/index", "localhost"),
            ("/v2/%72epository/index", "repo.default"),
        ):
            resp = await client.post(path, headers={"Host": host})
            assert resp.status_code == 404, path
            assert "model repository API" in resp.json()["error"]
        # httpx would read "//v2" as a host: say it on a socket
        reader, writer = await asyncio.open_connection("127.0.0.1", engine.gateway_port)
        writer.write(
            b"POST //v2//repository/index HTTP/1.1\r\nHost: repo.default\r\ncontent-length: 0\r\n\r\n"
        )
        status = await reader.readline()
        writer.close()
        assert status.split()[1] == b"404"
        fine = await client.get("/v2/models/m/ready", headers={"Host": "repo.default"})
    assert fine.status_code == 200


@pytest.fixture
async def small_body_engine(tmp_path: Path) -> AsyncIterator[Engine]:
    eng = Engine(
        fast_settings(max_request_body_bytes=100_000),
        tmp_path,
        images=standin_images(),
        resolve_model=lambda uri: Path(uri),
    )
    await eng.start("127.0.0.1", 0)
    try:
        yield eng
    finally:
        await eng.stop()


async def test_bodies_are_streamed_to_the_instance_and_bounded(small_body_engine: Engine) -> None:
    engine = small_body_engine
    await _serve(engine, "upload")
    sent_last_at = 0.0

    async def slow_body(pieces: int, size: int) -> AsyncIterator[bytes]:
        nonlocal sent_last_at
        for index in range(pieces):
            if index:
                await asyncio.sleep(0.3)
            sent_last_at = time.monotonic()
            yield b"x" * size

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=20) as client:
        headers = {"Host": "upload.default"}
        # chunked, under the limit: arrives whole, its first piece before the client sent the last
        resp = await client.post("/", content=slow_body(3, 20_000), headers=headers)
        assert resp.status_code == 200
        seen = resp.json()
        assert seen["body_len"] == 60_000
        assert seen["first_body_at"] < sent_last_at
        # a length over the limit: refused before reading it
        big = await client.post("/", content=b"y" * 150_000, headers=headers)
        assert big.status_code == 413
        assert "100000 bytes" in big.json()["error"]
        # chunked, passing the limit on the way
        passing = await client.post("/", content=slow_body(8, 20_000), headers=headers)
        assert passing.status_code == 413
        # the next request is served as usual
        after = await client.post("/", content=b"{}", headers=headers)
        assert after.status_code == 200 and after.json()["body"] == "{}"


async def test_instances_get_the_state_folder_and_it_stays_private(engine: Engine, tmp_path: Path) -> None:
    await _serve(engine, "home")
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=10) as client:
        env = (await client.get("/", headers={"Host": "home.default"})).json()["env"]
    assert env["ZEROSERVE_HOME"] == str(tmp_path)
    assert env["ZEROSERVE_HOST"] == "127.0.0.1"
    root = tmp_path / "engine"
    checked = 0
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path}: {oct(mode)}"
        checked += 1
    assert checked >= 4  # engine/, logs/, its folders and an instance log


def _listening(pid: int) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


async def test_our_servers_listen_on_loopback_only(engine: Engine, tmp_path: Path) -> None:
    joblib = pytest.importorskip("joblib")
    datasets = pytest.importorskip("sklearn.datasets")
    linear = pytest.importorskip("sklearn.linear_model")
    model_dir = tmp_path / "iris"
    model_dir.mkdir()
    x, y = datasets.load_iris(return_X_y=True)
    joblib.dump(linear.LogisticRegression(max_iter=500).fit(x, y), model_dir / "model.joblib")
    spec = _spec(
        "iris-00001",
        image="kserve/sklearnserver:v0.14.0",
        args=["--model_name=iris", "--model_dir=/mnt/models", "--host=0.0.0.0"],
        storage_uri=str(model_dir),
    )
    rev = engine.ensure_revision(spec)
    await wait_until_async(lambda: rev.ready_count == 1, 60, interval=0.02, retry_on=())
    pid = rev.activator.ready[0].pid
    assert pid is not None
    addresses = _listening(pid)
    assert len(addresses) >= 2, addresses  # HTTP and gRPC
    loopback = ("127.0.0.1", "[::1]", "[::ffff:127.0.0.1]")
    assert all(a.rsplit(":", 1)[0] in loopback for a in addresses), addresses
    ready = json.loads(next((tmp_path / "engine" / "run").glob("*.ready")).read_text())
    assert ready["grpc_port"] > 0


async def test_a_missing_model_reads_as_one_line_naming_the_storage_uri(
    engine: Engine, tmp_path: Path
) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    spec = _spec(
        "nomodel-00001",
        image="kserve/sklearnserver:v0.14.0",
        args=["--model_name=nomodel", "--model_dir=/mnt/models"],
        storage_uri=str(empty),
    )
    rev = engine.ensure_revision(spec)
    await wait_until_async(
        lambda: next(c for c in rev.conditions() if c.type == "Ready").status == "False",
        60,
        interval=0.02,
        retry_on=(),
    )
    ready = next(c for c in rev.conditions() if c.type == "Ready")
    message = ready.message or ""
    assert "\n" not in message and "Traceback" not in message, message
    assert "no model file (*.joblib, *.pkl, *.pickle)" in message, message
    assert f"storageUri {empty}" in message, message
    assert "zeroserve logs nomodel" in message, message
