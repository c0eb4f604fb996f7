"""Benchmark the local serving engine: cold start from zero and the gateway + activator hop.

Run: ``.venv/bin/python hack/bench/engine/bench_engine.py [--cold N] [--hop N] [--out RESULTS.json]``

1. Cold start: an sklearn iris predictor (``kserve/sklearnserver`` image, forked from the zygote)
   scales to zero after a short window; the time from sending a V1 predict to the gateway to its
   response, with no instance running, is measured N times.
2. Hop: with one warm instance, the same predict is sent N times straight to the instance and N
   times through the gateway (interleaved, same lean keep-alive client), and the p50/p99 of each
   and their difference are reported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.revision import RevisionSpec
from zeroserve.local.engine.routing import RouteEntry
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.engine.upstream import UpstreamPool

BODY = json.dumps({"instances": [[6.8, 2.8, 4.8, 1.4]]}).encode()
HEADERS = [(b"content-type", b"application/json")]
PATH = b"/v1/models/iris:predict"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _poll(predicate: Callable[[], bool]) -> None:
    while True:
        if predicate():
            return
        await asyncio.sleep(0.01)


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(values) * 1000, 3),
        "p99_ms": round(_pct(values, 0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(values) * 1000, 3),
        "n": len(values),
    }


async def _cold(engine: Engine, model_dir: Path, n: int, pool: UpstreamPool) -> dict[str, float]:
    spec = RevisionSpec(
        "bench",
        "cold-00001",
        "cold",
        {"image": "kserve/sklearnserver:v0.14", "args": ["--model_name=iris", "--model_dir=/mnt/models"]},
        annotations={"autoscaling.knative.dev/initial-scale": "0"},
        storage_uri=str(model_dir),
    )
    rev = engine.ensure_revision(spec)
    engine.set_routes([RouteEntry("bench", "cold", (("cold-00001", 100),))])
    host = b"cold.bench.example.com"
    times: list[float] = []
    for _ in range(n):
        await _poll(lambda: not rev.instances)
        await asyncio.sleep(0.05)
        pool.close()
        started = time.perf_counter()
        resp = await pool.request("127.0.0.1", engine.gateway_port, "POST", PATH, HEADERS, BODY, host)
        times.append(time.perf_counter() - started)
        assert resp.status == 200, resp.body
    await engine.remove_revision("bench", "cold-00001")
    return _summary(times)


async def _hop(engine: Engine, model_dir: Path, n: int, pool: UpstreamPool) -> dict[str, object]:
    spec = RevisionSpec(
        "bench",
        "warm-00001",
        "warm",
        {"image": "kserve/sklearnserver:v0.14", "args": ["--model_name=iris", "--model_dir=/mnt/models"]},
        annotations={"autoscaling.knative.dev/min-scale": "1"},
        storage_uri=str(model_dir),
    )
    rev = engine.ensure_revision(spec)
    engine.set_routes([RouteEntry("bench", "warm", (("warm-00001", 100),))])
    await _poll(lambda: rev.ready_count >= 1)
    port = rev.activator.ready[0].port
    host = b"warm.bench.example.com"
    direct: list[float] = []
    via: list[float] = []
    for i in range(n + 200):
        t0 = time.perf_counter()
        r1 = await pool.request("127.0.0.1", port, "POST", PATH, HEADERS, BODY, b"127.0.0.1")
        t1 = time.perf_counter()
        r2 = await pool.request("127.0.0.1", engine.gateway_port, "POST", PATH, HEADERS, BODY, host)
        t2 = time.perf_counter()
        assert r1.status == 200 and r2.status == 200
        if i >= 200:  # warm-up
            direct.append(t1 - t0)
            via.append(t2 - t1)
    added = [b - a for a, b in zip(direct, via, strict=True)]
    d, v = _summary(direct), _summary(via)
    return {
        "direct": d,
        "gateway": v,
        "added_p50_ms": round(v["p50_ms"] - d["p50_ms"], 3),
        "added_median_of_pairs_ms": round(statistics.median(added) * 1000, 3),
        "ratio_p50": round(v["p50_ms"] / d["p50_ms"], 3),
    }


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=30, help="cold starts to measure")
    parser.add_argument("--hop", type=int, default=3000, help="requests per path for the hop benchmark")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    from zeroserve.servers.testing import train_iris_sklearn

    with tempfile.TemporaryDirectory(prefix="zeroserve-bench-") as tmp:
        root = Path(tmp)
        model_dir = train_iris_sklearn(root / "iris")
        settings = EngineSettings(
            stable_window=0.2,
            scale_to_zero_grace_period=0.0,
            tick_interval=0.05,
            metric_bucket=0.05,
            allow_zero_initial_scale=True,
            gpus=[],
        )
        engine = Engine(settings, root / "state", resolve_model=Path)
        await engine.start("127.0.0.1", 0)
        pool = UpstreamPool()
        try:
            await engine.wait_warm()
            cold = await _cold(engine, model_dir, args.cold, pool)
            pool.close()
            hop = await _hop(engine, model_dir, args.hop, pool)
        finally:
            pool.close()
            await engine.stop()
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
        },
        "cold_start_from_zero": cold,
        "gateway_activator_hop": hop,
    }
    text = json.dumps(results, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(sys.argv[1:])))
