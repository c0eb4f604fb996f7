"""Router overhead: a 2-step Sequence through ``zeroserve router`` vs. calling the two steps directly.

Starts two tiny step services (uvicorn + httptools, each in its own process) and the router
(``python -m zeroserve router``, a 2-step Sequence with ``data: $response``), then times, one request at
a time on one keep-alive ``aiohttp`` client:

- direct: POST step 1, then POST step 1's answer to step 2 (what the router does, minus the router);
- router: POST the same input to the router.

Rounds alternate between the two so that load from other processes hits both alike. Prints p50 / p90 /
p99 and the p50 difference (the acceptance bar: <= 1 ms), then the throughput of each with
``--concurrency`` requests in flight.

Usage: ``.venv/bin/python hack/bench/router/bench.py [--requests 2000] [--warmup 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

PAYLOAD = {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}


async def step_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A stand-in model: answers ``{"predictions": [...]}`` for any JSON input."""
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    rows = json.loads(body or b"{}").get("instances") or [0]
    answer = json.dumps({"predictions": [1] * len(rows)}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


def serve_step(port_file: str) -> None:
    """Run :func:`step_app` on a free port and write the port to ``port_file``."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    Path(port_file).write_text(str(sock.getsockname()[1]))
    config = uvicorn.Config(step_app, http="httptools", lifespan="off", log_level="warning", loop="uvloop")
    uvicorn.Server(config).run(sockets=[sock])


def wait_for(path: Path, proc: subprocess.Popen[bytes], timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while not path.exists() or not path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"process {proc.args} did not start")
        time.sleep(0.05)
    return path.read_text()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1] if q < 100 else max(samples)


async def measure(
    step1: str, step2: str, router: str, requests: int, warmup: int, concurrency: int
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Latencies (ms) one request at a time, then throughput (requests/s) with ``concurrency`` in flight."""
    body = json.dumps(PAYLOAD).encode()
    headers = {"content-type": "application/json"}
    results: dict[str, list[float]] = {"direct": [], "router": []}
    throughput: dict[str, float] = {}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=None)
    ) as client:

        async def post(url: str, data: bytes) -> bytes:
            async with client.post(url, data=data, headers=headers) as response:
                assert response.status == 200, await response.text()
                return await response.read()

        async def direct() -> None:
            await post(step2, await post(step1, body))

        async def routed() -> None:
            await post(router, body)

        calls = {"direct": direct, "router": routed}
        for _ in range(warmup):
            await direct()
            await routed()
        for i in range(requests):
            for name in ("direct", "router") if i % 2 == 0 else ("router", "direct"):
                started = time.perf_counter()
                await calls[name]()
                results[name].append((time.perf_counter() - started) * 1000)
        for name, call in calls.items():
            gate = asyncio.Semaphore(concurrency)

            async def gated(call: Any = call, gate: asyncio.Semaphore = gate) -> None:
                async with gate:
                    await call()

            started = time.perf_counter()
            await asyncio.gather(*(gated() for _ in range(requests)))
            throughput[name] = requests / (time.perf_counter() - started)
    return results, throughput


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight for the throughput run"
    )
    parser.add_argument(
        "--http-client", default="aiohttp", choices=["aiohttp", "httpx"], help="router's step client"
    )
    parser.add_argument("--profile-router", type=Path, help="write the router's cProfile stats to this file")
    parser.add_argument("--serve-step", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_step:
        serve_step(args.serve_step)
        return 0
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            urls = []
            for i in (1, 2):
                port_file = Path(tmp) / f"step{i}"
                proc = subprocess.Popen([sys.executable, __file__, "--serve-step", str(port_file)], env=env)
                procs.append(proc)
                urls.append(f"http://127.0.0.1:{wait_for(port_file, proc)}/v1/models/m{i}:predict")
            graph = {
                "nodes": {
                    "root": {
                        "routerType": "Sequence",
                        "steps": [
                            {"name": "m1", "serviceUrl": urls[0]},
                            {"name": "m2", "serviceUrl": urls[1], "data": "$response"},
                        ],
                    }
                }
            }
            ready = Path(tmp) / "router-ready.json"
            profile = ["-m", "cProfile", "-o", str(args.profile_router)] if args.profile_router else []
            cmd = [sys.executable, *profile, "-m", "zeroserve", "router", "--graph-json", json.dumps(graph)]
            cmd += ["--http-port", "0", "--ready-file", str(ready), "--log-level", "warning"]
            cmd += ["--http-client", args.http_client]
            proc = subprocess.Popen(cmd, env=env)
            procs.append(proc)
            port = json.loads(wait_for(ready, proc))["http_port"]
            cpu_before = cpu_seconds(proc.pid)
            results, throughput = uvloop.run(
                measure(
                    urls[0],
                    urls[1],
                    f"http://127.0.0.1:{port}/",
                    args.requests,
                    args.warmup,
                    args.concurrency,
                )
            )
            router_cpu_ms = (cpu_seconds(proc.pid) - cpu_before) * 1000 / (args.warmup + 2 * args.requests)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(10)
    p50 = {name: statistics.median(samples) for name, samples in results.items()}
    print(
        f"cpus={os.cpu_count()} requests={args.requests} warmup={args.warmup} payload={json.dumps(PAYLOAD)}"
    )
    print(f"{'':8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
    for name, samples in results.items():
        row = [p50[name], percentile(samples, 90), percentile(samples, 99)]
        print(f"{name:8} " + " ".join(f"{v:8.3f}" for v in row))
    added = p50["router"] - p50["direct"]
    print(f"router process CPU per routed request: {router_cpu_ms:.3f} ms (step client: {args.http_client})")
    for name, rps in throughput.items():
        print(f"{name:8} {rps:8.0f} requests/s with {args.concurrency} in flight")
    ratio = p50["router"] / p50["direct"]
    print(f"router adds {added:.3f} ms at p50 (ratio router/direct {ratio:.2f}); bar <= 1 ms")
    return 0 if added <= 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
