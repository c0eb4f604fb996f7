"""Adaptive batching on vs off, for a model whose cost is per call (a deep, narrow TorchScript MLP).

Run from the repository root with the project venv::

    .venv/bin/python hack/bench/dataplane/batching.py [--duration 3] [--repeat 3] \
        [--concurrency 1,8,64] [--max-batch-size 64] [--max-latency-ms 5]

Two ``zeroserve serve pytorch`` processes serve the same model (41 ``Linear(16, 16)`` layers: a
call costs about the same for 1 row as for 64), one with ``--enable_batching``, one without; both
with one intra-op thread. ``wrk`` drives one-row V2 REST requests at each concurrency, the two
servers interleaved, medians of the repeats. For the batching server the mean rows per ``predict``
and the mean time a request waited in the batcher's queue come from its Prometheus metrics
(``zeroserve_batch_size``, ``zeroserve_batch_queue_seconds``). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import Point, Server, free_port, measure, median_point, start, stop


def build_mlp(folder: Path, depth: int = 40, width: int = 16) -> Path:
    """Save a TorchScript MLP ``4 -> width x depth -> 3`` as ``folder/model.pt``."""
    import torch

    torch.manual_seed(0)
    layers: list[torch.nn.Module] = [torch.nn.Linear(4, width), torch.nn.ReLU()]
    for _ in range(depth):
        layers += [torch.nn.Linear(width, width), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(width, 3))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.pt"
    torch.jit.script(torch.nn.Sequential(*layers).eval()).save(str(path))
    return path


def batch_counters(port: int) -> tuple[float, float, float, float]:
    """``(batch rows sum, batches, queue seconds sum, queued requests)`` from the server's metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", trust_env=False).text

    def value(name: str) -> float:
        found = re.search(rf'^{name}\{{model="iris"\}} ([0-9.e+-]+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    return (
        value("zeroserve_batch_size_sum"),
        value("zeroserve_batch_size_count"),
        value("zeroserve_batch_queue_seconds_sum"),
        value("zeroserve_batch_queue_seconds_count"),
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--max-batch-size", type=int, default=64)
    parser.add_argument("--max-latency-ms", type=float, default=5.0)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="zeroserve-batching-") as tmp:
        work = Path(tmp)
        model = build_mlp(work / "mlp")
        base = [sys.executable, "-m", "zeroserve", "serve", "pytorch", "--model-name", "iris",
                "--model-dir", str(model.parent), "--num-threads", "1", "--grpc-port", "-1"]  # fmt: skip
        servers = []
        for name, extra in (
            ("unbatched", []),
            ("batched", ["--enable_batching", f"--max_batch_size={args.max_batch_size}",
                         f"--max_latency_ms={args.max_latency_ms}"]),
        ):  # fmt: skip
            port = free_port()
            servers.append(Server(name, ("v2",), [*base, "--http-port", str(port), *extra], {}, port))
        try:
            for server in servers:
                start(server, work)
            rows: list[str] = []
            for conc in [int(c) for c in args.concurrency.split(",")]:
                samples: dict[str, list[Point]] = {s.name: [] for s in servers}
                batch_stats: list[tuple[float, float]] = []
                for _ in range(args.repeat):
                    for server in servers:
                        point = Point(server.name, "v2", 1, conc)
                        before = batch_counters(server.http_port)
                        measure(server, point, args.duration, work)
                        after = batch_counters(server.http_port)
                        samples[server.name].append(point)
                        if server.name == "batched" and after[1] > before[1]:
                            mean_rows = (after[0] - before[0]) / (after[1] - before[1])
                            mean_wait = (after[2] - before[2]) / max(after[3] - before[3], 1) * 1000
                            batch_stats.append((mean_rows, mean_wait))
                off, on = (median_point(samples[s.name]) for s in servers)
                rows_per_call = statistics.median(r for r, _ in batch_stats) if batch_stats else 0.0
                wait_ms = statistics.median(w for _, w in batch_stats) if batch_stats else 0.0
                speedup = on.rps / off.rps if off.rps else 0.0
                rows.append(
                    f"| {conc} | {off.rps:.0f} | {on.rps:.0f} | {speedup:.2f}x | {off.p50_ms:.2f} / "
                    f"{off.p99_ms:.2f} | {on.p50_ms:.2f} / {on.p99_ms:.2f} | {off.cpu_us_per_req:.0f} | "
                    f"{on.cpu_us_per_req:.0f} | {rows_per_call:.1f} | {wait_ms:.2f} |"
                )
            print(
                f"maxBatchSize {args.max_batch_size}, maxLatency {args.max_latency_ms:g} ms; "
                f"{args.repeat} interleaved runs of {args.duration} s per point, medians\n"
            )
            print(
                "| conc | req/s off | req/s on | on/off | p50 / p99 ms off | p50 / p99 ms on | "
                "CPU/req us off | CPU/req us on | rows per predict | queue wait ms |"
            )
            print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            print("\n".join(rows))
        finally:
            for server in servers:
                stop(server)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
