"""Payload-logger benchmark: model-server throughput with logging off / on, and memory with a dead sink.

Runs ``zeroserve serve sklearn`` (iris) three times as a process:

1. ``off``:  no ``--log-url``;
2. ``on``:   ``--log-url`` to a fast CloudEvents sink process (counts what it receives);
3. ``down``: ``--log-url`` to a closed port (the subscriber is down), watching the server's RSS.

Each phase drives the V1 predict endpoint with a keep-alive HTTP/1.1 load generator (raw asyncio
streams, so the client costs little CPU) for ``--duration`` seconds at ``--concurrency``
connections, after a short warm-up, and prints one JSON document with the numbers.

    .venv/bin/python hack/bench/logger/bench_logger.py --duration 10 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BODY = json.dumps({"instances": [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]]}).encode()


# ---- a fast CloudEvents sink (run as a separate process with --sink) ---------------------------


async def _sink_main(ready_file: Path) -> None:
    received = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal received
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length:\s*(\d+)", head)
                if match:
                    await reader.readexactly(int(match.group(1)))
                if head.startswith(b"GET /count"):
                    body = str(received).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    received += 1
                    writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await asyncio.to_thread(ready_file.write_text, json.dumps({"http_port": port}))
    async with server:
        await server.serve_forever()


# ---- load generator ---------------------------------------------------------------------------------


async def _drive(port: int, duration: float, concurrency: int) -> tuple[int, list[float]]:
    request = (
        b"POST /v1/models/iris:predict HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n%s" % (len(BODY), BODY)
    )
    deadline = time.perf_counter() + duration
    latencies: list[float] = []
    done = 0

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                match = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(match.group(1)) if match else 0)
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(f"unexpected answer: {head[:60]!r}")
                latencies.append(time.perf_counter() - started)
                done += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done, latencies


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def _phase(name: str, model_dir: Path, log_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    from zeroserve.servers.testing import serve_in_subprocess

    flags = ["sklearn", "--model-name", "iris", "--model-dir", str(model_dir), "--grpc-port", "-1"]
    if log_url:
        flags += ["--log-url", log_url, "--inference-service", "iris", "--namespace", "bench"]
    with serve_in_subprocess(flags, env={"NO_PROXY": "*"}) as served:
        port, pid = served.http_port, served.process.pid
        await _drive(port, args.warmup, args.concurrency)
        rss_before = _rss_kib(pid)
        samples: list[int] = []

        async def sample() -> None:
            while True:
                samples.append(_rss_kib(pid))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        cpu_before = _cpu_seconds(pid)
        started = time.perf_counter()
        done, latencies = await _drive(port, args.duration, args.concurrency)
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(pid) - cpu_before
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
    latencies.sort()
    return {
        "phase": name,
        "requests": done,
        "rps": round(done / elapsed, 1),
        "server_cpu_ms_per_request": round(cpu * 1000 / max(done, 1), 4),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "rss_before_mib": round(rss_before / 1024, 1),
        "rss_max_mib": round(max(samples, default=rss_before) / 1024, 1),
        "rss_end_mib": round((samples[-1] if samples else rss_before) / 1024, 1),
        "logger_queued": _metric(metrics, "zeroserve_logger_events_queued_total"),
        "logger_sent": _metric(metrics, "zeroserve_logger_events_sent_total"),
        "logger_dropped": _metric(metrics, "zeroserve_logger_events_dropped_total"),
        "logger_queue_depth": _metric(metrics, "zeroserve_logger_queue_depth"),
    }


def _get(url: str) -> str:
    import httpx

    return httpx.get(url, timeout=10, trust_env=False).text


async def _main(args: argparse.Namespace, model_dir: Path, sink_url: str) -> dict[str, Any]:
    phases = []
    for _ in range(args.rounds):  # alternate, so a noisy neighbour hits both sides
        phases.append(await _phase("off", model_dir, None, args))
        phases.append(await _phase("on", model_dir, sink_url, args))
    sink_received = int(await asyncio.to_thread(_get, f"{sink_url}/count"))
    phases.append(await _phase("down", model_dir, "http://127.0.0.1:9/", args))
    off = [p["rps"] for p in phases if p["phase"] == "off"]
    on = [p["rps"] for p in phases if p["phase"] == "on"]
    down = phases[-1]
    cpu_off = [p["server_cpu_ms_per_request"] for p in phases if p["phase"] == "off"]
    cpu_on = [p["server_cpu_ms_per_request"] for p in phases if p["phase"] == "on"]
    return {
        "machine": f"{os.cpu_count()} CPUs (shared)",
        "cpu_ratio_off_vs_on": round(sum(cpu_off) / sum(cpu_on), 3),
        "cpu_ratio_off_vs_down": round((sum(cpu_off) / len(cpu_off)) / down["server_cpu_ms_per_request"], 3),
        "duration_s": args.duration,
        "concurrency": args.concurrency,
        "phases": phases,
        "throughput_ratio_on_vs_off": round(sum(on) / sum(off), 3),
        "throughput_ratio_down_vs_off": round(down["rps"] / (sum(off) / len(off)), 3),
        "sink_received_all_on_phases": sink_received,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="alternating off/on rounds")
    parser.add_argument("--sink", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink is not None:
        asyncio.run(_sink_main(args.sink))
        return 0
    from zeroserve.servers.testing import train_iris_sklearn

    with tempfile.TemporaryDirectory(prefix="bench-logger-") as tmp:
        model_dir = train_iris_sklearn(Path(tmp) / "model")
        ready = Path(tmp) / "sink.json"
        sink = subprocess.Popen([sys.executable, __file__, "--sink", str(ready)])
        try:
            while not ready.exists():
                time.sleep(0.05)
            sink_url = f"http://127.0.0.1:{json.loads(ready.read_text())['http_port']}"
            print(json.dumps(asyncio.run(_main(args, model_dir, sink_url)), indent=2))
        finally:
            sink.terminate()
            sink.wait(10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
