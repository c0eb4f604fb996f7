"""The engine without an API server: revisions of a stand-in image as real processes behind the gateway."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.waiting import wait_until_async

from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.gateway import REVISION_HEADER
from zeroserve.local.engine.revision import RevisionRuntime, RevisionSpec
from zeroserve.local.engine.routing import RouteEntry

from .conftest import STANDIN_IMAGE, fast_settings, standin_images

pytestmark = pytest.mark.e2e


def _spec(
    name: str, *, image: str = STANDIN_IMAGE, args: list[str] | None = None, **ann: str
) -> RevisionSpec:
    annotations = {f"autoscaling.knative.dev/{k.replace('_', '-')}": v for k, v in ann.items()}
    return RevisionSpec(
        namespace="default",
        name=name,
        service=name.rsplit("-", 1)[0],
        container={"image": image, "args": args or []},
        annotations=annotations,
    )


def _cond(rev: RevisionRuntime, kind: str) -> Any:
    return next(c for c in rev.conditions() if c.type == kind)


async def test_routes_by_host_and_path_prefix(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("hello-00001", min_scale="1"))
    engine.set_routes([RouteEntry("default", "hello", (("hello-00001", 100),))])
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    assert _cond(rev, "Ready").status == "True"
    base = f"http://127.0.0.1:{engine.gateway_port}"
    async with httpx.AsyncClient(base_url=base) as client:
        for host in ("hello.default.example.com", "hello.default.svc.cluster.local", "hello.default"):
            resp = await client.post("/v1/models/m:predict", headers={"Host": host}, content=b"{}")
            assert resp.status_code == 200
            assert resp.headers[REVISION_HEADER] == "hello-00001"
            assert resp.json()["path"] == "/v1/models/m:predict"
        resp = await client.get("/serving/default/hello/v2/health/ready?x=1")
        assert resp.status_code == 200
        assert resp.json()["path"] == "/v2/health/ready"
        env = resp.json()["env"]
        assert env["K_REVISION"] == "hello-00001"
        assert env["HTTP_PROXY"] == base
        missing = await client.get("/", headers={"Host": "nope.default.example.com"})
        assert missing.status_code == 404


async def test_scale_to_zero_and_activator_holds_the_next_request(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("idle-00001"))
    engine.set_routes([RouteEntry("default", "idle", (("idle-00001", 100),))])
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    # stable window 1 s + grace 0.5 s, no traffic: scale to zero
    await wait_until_async(lambda: rev.ready_count == 0 and not rev.instances, 10, interval=0.02, retry_on=())
    assert _cond(rev, "Active").reason == "NoTraffic"
    assert _cond(rev, "Ready").status == "True"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=30) as client:
        started = time.monotonic()
        resp = await client.get("/", headers={"Host": "idle.default.example.com"})
        took = time.monotonic() - started
    assert resp.status_code == 200
    assert took < 10
    assert rev.ready_count == 1


async def test_traffic_split_and_tags(engine: Engine) -> None:
    a = engine.ensure_revision(_spec("split-00001", min_scale="1"))
    b = engine.ensure_revision(_spec("split-00002", min_scale="1"))
    engine.set_routes(
        [
            RouteEntry(
                "default", "split", (("split-00001", 80), ("split-00002", 20)), {"canary": "split-00002"}
            )
        ]
    )
    await wait_until_async(
        lambda: a.ready_count == 1 and b.ready_count == 1, 20.0, interval=0.02, retry_on=()
    )
    counts = {"split-00001": 0, "split-00002": 0}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}") as client:
        for _ in range(500):
            resp = await client.get("/", headers={"Host": "split.default.example.com"})
            counts[resp.headers[REVISION_HEADER]] += 1
        tagged = await client.get("/", headers={"Host": "canary-split.default.example.com"})
    # binomial(500, 0.2): sd ~ 8.9; 4 sd tolerance
    assert abs(counts["split-00002"] - 100) < 36, counts
    assert tagged.headers[REVISION_HEADER] == "split-00002"


async def test_crash_restarts_with_backoff_visible(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("crash-00001", min_scale="1"))
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    first = rev.activator.ready[0]
    first.kill()
    await wait_until_async(
        lambda: _cond(rev, "ContainerHealthy").status == "False", 20.0, interval=0.02, retry_on=()
    )
    cond = _cond(rev, "ContainerHealthy")
    assert "killed by signal 9" in cond.message
    assert "restart 1" in cond.message
    await wait_until_async(
        lambda: rev.ready_count == 1 and rev.activator.ready[0] is not first, 20.0, interval=0.02, retry_on=()
    )


async def test_image_that_cannot_run_fails_the_revision(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("bad-00001", image="quay.io/someone/custom:1"))
    engine.set_routes([RouteEntry("default", "bad", (("bad-00001", 100),))])
    # with a container engine present the image is first looked for (and pulled), so this takes a moment
    await wait_until_async(lambda: _cond(rev, "Ready").status == "False", 20.0, interval=0.02, retry_on=())
    ready = _cond(rev, "Ready")
    assert ready.status == "False"
    assert ready.reason == "ImageNotRunnableLocally"
    assert "cannot run locally" in ready.message
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=5) as client:
        resp = await client.get("/", headers={"Host": "bad.default.example.com"})
    assert resp.status_code == 503  # at once, not after the activator's deadline
    assert "cannot run locally" in resp.text


async def test_failing_server_reports_exit_code_and_log(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("broken-00001", args=["--exit-code", "3"]))
    engine.set_routes([RouteEntry("default", "broken", (("broken-00001", 100),))])
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=60) as client:
        started = time.monotonic()
        resp = await client.get("/", headers={"Host": "broken.default.example.com"})
    # held while it might still start, answered once it is crash-looping (not after the full deadline)
    assert resp.status_code == 503
    assert "keeps failing to start" in resp.text and "model not found" in resp.text
    assert time.monotonic() - started < 25
    ready = _cond(rev, "Ready")
    assert ready.status == "False"
    assert ready.reason == "ExitCode3"
    assert "model not found" in ready.message
    assert _cond(rev, "ContainerHealthy").reason == "CrashLoopBackOff"


async def test_concurrency_scales_out_and_back(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("busy-00001", target="2", target_utilization_percentage="100"))
    engine.set_routes([RouteEntry("default", "busy", (("busy-00001", 100),))])
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{engine.gateway_port}",
        timeout=30,
        limits=httpx.Limits(max_connections=50),
    ) as client:

        async def one() -> int:
            resp = await client.get("/?sleep=0.3", headers={"Host": "busy.default.example.com"})
            return resp.status_code

        deadline = time.monotonic() + 15
        peak = 0
        while time.monotonic() < deadline and peak < 2:
            codes = await asyncio.gather(*(one() for _ in range(12)))
            assert set(codes) == {200}
            peak = max(peak, rev.ready_count)
    assert peak >= 2
    await wait_until_async(lambda: rev.ready_count <= 1, 15, interval=0.02, retry_on=())


async def test_timeout_seconds_answers_504(engine: Engine) -> None:
    spec = _spec("slow-00001", min_scale="1")
    spec = RevisionSpec(**{**spec.__dict__, "timeout_seconds": 0.3})
    rev = engine.ensure_revision(spec)
    engine.set_routes([RouteEntry("default", "slow", (("slow-00001", 100),))])
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}", timeout=10) as client:
        resp = await client.get("/?sleep=2", headers={"Host": "slow.default.example.com"})
    assert resp.status_code == 504
    assert "timeoutSeconds" in resp.text


async def test_instances_reach_cluster_hosts_through_the_gateway_as_http_proxy(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("target-00001", min_scale="1"))
    engine.set_routes([RouteEntry("default", "target", (("target-00001", 100),))])
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    # what httpx in an instance does with HTTP_PROXY set: absolute-form requests to the gateway
    proxy = f"http://127.0.0.1:{engine.gateway_port}"
    async with httpx.AsyncClient(proxy=proxy) as client:
        resp = await client.get("http://target.default.svc.cluster.local/v1/models/x")
    assert resp.status_code == 200
    assert resp.headers[REVISION_HEADER] == "target-00001"
    assert resp.json()["path"] == "/v1/models/x"


async def test_logs_are_kept_per_instance(engine: Engine) -> None:
    from zeroserve.local.engine.logs import log_files

    rev = engine.ensure_revision(_spec("chatty-predictor-00001", min_scale="1"))
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    files = log_files(engine.state_dir, "default", "chatty")
    assert [f.name for f in files] == ["instance-1.log"]
    assert "starting" in files[0].read_text()
    assert log_files(engine.state_dir, "default", "chatty-predictor") == files
    assert log_files(engine.state_dir, "default", "other") == []


async def test_gpus_are_assigned_released_and_never_faked(tmp_path: Path) -> None:
    settings = fast_settings(gpus=["0", "1"])
    eng = Engine(settings, tmp_path, images=standin_images(), resolve_model=Path)
    await eng.start("127.0.0.1", 0)
    try:
        gpu = {"resources": {"limits": {"nvidia.com/gpu": "1"}}}
        one = _spec("gpu-00001")
        one = RevisionSpec(**{**one.__dict__, "container": {**one.container, **gpu}})
        rev = eng.ensure_revision(one)
        eng.set_routes([RouteEntry("default", "gpu", (("gpu-00001", 100),))])
        await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{eng.gateway_port}") as client:
            resp = await client.get("/", headers={"Host": "gpu.default.example.com"})
        assert resp.json()["env"]["CUDA_VISIBLE_DEVICES"] == "0"
        assert eng.ctx.gpus.free == ["1"]

        greedy = _spec("greedy-00001", min_scale="1")
        greedy = RevisionSpec(
            **{
                **greedy.__dict__,
                "container": {**greedy.container, "resources": {"limits": {"nvidia.com/gpu": 2}}},
            }
        )
        big = eng.ensure_revision(greedy)
        await wait_until_async(
            lambda: _cond(big, "Ready").status == "False", 20.0, interval=0.02, retry_on=()
        )
        assert _cond(big, "Ready").reason == "InsufficientGPU"
        assert "needs 2 nvidia.com/gpu but 1 of 2" in _cond(big, "Ready").message
        await eng.remove_revision("default", "greedy-00001")

        # scale to zero gives the device back
        await wait_until_async(lambda: not rev.instances, 10, interval=0.02, retry_on=())
        assert eng.ctx.gpus.free == ["0", "1"]
    finally:
        await eng.stop()


async def test_a_dead_zygote_is_replaced_by_a_fresh_one(tmp_path: Path) -> None:
    import os
    import signal

    eng = Engine(fast_settings(use_zygote=True, zygote_preload=["json"]), tmp_path, resolve_model=Path)
    await eng.start("127.0.0.1", 0)
    try:
        await eng.wait_warm()
        first = eng.ctx.zygote
        assert first is not None and first.alive
        assert first._proc is not None
        os.kill(first._proc.pid, signal.SIGKILL)
        await wait_until_async(
            lambda: eng.ctx.zygote is not None and eng.ctx.zygote is not first, 10, interval=0.02, retry_on=()
        )
        assert eng.ctx.zygote is not None and eng.ctx.zygote.alive
    finally:
        await eng.stop()


async def test_gateway_serves_health_and_metrics(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("counted-00001", min_scale="1"))
    engine.set_routes([RouteEntry("default", "counted", (("counted-00001", 100),))])
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}") as client:
        for _ in range(3):
            await client.get("/", headers={"Host": "counted.default.example.com"})
        health = await client.get("/healthz")
        metrics = await client.get("/metrics")
    assert health.status_code == 200
    text = metrics.text
    assert (
        'zeroserve_engine_requests_total{code="200",namespace="default",revision="counted-00001"} 3.0' in text
    )
    assert (
        'zeroserve_engine_instances{namespace="default",revision="counted-00001",state="ready"} 1.0' in text
    )
    assert "zeroserve_engine_activator_pending" in text


async def test_zero_initial_scale_is_ready_without_an_instance(tmp_path: Path) -> None:
    eng = Engine(
        fast_settings(allow_zero_initial_scale=True), tmp_path, images=standin_images(), resolve_model=Path
    )
    await eng.start("127.0.0.1", 0)
    try:
        rev = eng.ensure_revision(_spec("lazy-00001", initial_scale="0"))
        eng.set_routes([RouteEntry("default", "lazy", (("lazy-00001", 100),))])
        assert _cond(rev, "Ready").status == "True"
        assert _cond(rev, "Active").reason == "NoTraffic"
        assert not rev.instances
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{eng.gateway_port}", timeout=30) as client:
            resp = await client.get("/", headers={"Host": "lazy.default.example.com"})
        assert resp.status_code == 200
        assert _cond(rev, "Active").status == "True"
    finally:
        await eng.stop()


async def test_hpa_class_revision_measures_its_instances(engine: Engine) -> None:
    rev = engine.ensure_revision(
        _spec("hpa-00001", **{"class": "hpa.autoscaling.knative.dev", "metric": "memory", "target": "100000"})
    )
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    await wait_until_async(
        lambda: any(s.memory > 1 for s in rev.activator.traffic.samples), 20.0, interval=0.02, retry_on=()
    )
    assert rev.autoscaling is not None and rev.autoscaling.klass == "hpa"
    assert _cond(rev, "Ready").status == "True"


async def test_the_gateway_is_no_proxy_for_outside_hosts_by_default(engine: Engine) -> None:
    async def outside(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        path = head.split(b" ")[1]
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(path), path))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(outside, "127.0.0.2", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(proxy=f"http://127.0.0.1:{engine.gateway_port}") as client:
            resp = await client.get(f"http://127.0.0.2:{port}/outside?q=1")
            cluster = await client.get("http://unknown.default/")
        assert resp.status_code == 404
        assert "no route for host" in resp.json()["error"]
        assert cluster.status_code == 404
    finally:
        server.close()
        await server.wait_closed()


async def test_ready_only_once_the_initial_scale_is_reached(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("wide-00001", initial_scale="3", min_scale="3"))
    seen_ready_below_three = False

    def check() -> bool:
        nonlocal seen_ready_below_three
        if rev.ready_count < 3 and _cond(rev, "Ready").status == "True":
            seen_ready_below_three = True
        return rev.ready_count == 3

    await wait_until_async(check, 20.0, interval=0.02, retry_on=())
    assert not seen_ready_below_three
    assert _cond(rev, "Ready").status == "True"


async def test_busy_gateway_port_says_how_to_fix_it(engine: Engine, tmp_path: Path) -> None:
    other = Engine(fast_settings(), tmp_path / "other", resolve_model=Path)
    with pytest.raises(OSError, match="--gateway-port"):
        await other.start("127.0.0.1", engine.gateway_port)
    await other.stop()


async def test_chunked_responses_stream_through_the_gateway(engine: Engine) -> None:
    rev = engine.ensure_revision(_spec("streamer-00001", min_scale="1"))
    engine.set_routes([RouteEntry("default", "streamer", (("streamer-00001", 100),))])
    await wait_until_async(lambda: rev.ready_count == 1, 20.0, interval=0.02, retry_on=())
    base = f"http://127.0.0.1:{engine.gateway_port}"
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        started = time.monotonic()
        arrivals: list[tuple[float, bytes]] = []
        async with client.stream(
            "GET", "/?stream=3&gap=0.4", headers={"Host": "streamer.default.example.com"}
        ) as r:
            assert r.headers[REVISION_HEADER] == "streamer-00001"
            async for chunk in r.aiter_raw():
                arrivals.append((time.monotonic() - started, chunk))
        assert b"".join(c for _, c in arrivals) == b"chunk0;chunk1;chunk2;"
        assert arrivals[0][0] < 0.6  # the first chunk arrives before the last one is even produced
        # the connection went back to the pool: the next plain request works
        again = await client.get("/", headers={"Host": "streamer.default.example.com"})
        assert again.status_code == 200
    assert rev.activator.ready[0].in_flight == 0
