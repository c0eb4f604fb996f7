"""What tracing costs the model server: V2 REST, one row, tracing off vs the code without it, and on.

Run from the repository root with the project venv::

    .venv/bin/python hack/bench/tracing/bench.py [--rounds 5] [--duration 3] [--concurrency 8]

Arms, each a ``zeroserve serve sklearn`` process serving the same iris model (gRPC off):

- ``baseline``: ``--base`` (default ``HEAD``) exported with ``git archive``, laid out as the installed
  package (``servers/`` etc. inside ``zeroserve/``), with the commits that put spans into the model
  server (``--revert``) reverse-applied to ``servers/dataplane.py`` and ``servers/rest/app.py``: the
  same code with the tracing code path removed;
- ``off``: ``--traced`` (default ``HEAD``), no OTLP endpoint;
- ``on``: the same, ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, every request sampled (a root trace of
  six spans each: server, decode, preprocess, predict, postprocess, encode);
- ``on 10%``: the same with ``OTEL_TRACES_SAMPLER=traceidratio`` and ``_ARG=0.1``.

Spans go to a sink in this process that answers 200 without decoding (the collector's own cost is
not the server's). ``wrk`` drives each arm in turn; the order rotates every round so a busy machine
slows all alike. Reported: medians of req/s and of the server's CPU time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
MAPPED = ("servers", "controller", "router", "logger", "monitoring")
PATH = "/v2/models/iris/infer"
BODY = '{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": [6.8, 2.8, 4.8, 1.4]}]}'


def export(revision: str, work: Path, label: str) -> Path:
    """``revision`` as an importable ``zeroserve`` package folder (the PYTHONPATH to use)."""
    tree = work / f"tree-{label}"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    package = work / f"pkg-{label}" / "zeroserve"
    shutil.copytree(tree / "zeroserve", package)
    for name in MAPPED:
        if (tree / name).is_dir():
            shutil.copytree(tree / name, package / name)
    return package.parent


class NullSink:
    """An HTTP/1.1 server on a free port that answers every request 200 with an empty body."""

    def __init__(self) -> None:
        self.port = 0
        self.requests = 0
        self._started = threading.Event()
        threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True).start()
        self._started.wait(10)

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._started.set()
        async with server:
            await server.serve_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(length.group(1)) if length else 0)
                self.requests += 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def start(model_dir: Path, env: dict[str, str], work: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    ready = work / f"{name.replace(' ', '_').replace('%', '')}.ready.json"
    argv = [sys.executable, "-m", "zeroserve", "serve", "sklearn", "--model_name=iris"]
    argv += [f"--model_dir={model_dir}", "--http_port=0", "--grpc_port=-1", f"--ready-file={ready}"]
    process = subprocess.Popen([*argv, "--log-level=WARNING"], env=env, cwd=work, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the {name} server did not start")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())["http_port"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, script: Path, concurrency: int, duration: int) -> tuple[float, int]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{PATH}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    total = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert total and rps, out
    return float(rps.group(1)), int(total.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="revision of the baseline, before --revert")
    parser.add_argument(
        "--revert",
        default="b810aa8,f4084c8",
        help="commits whose changes to servers/dataplane.py and servers/rest/app.py (the span call sites) "
        "are reverse-applied to the baseline, newest first",
    )
    parser.add_argument("--traced", default="HEAD", help="revision with the span call sites")
    parser.add_argument("--arms", default="baseline,off,on,on 10%", help="comma-separated arms to run")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    from zeroserve.servers.testing import train_iris_sklearn

    work = Path(tempfile.mkdtemp(prefix="zeroserve-tracing-bench-"))
    model_dir = train_iris_sklearn(work / "iris")
    sink = NullSink()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base = export(args.base, work, "baseline")
    for commit in filter(None, args.revert.split(",")):  # the model server's span call sites, taken out
        diff = subprocess.run(
            ["git", "show", commit, "--", "servers/dataplane.py", "servers/rest/app.py"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        revert = ["git", "apply", "-R", "-C1", "--directory=zeroserve"]
        subprocess.run(revert, cwd=base, input=diff, check=True)
    base_env = dict(clean, PYTHONPATH=str(base))
    traced = export(args.traced, work, "traced")
    traced_env = dict(clean, PYTHONPATH=str(traced))
    on_env = dict(traced_env, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sink.port}")
    sampled_env = dict(on_env, OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="0.1")
    arms = {"baseline": base_env, "off": traced_env, "on": on_env, "on 10%": sampled_env}
    arms = {name: env for name, env in arms.items() if name in args.arms.split(",")}
    servers = {name: start(model_dir, env, work, name) for name, env in arms.items()}
    script = work / "v2.lua"
    script.write_text(
        f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [==[{BODY}]==]\n'
    )
    rps: dict[str, list[float]] = {name: [] for name in arms}
    cpu: dict[str, list[float]] = {name: [] for name in arms}
    try:
        for _, port in servers.values():
            wrk(port, script, args.concurrency, 1)  # warm up
        names = list(arms)
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                process, port = servers[name]
                before = cpu_seconds(process.pid)
                rate, total = wrk(port, script, args.concurrency, args.duration)
                rps[name].append(rate)
                cpu[name].append((cpu_seconds(process.pid) - before) / max(total, 1) * 1e6)
                print(
                    f"round {round_ + 1} {name:>8}: {rate:8.0f} req/s {cpu[name][-1]:6.1f} us CPU/req",
                    flush=True,
                )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    anchor = "baseline" if "baseline" in arms else next(iter(arms))
    base_rps, base_cpu = statistics.median(rps[anchor]), statistics.median(cpu[anchor])
    print(f"\n| arm | req/s (median of {args.rounds}) | vs {anchor} | CPU us/req | vs {anchor} |")
    print("|---|---:|---:|---:|---:|")
    for name in arms:
        r, c = statistics.median(rps[name]), statistics.median(cpu[name])
        print(f"| {name} | {r:.0f} | {r / base_rps - 1:+.1%} | {c:.1f} | {c / base_cpu - 1:+.1%} |")
    print("\nper-round ratios to the anchor (the arms of a round run back to back), median:")
    for name in arms:
        rps_ratio = statistics.median(a / b for a, b in zip(rps[name], rps[anchor], strict=True))
        cpu_ratio = statistics.median(a / b for a, b in zip(cpu[name], cpu[anchor], strict=True))
        print(f"  {name:>8}: req/s {rps_ratio - 1:+.1%}  CPU/req {cpu_ratio - 1:+.1%}")
    print(f"\nOTLP exports received by the sink: {sink.requests}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
