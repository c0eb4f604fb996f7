"""Seldon wrapper benchmark: zeroserve's ``seldon-core-microservice`` vs Seldon Core's own.

Run from the repository root with the project venv (after ``hack/clients/seldon.sh``)::

    .venv/bin/python hack/bench/seldon/bench.py [--duration 3] [--repeat 3] [--concurrency 1,8,64] \
        [--work-dir /tmp/zeroserve-bench-seldon] [--out hack/bench/seldon/RESULTS.md]

One Seldon user class (``IrisSeldon.py``: ``load()`` reads a scikit-learn LogisticRegression trained
on iris from ``model.joblib``; ``predict(X, features_names)`` returns the model's ``predict``, the
call the data-plane bench makes) is served, unchanged, by both wrappers at their defaults: ours
(``.venv/bin/seldon-core-microservice``, one process) and Seldon Core 1.18.2's
(``.venv-seldon/bin/seldon-core-microservice``: gunicorn with one worker and one thread for REST,
plus its gRPC and metrics processes). Both are driven in the same run, point by point in turn, with
Debian's ``wrk`` (one thread, closed loop) POSTing one row to ``/api/v1.0/predictions`` as
``{"data": {"ndarray": [[...]]}}``. Reported: req/s, p50/p99 and the server's CPU time per request
(its whole process tree, from /proc); medians of ``--repeat`` runs. The harness (wrk driver, CPU
accounting, medians, model training) is ``hack/bench/dataplane/bench.py``'s.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "hack" / "bench" / "dataplane"))

import bench as harness  # noqa: E402  (hack/bench/dataplane/bench.py)

SELDON_VENV = ROOT / ".venv-seldon"
PATH = "/api/v1.0/predictions"
BODY = json.dumps({"data": {"ndarray": [harness.IRIS_ROW]}}).encode()

_LATENCY = re.compile(r"^\s*(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}

USER_CLASS = '''\
"""A Seldon user's iris model: the same file for both wrappers."""
import os

import joblib


class IrisSeldon:
    def __init__(self):
        self.model = None

    def load(self):
        self.model = joblib.load(os.environ["MODEL_PATH"])

    def predict(self, X, features_names=None):
        return self.model.predict(X)
'''


def servers(work: Path, model: Path) -> list[harness.Server]:
    (work / "IrisSeldon.py").write_text(USER_CLASS)
    env = {"MODEL_PATH": str(model), "PYTHONUNBUFFERED": "1"}
    ours_port, seldon_port = harness.free_port(), harness.free_port()
    ours = harness.Server(
        "zeroserve",
        ("seldon",),
        [str(Path(sys.executable).parent / "seldon-core-microservice"), "IrisSeldon",
         "--service-type", "MODEL", "--http-port", str(ours_port), "--grpc-port", "-1",
         "--log-level", "WARNING"],
        env,
        ours_port,
        cwd=work,
    )  # fmt: skip
    seldon = harness.Server(
        "seldon-core",
        ("seldon",),
        [str(SELDON_VENV / "bin" / "seldon-core-microservice"), "IrisSeldon", "--service-type", "MODEL"],
        {
            **env,
            "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": str(seldon_port),
            "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": str(harness.free_port()),
            "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": str(harness.free_port()),
        },
        seldon_port,
        cwd=work,
    )
    return [ours, seldon]


def start(server: harness.Server, work: Path) -> None:
    server.log = work / f"{server.name}.log"
    with server.log.open("wb") as log:
        server.proc = subprocess.Popen(
            server.command,
            env=dict(os.environ, **server.env),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=server.cwd,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    url = f"http://127.0.0.1:{server.http_port}{PATH}"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            r = httpx.post(
                url, content=BODY, headers={"content-type": "application/json"}, timeout=2, trust_env=False
            )
            if r.status_code == 200:
                print(f"{server.name} ready: {r.text[:120]}", flush=True)
                return
        time.sleep(0.2)
    raise TimeoutError(f"{server.name} not ready: {server.log.read_text()[-2000:]}")


def measure(server: harness.Server, point: harness.Point, duration: int, work: Path, warm_up: bool) -> None:
    assert server.proc is not None
    url = f"http://127.0.0.1:{server.http_port}{PATH}"
    if warm_up:
        harness.wrk(url, BODY, point.concurrency, 1, work)
    cpu_before = harness.process_tree_cpu(server.proc.pid)
    out, total = harness.wrk(url, BODY, point.concurrency, duration, work)
    cpu_after = harness.process_tree_cpu(server.proc.pid)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    point.rps = float(rps.group(1)) if rps else 0.0
    for pct, value, unit in _LATENCY.findall(out):
        ms = float(value) * _UNITS[unit]
        if pct == "50":
            point.p50_ms = ms
        else:
            point.p99_ms = ms
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    point.errors = int(errors.group(1)) if errors else 0
    if total:
        point.cpu_us_per_req = (cpu_after - cpu_before) / total * 1e6


def report(points: list[harness.Point], args: argparse.Namespace, load: str) -> str:
    lines = [
        "# Seldon wrapper benchmark",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by `hack/bench/seldon/bench.py "
        f"--duration {args.duration} --repeat {args.repeat} --concurrency {args.concurrency}`: "
        "both wrappers up at once, measured point by point in turn "
        f"({args.repeat} runs of {args.duration} s each, rotating the order; medians reported), "
        "each at its defaults: zeroserve's `seldon-core-microservice` (one process) and "
        "Seldon Core 1.18.2's (gunicorn, 1 worker x 1 thread for REST, plus its gRPC and metrics "
        "processes).",
        "Model: one Seldon user class (`IrisSeldon.py`, `predict` of a scikit-learn LogisticRegression "
        "on iris), the same file for both. Request: one row, `POST /api/v1.0/predictions` "
        '`{"data": {"ndarray": [[6.8, 2.8, 4.8, 1.4]]}}`. Load generator: Debian `wrk`, one thread, closed '
        "loop. `CPU/req` is the server's CPU time (its whole process tree) per request.",
        "",
        f"**Caveat:** the machine has 2 cores, shared with `wrk` and with other sessions' jobs (load average "
        f"before the run: {load}); treat differences under ~15% as noise.",
        "",
        "| conc | server | req/s | p50 ms | p99 ms | CPU/req us | errors |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in points:
        notes = " " + "; ".join(p.notes) if p.notes else ""
        lines.append(
            f"| {p.concurrency} | {p.server} | {p.rps:.0f} | {p.p50_ms:.2f} | {p.p99_ms:.2f} | "
            f"{p.cpu_us_per_req:.0f} | {p.errors}{notes} |"
        )
    lines += ["", "## Ratios (zeroserve / seldon-core)", ""]
    lines += [
        "| conc | req/s ratio | p99 ratio (lower is better) | CPU/req ratio |",
        "| ---: | ---: | ---: | ---: |",
    ]
    index = {(p.server, p.concurrency): p for p in points}
    for p in points:
        theirs = index.get(("seldon-core", p.concurrency))
        if p.server == "zeroserve" and theirs is not None:
            lines.append(
                f"| {p.concurrency} | {harness.ratio(p.rps, theirs.rps)} "
                f"| {harness.ratio(p.p99_ms, theirs.p99_ms)} "
                f"| {harness.ratio(p.cpu_us_per_req, theirs.cpu_us_per_req)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=3, help="seconds per measured run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point (servers interleaved); medians")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/zeroserve-bench-seldon"))
    parser.add_argument("--out", type=Path, default=ROOT / "hack" / "bench" / "seldon" / "RESULTS.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    if not (SELDON_VENV / "bin" / "seldon-core-microservice").exists():
        print(f"{SELDON_VENV} is missing: run hack/clients/seldon.sh", file=sys.stderr)
        return 2
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    model = harness.train_model(work / "model")
    running = servers(work, model)
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    points: list[harness.Point] = []
    try:
        for server in running:
            start(server, work)
        for conc in [int(c) for c in args.concurrency.split(",")]:
            runs: dict[str, list[harness.Point]] = {}
            for rep in range(args.repeat):
                rotated = running[rep % len(running) :] + running[: rep % len(running)]
                for server in rotated:
                    point = harness.Point(server.name, "seldon", 1, conc)
                    measure(server, point, args.duration, work, warm_up=rep == 0)
                    runs.setdefault(server.name, []).append(point)
                    print(
                        f"c={conc} {server.name}: {point.rps:.0f} req/s p99 {point.p99_ms:.2f} ms", flush=True
                    )
            points += [harness.median_point(samples) for samples in runs.values()]
    finally:
        for server in running:
            harness.stop(server)
    text = report(points, args, load)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
