"""Payload-logger benchmark: model-server throughput with logging off / on, and memory with a dead sink.

Runs ``zeroserve serve sklearn`` (iris) three times as a process:

1. ``off``:  no ``--log-url``;
2. ``on``:   ``--log-url`` to a fast CloudEvents sink process (counts what it receives);
3. ``down``: ``--log-url`` to a closed port (the subscriber is down), watching the server's RSS.

``--outage SECONDS`` runs issue #16's scenario instead: ``--rate`` requests per second (40) while
the sink is down for SECONDS, then the sink comes up on its address, the load goes on for
``--after`` seconds, and the server's counters say how many events were queued, sent and dropped
(by reason) once its queue has drained.

Each phase drives the V1 predict endpoint for ``--duration`` seconds at ``--concurrency`` keep-alive
connections, after a short warm-up, and prints one JSON document with the numbers. The load
generator is Debian's ``wrk`` (one thread) when it is installed, else a Python one on raw asyncio
streams, which costs the shared machine more CPU. The sink answers each batch of pipelined
events with one write, so it takes little of the CPU the server and the load generator share.

    .venv/bin/python hack/bench/logger/bench_logger.py --duration 10 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BODY = json.dumps({"instances": [[6.8, 2.8, 4.8, 1.4], [5.1, 3.5, 1.4, 0.2]]}).encode()


# ---- a fast CloudEvents sink (run as a separate process with --sink) ---------------------------


_LENGTH = re.compile(rb"(?i)\r\ncontent-length:\s*(\d+)")
_ACCEPTED = b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"


class _Sink(asyncio.Protocol):
    """Counts the requests of each connection and answers every complete one, all in one write."""

    received = 0

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        position = 0
        answers = []
        while True:
            head_end = buffer.find(b"\r\n\r\n", position)
            if head_end < 0:
                break
            length = _LENGTH.search(buffer, position, head_end + 2)
            end = head_end + 4 + (int(length.group(1)) if length else 0)
            if end > len(buffer):
                break
            if buffer.startswith(b"GET /count", position):
                body = str(_Sink.received).encode()
                answers.append(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
            else:
                _Sink.received += 1
                answers.append(_ACCEPTED)
            position = end
        del buffer[:position]
        if answers and self._transport is not None:
            self._transport.write(b"".join(answers))


async def _sink_main(ready_file: Path, port: int = 0) -> None:
    server = await asyncio.get_running_loop().create_server(_Sink, "127.0.0.1", port)
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


def _wrk_time_ms(text: str) -> float:
    """A wrk latency such as ``812.00us`` or ``3.21ms`` in milliseconds."""
    number = re.match(r"[\d.]+", text)
    assert number is not None, text
    unit = text[number.end() :]
    return float(number.group(0)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def _wrk(port: int, duration: float, concurrency: int) -> tuple[int, float, float]:
    """Run wrk (one thread) against the predict endpoint: requests done, p50 and p99 in ms."""
    with tempfile.TemporaryDirectory(prefix="bench-logger-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        script.write_text(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{BODY.decode()}]==]\n"
        )
        url = f"http://127.0.0.1:{port}/v1/models/iris:predict"
        seconds = f"-d{max(1, round(duration))}s"
        command = ["wrk", "-t1", f"-c{concurrency}", seconds, "--latency", "-s", str(script), url]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    done = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise RuntimeError(f"unexpected answers: {out}")
    p50 = _wrk_time_ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _wrk_time_ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    return done, p50, p99


async def _load(port: int, duration: float, concurrency: int) -> tuple[int, float, float]:
    """Drive the server for ``duration`` seconds: requests done, p50 and p99 latency in ms."""
    if shutil.which("wrk"):
        return await asyncio.to_thread(_wrk, port, duration, concurrency)
    done, latencies = await _drive(port, duration, concurrency)
    latencies.sort()
    return done, latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000


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
        await _load(port, args.warmup, args.concurrency)
        rss_before = _rss_kib(pid)
        samples: list[int] = []

        async def sample() -> None:
            while True:
                samples.append(_rss_kib(pid))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        cpu_before = _cpu_seconds(pid)
        sink_before = _cpu_seconds(args.sink_pid)
        started = time.perf_counter()
        done, p50, p99 = await _load(port, args.duration, args.concurrency)
        elapsed = time.perf_counter() - started
        cpu = _cpu_seconds(pid) - cpu_before
        sink_cpu = _cpu_seconds(args.sink_pid) - sink_before
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        metrics = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
    return {
        "phase": name,
        "requests": done,
        "rps": round(done / elapsed, 1),
        "server_cpu_ms_per_request": round(cpu * 1000 / max(done, 1), 4),
        "sink_cpu_ms_per_request": round(sink_cpu * 1000 / max(done, 1), 4),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
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


def _wait_for_file(path: Path, deadline_s: float = 30.0) -> None:
    deadline = time.perf_counter() + deadline_s
    while not path.exists():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{path} never appeared")
        time.sleep(0.05)


def _labelled(text: str, name: str) -> dict[str, float]:
    """``{label value: sample}`` of a counter with one label."""
    found: dict[str, float] = {}
    for match in re.finditer(rf'(?m)^{name}{{[a-z]+="([^"]*)"}} (\S+)$', text):
        found[match.group(1)] = float(match.group(2))
    return found


async def _outage(model_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Issue #16: ``args.rate`` req/s with the sink down for ``args.outage`` s, then up again."""
    import httpx

    from zeroserve.servers.testing import serve_in_subprocess

    with contextlib.closing(__import__("socket").socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        sink_port = probe.getsockname()[1]  # free now; nobody listens there until the sink starts
    log_url = f"http://127.0.0.1:{sink_port}/"
    flags = ["sklearn", "--model-name", "iris", "--model-dir", str(model_dir), "--grpc-port", "-1"]
    flags += ["--log-url", log_url, "--inference-service", "iris", "--namespace", "bench"]
    sink: asyncio.subprocess.Process | None = None
    with (
        tempfile.TemporaryDirectory(prefix="bench-logger-outage-") as tmp,
        serve_in_subprocess(flags, env={"NO_PROXY": "*"}) as served,
    ):
        base = f"http://127.0.0.1:{served.http_port}"
        requests = 0
        async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=10) as client:

            async def paced(seconds: float) -> None:
                nonlocal requests
                loop = asyncio.get_running_loop()
                start = loop.time()
                for n in range(int(seconds * args.rate)):
                    await asyncio.sleep(max(0.0, start + n / args.rate - loop.time()))
                    response = await client.post("/v1/models/iris:predict", content=BODY)
                    assert response.status_code == 200, response.text
                    requests += 1

            await paced(args.outage)
            during = await asyncio.to_thread(_get, f"{base}/metrics")
            ready = Path(tmp) / "sink.json"
            sink = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--sink", str(ready), "--sink-port", str(sink_port)
            )
            await asyncio.to_thread(_wait_for_file, ready)
            up = time.perf_counter()
            await paced(args.after)
            deadline = time.perf_counter() + 120
            while True:
                metrics = await asyncio.to_thread(_get, f"{base}/metrics")
                queued = _metric(metrics, "zeroserve_logger_events_queued_total")
                finished = _metric(metrics, "zeroserve_logger_events_sent_total") + _metric(
                    metrics, "zeroserve_logger_events_dropped_total"
                )
                if finished >= queued or time.perf_counter() > deadline:
                    break
                await asyncio.sleep(0.2)
            drained_s = time.perf_counter() - up
        received = int(await asyncio.to_thread(_get, f"http://127.0.0.1:{sink_port}/count"))
    if sink is not None:
        sink.terminate()
        await sink.wait()
    return {
        "scenario": f"{args.rate} req/s, sink down {args.outage} s then up, {args.after} s more",
        "requests": requests,
        "events_queued": queued,
        "events_sent": _metric(metrics, "zeroserve_logger_events_sent_total"),
        "events_retried": _metric(metrics, "zeroserve_logger_events_retried_total"),
        "dropped_by_reason": _labelled(metrics, "zeroserve_logger_events_dropped_total"),
        "queue_depth_when_the_sink_came_back": _metric(during, "zeroserve_logger_queue_depth"),
        "sink_received": received,
        "seconds_from_sink_up_to_drained": round(drained_s, 1),
    }


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
        "load_generator": "wrk -t1" if shutil.which("wrk") else "python asyncio",
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
    parser.add_argument("--outage", type=float, default=0.0, help="run issue #16's outage scenario")
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second in --outage")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of load once the sink is back")
    parser.add_argument("--sink", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--sink-port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sink is not None:
        asyncio.run(_sink_main(args.sink, args.sink_port))
        return 0
    from zeroserve.servers.testing import train_iris_sklearn

    with tempfile.TemporaryDirectory(prefix="bench-logger-") as tmp:
        model_dir = train_iris_sklearn(Path(tmp) / "model")
        if args.outage:
            print(json.dumps(asyncio.run(_outage(model_dir, args)), indent=2))
            return 0
        ready = Path(tmp) / "sink.json"
        sink = subprocess.Popen([sys.executable, __file__, "--sink", str(ready)])
        args.sink_pid = sink.pid
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
