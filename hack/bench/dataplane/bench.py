"""Data plane benchmark: zeroserve vs KServe's ModelServer vs MLServer on the same iris model.

Run from the repository root with the project venv::

    .venv/bin/python hack/bench/dataplane/bench.py [--duration 4] [--concurrency 1,8,64] \
        [--servers zeroserve,kserve,mlserver] [--work-dir /tmp/zeroserve-bench] \
        [--out hack/bench/dataplane/RESULTS.md]

It trains one scikit-learn LogisticRegression on iris, creates throwaway venvs for KServe (PyPI
``kserve`` plus a ~20-line ``kserve.Model`` that loads ``model.joblib``, as KServe's sklearnserver
does) and MLServer (``mlserver`` + ``mlserver-sklearn``, ``uvloop<0.22``: SeldonIO/MLServer#2286),
each pinned to this venv's scikit-learn so the same pickle loads everywhere. Each server is started
at its defaults on free ports and driven with Debian's ``wrk`` (one thread, closed loop, a Lua script
for the POST body) for V1 and V2 REST, one row and a [256, 4] batch, at each concurrency. Reported:
req/s, p50/p99 latency and the server's CPU time per request (all its processes, from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[3]
CLK_TCK = os.sysconf("SC_CLK_TCK")
IRIS_ROW = [6.8, 2.8, 4.8, 1.4]

KSERVE_SERVER = '''\
"""KServe's sklearn server in ~20 lines (PyPI kserve has the SDK but no sklearnserver)."""
import os

import joblib
from kserve import Model, ModelServer
from kserve.utils.utils import get_predict_input, get_predict_response


class SKLearnModel(Model):
    def __init__(self, name: str, path: str):
        super().__init__(name)
        self.path = path

    def load(self) -> bool:
        self._model = joblib.load(self.path)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        instances = get_predict_input(payload)
        return get_predict_response(payload, self._model.predict(instances), self.name)


if __name__ == "__main__":
    model = SKLearnModel("iris", os.environ["MODEL_PATH"])
    model.load()
    ModelServer().start([model])
'''


BASELINE_LAUNCHER = '''\
"""Run ``zeroserve`` from an exported tree (another commit), not from the editable install."""
import importlib.util
import os
import sys

root = sys.argv.pop(1)
# setuptools' editable finder maps every zeroserve.* name to the checkout: take it out.
sys.meta_path = [f for f in sys.meta_path if "__editable__" not in type(f).__module__]


def package(name, folder):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(folder, "__init__.py"), submodule_search_locations=[folder]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


top = package("zeroserve", os.path.join(root, "zeroserve"))
for sub in ("servers", "controller", "router", "logger", "monitoring"):
    if os.path.isdir(os.path.join(root, sub)):
        setattr(top, sub, package(f"zeroserve.{sub}", os.path.join(root, sub)))
from zeroserve.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
'''


def export_baseline(ref: str, work: Path) -> Path:
    """The tree of commit ``ref`` (``git archive``) under ``work``, with the launcher beside it."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    tree = work / f"baseline-{commit}"
    if not tree.exists():
        tree.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    (work / "baseline_launcher.py").write_text(BASELINE_LAUNCHER)
    return tree


@dataclass
class Server:
    """A server under test."""

    name: str
    protocols: tuple[str, ...]
    command: list[str]
    env: dict[str, str]
    http_port: int
    cwd: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass
class Point:
    """One measured point."""

    server: str
    protocol: str
    batch: int
    concurrency: int
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    cpu_us_per_req: float = 0.0
    errors: int = 0
    notes: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(cmd: list[str], **kwargs: object) -> None:
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)  # type: ignore[call-overload]


def sklearn_pin() -> str:
    import sklearn

    return f"scikit-learn=={sklearn.__version__}"


def make_venv(path: Path, packages: list[str]) -> Path:
    """A venv at ``path`` with ``packages`` (reused when its marker says the same packages)."""
    marker = path / ".bench-packages"
    wanted = "\n".join(packages)
    python = path / "bin" / "python"
    if marker.exists() and marker.read_text() == wanted:
        return python
    shutil.rmtree(path, ignore_errors=True)
    run([sys.executable, "-m", "venv", str(path)])
    run([str(python), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    run([str(python), "-m", "pip", "install", "-q", *packages])
    marker.write_text(wanted)
    return python


def train_model(folder: Path) -> Path:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    folder.mkdir(parents=True, exist_ok=True)
    x, y = load_iris(return_X_y=True)
    path = folder / "model.joblib"
    joblib.dump(LogisticRegression(max_iter=1000).fit(x, y), path)
    return path


def bodies(batch: int) -> dict[str, bytes]:
    rows = [IRIS_ROW] * batch
    v1 = json.dumps({"instances": rows}).encode()
    v2 = json.dumps(
        {"inputs": [{"name": "input-0", "shape": [batch, 4], "datatype": "FP32", "data": rows}]}
    ).encode()
    return {"v1": v1, "v2": v2}


def path_for(protocol: str) -> str:
    return "/v1/models/iris:predict" if protocol == "v1" else "/v2/models/iris/infer"


def start(server: Server, work: Path) -> None:
    server.log = work / f"{server.name}.log"
    env = dict(os.environ, **server.env)
    with server.log.open("wb") as log:
        server.proc = subprocess.Popen(
            server.command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=server.cwd,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    url = f"http://127.0.0.1:{server.http_port}/v2/models/iris/ready"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{server.name} not ready: {server.log.read_text()[-2000:]}")


def stop(server: Server) -> None:
    proc = server.proc
    if proc is None or proc.poll() is not None:
        return
    # MLServer often ignores SIGTERM after a load run: SIGINT, then SIGKILL the whole group.
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def process_tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by ``root`` and all its descendants."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        cpu[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    total = 0.0
    for pid, seconds in cpu.items():
        p = pid
        while p and p != root:
            p = parents.get(p, 0)
        if p == root:
            total += seconds
    return total


_LAT_RE = re.compile(r"^\s*(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(url: str, body: bytes, concurrency: int, duration: int, script_dir: Path) -> tuple[str, int]:
    script = script_dir / "post.lua"
    script.write_text(
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [==[{body.decode()}]==]\n"
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{duration}s", "--latency", "-s", str(script), url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    total = re.search(r"(\d+) requests in", out)
    return out, int(total.group(1)) if total else 0


def median_point(samples: list[Point]) -> Point:
    """The per-metric median of repeated measurements of one point."""
    first = samples[0]
    out = Point(first.server, first.protocol, first.batch, first.concurrency)
    out.rps = statistics.median(p.rps for p in samples)
    out.p50_ms = statistics.median(p.p50_ms for p in samples)
    out.p99_ms = statistics.median(p.p99_ms for p in samples)
    out.cpu_us_per_req = statistics.median(p.cpu_us_per_req for p in samples)
    out.errors = sum(p.errors for p in samples)
    out.notes = sorted({n for p in samples for n in p.notes})
    return out


def measure(server: Server, point: Point, duration: int, work: Path, warm_up: bool = True) -> None:
    assert server.proc is not None
    url = f"http://127.0.0.1:{server.http_port}{path_for(point.protocol)}"
    body = bodies(point.batch)[point.protocol]
    check = httpx.post(url, content=body, headers={"content-type": "application/json"}, trust_env=False)
    if check.status_code != 200:
        point.notes.append(f"check request answered {check.status_code}: {check.text[:200]}")
        return
    if warm_up:
        wrk(url, body, point.concurrency, 1, work)
    cpu_before = process_tree_cpu(server.proc.pid)
    out, total = wrk(url, body, point.concurrency, duration, work)
    cpu_after = process_tree_cpu(server.proc.pid)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    point.rps = float(rps.group(1)) if rps else 0.0
    for pct, value, unit in _LAT_RE.findall(out):
        ms = float(value) * _UNITS[unit]
        if pct == "50":
            point.p50_ms = ms
        else:
            point.p99_ms = ms
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    point.errors = int(errors.group(1)) if errors else 0
    if total:
        point.cpu_us_per_req = (cpu_after - cpu_before) / total * 1e6


def build_servers(
    names: list[str], work: Path, model: Path, baseline: str | None = None, batched: str | None = None
) -> Iterator[Server]:
    if baseline:
        tree = export_baseline(baseline, work)
        port = free_port()
        yield Server(
            "zeroserve-before",
            ("v1", "v2"),
            [sys.executable, str(work / "baseline_launcher.py"), str(tree), "serve", "sklearn",
             "--model-name", "iris", "--model-dir", str(model.parent), "--http-port", str(port),
             "--grpc-port", "-1"],
            {},
            port,
            cwd=work,
        )  # fmt: skip
    if batched:
        port = free_port()
        yield Server(
            "zeroserve-batched",
            ("v1", "v2"),
            [sys.executable, "-m", "zeroserve", "serve", "sklearn", "--model-name", "iris",
             "--model-dir", str(model.parent), "--http-port", str(port), "--grpc-port", "-1",
             *batched.split()],
            {},
            port,
        )  # fmt: skip
    if "zeroserve" in names:
        port = free_port()
        yield Server(
            "zeroserve",
            ("v1", "v2"),
            [sys.executable, "-m", "zeroserve", "serve", "sklearn", "--model-name", "iris",
             "--model-dir", str(model.parent), "--http-port", str(port), "--grpc-port", "-1"],
            {},
            port,
        )  # fmt: skip
    if "kserve" in names:
        python = make_venv(work / "venv-kserve", ["kserve", sklearn_pin(), "joblib"])
        script = work / "kserve_server.py"
        script.write_text(KSERVE_SERVER)
        port = free_port()
        yield Server(
            "kserve",
            ("v1", "v2"),
            [str(python), str(script), f"--http_port={port}", f"--grpc_port={free_port()}"],
            {"MODEL_PATH": str(model)},
            port,
        )
    if "mlserver" in names:
        python = make_venv(
            work / "venv-mlserver", ["mlserver", "mlserver-sklearn", sklearn_pin(), "uvloop<0.22"]
        )
        folder = work / "mlserver-model"
        folder.mkdir(exist_ok=True)
        shutil.copy(model, folder / "model.joblib")
        port = free_port()
        (folder / "settings.json").write_text(
            json.dumps({"http_port": port, "grpc_port": free_port(), "metrics_port": free_port()})
        )
        (folder / "model-settings.json").write_text(
            json.dumps(
                {"name": "iris", "implementation": "mlserver_sklearn.SKLearnModel",
                 "parameters": {"uri": "./model.joblib"}}
            )
        )  # fmt: skip
        yield Server("mlserver", ("v2",), [str(python.parent / "mlserver"), "start", str(folder)], {}, port)


def ratio(ours: float, theirs: float) -> str:
    return f"{ours / theirs:.2f}x" if ours and theirs else "n/a"


def report(points: list[Point], args: argparse.Namespace) -> str:
    lines = [
        "# Data plane benchmark",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} by "
        f"`hack/bench/dataplane/bench.py --duration {args.duration} --repeat {args.repeat} "
        f"--concurrency {args.concurrency}`: all servers up at once, measured point by point in turn "
        f"({args.repeat} runs of {args.duration} s each, rotating the order; medians reported), each at "
        "its defaults (one process each for zeroserve and KServe; MLServer: main process + one inference "
        "worker).",
        "Model: scikit-learn LogisticRegression on iris (one `model.joblib` for all three). Load generator: "
        "Debian `wrk`, one thread, closed loop. `CPU/req` is the server's CPU time (all its processes) "
        "per request.",
        "",
        "**Caveat:** the machine has 2 cores, shared with `wrk` and with other jobs running at the same "
        "time; treat differences under ~15% as noise. MLServer has no V1 endpoint.",
        "",
        "| protocol | batch | conc | server | req/s | p50 ms | p99 ms | CPU/req us | errors |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in points:
        notes = " " + "; ".join(p.notes) if p.notes else ""
        lines.append(
            f"| {p.protocol} | {p.batch} | {p.concurrency} | {p.server} | {p.rps:.0f} | {p.p50_ms:.2f} | "
            f"{p.p99_ms:.2f} | {p.cpu_us_per_req:.0f} | {p.errors}{notes} |"
        )
    lines += ["", "## Ratios (zeroserve / anchor)", ""]
    lines += [
        "| protocol | batch | conc | anchor | req/s ratio | p99 ratio (lower is better) | CPU/req ratio |"
    ]
    lines += ["| --- | --- | --- | --- | ---: | ---: | ---: |"]
    index = {(p.server, p.protocol, p.batch, p.concurrency): p for p in points}
    for p in points:
        if p.server != "zeroserve":
            continue
        for anchor in ("zeroserve-before", "kserve", "mlserver"):
            a = index.get((anchor, p.protocol, p.batch, p.concurrency))
            if a is None or not a.rps:
                continue
            lines.append(
                f"| {p.protocol} | {p.batch} | {p.concurrency} | {anchor} | {ratio(p.rps, a.rps)} | "
                f"{ratio(p.p99_ms, a.p99_ms)} | {ratio(p.cpu_us_per_req, a.cpu_us_per_req)} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=3, help="seconds per measured run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per point (servers interleaved); medians")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--batches", default="1,256")
    parser.add_argument("--protocols", default="v1,v2")
    parser.add_argument("--servers", default="zeroserve,kserve,mlserver")
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/zeroserve-bench"))
    parser.add_argument("--out", type=Path, default=ROOT / "hack" / "bench" / "dataplane" / "RESULTS.md")
    parser.add_argument(
        "--baseline", help="also serve zeroserve as of this git commit (e.g. HEAD~5) as 'zeroserve-before'"
    )
    parser.add_argument(
        "--batched",
        metavar="FLAGS",
        help="also serve zeroserve with these batching flags as 'zeroserve-batched' "
        "(e.g. '--enable_batching --max_batch_size=8 --max_latency_ms=2')",
    )
    parser.add_argument("--setup-only", action="store_true", help="create the venvs and the model, then stop")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    work: Path = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    model = train_model(work / "model")
    servers = list(build_servers(args.servers.split(","), work, model, args.baseline, args.batched))
    if args.setup_only:
        return 0
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    points: list[Point] = []
    try:
        for server in servers:
            start(server, work)
        # Interleave the servers point by point, repeat, and keep the median of each metric, so the
        # load other jobs put on the machine hits every server alike.
        for protocol in args.protocols.split(","):
            for batch in batches:
                for conc in concurrencies:
                    runs: dict[str, list[Point]] = {}
                    for rep in range(args.repeat):
                        rotated = servers[rep % len(servers) :] + servers[: rep % len(servers)]
                        for server in rotated:
                            if protocol not in server.protocols:
                                continue
                            point = Point(server.name, protocol, batch, conc)
                            measure(server, point, args.duration, work, warm_up=rep == 0)
                            runs.setdefault(server.name, []).append(point)
                    for samples in runs.values():
                        points.append(median_point(samples))
                        print(points[-1], flush=True)
    finally:
        for server in servers:
            stop(server)
    order = {"zeroserve": 0, "zeroserve-before": 1, "zeroserve-batched": 2, "kserve": 3, "mlserver": 4}
    points.sort(key=lambda p: (p.protocol, p.batch, p.concurrency, order.get(p.server, 9)))
    args.out.write_text(report(points, args))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
