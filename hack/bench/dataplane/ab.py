"""A/B of the data plane's hot path: the working tree against a git revision, on the same machine at once.

Run from the repository root with the project venv::

    .venv/bin/python hack/bench/dataplane/ab.py [--base HEAD~1] [--rounds 6] [--duration 3] [--concurrency 8]

``git archive`` exports ``--base`` into a temporary folder laid out as the installed package
(``zeroserve/`` with ``servers/``, ``controller/``, ``router/``, ``logger/`` mapped inside, as
``pyproject.toml``'s ``package-dir`` does) and runs it with ``PYTHONPATH`` pointing there; the
working tree runs through the editable install. Both serve the same scikit-learn iris model with
``zeroserve serve sklearn`` (one process each, gRPC off). ``wrk`` drives V1 and V2 single-row
requests, the two servers alternating in every round (the order flips each round), so a busy
machine slows both alike. Reported: medians of req/s and of the server's CPU time per request
(``/proc/<pid>/stat``), which is steadier than req/s when other jobs share the CPUs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = {"servers": "servers", "controller": "controller", "router": "router", "logger": "logger"}
BODIES = {
    "v1": ("/v1/models/iris:predict", '{"instances": [[6.8, 2.8, 4.8, 1.4]]}'),
    "v2": (
        "/v2/models/iris/infer",
        '{"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", '
        '"data": [6.8, 2.8, 4.8, 1.4]}]}',
    ),
}


def export_revision(revision: str, work: Path) -> Path:
    """``git archive`` of ``revision`` laid out as the installed ``zeroserve`` package; the PYTHONPATH."""
    tree = work / "tree"
    tree.mkdir()
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    package = work / "pkg" / "zeroserve"
    shutil.copytree(tree / "zeroserve", package)
    for source, name in PACKAGES.items():
        if (tree / source).is_dir():
            shutil.copytree(tree / source, package / name)
    return work / "pkg"


def start(model_dir: Path, env: dict[str, str], work: Path, name: str) -> tuple[subprocess.Popen[bytes], int]:
    ready = work / f"{name}.ready.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "zeroserve",
            "serve",
            "sklearn",
            "--model_name=iris",
            f"--model_dir={model_dir}",
            "--http_port=0",
            "--grpc_port=-1",
            f"--ready-file={ready}",
            "--log-level=WARNING",
        ],
        env=env,
        cwd=work,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the {name} server did not start")
        time.sleep(0.05)
    return process, json.loads(ready.read_text())["http_port"]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD~1", help="the git revision to compare against")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=3, help="seconds per wrk run")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get install wrk", file=sys.stderr)
        return 2
    from zeroserve.servers.testing import train_iris_sklearn

    work = Path(tempfile.mkdtemp(prefix="zeroserve-ab-"))
    model_dir = train_iris_sklearn(work / "iris")
    base_path = export_revision(args.base, work)
    servers = {
        args.base: start(model_dir, dict(os.environ, PYTHONPATH=str(base_path)), work, "base"),
        "working tree": start(model_dir, dict(os.environ), work, "tree"),
    }
    results: dict[tuple[str, str, str], list[float]] = {}
    try:
        for round_ in range(args.rounds):
            for protocol, (path, body) in BODIES.items():
                script = work / f"{protocol}.lua"
                script.write_text(
                    f'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                    f"wrk.body = [==[{body}]==]\n"
                )
                names = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for name in names:
                    process, port = servers[name]
                    before = cpu_seconds(process.pid)
                    out = subprocess.run(
                        [
                            "wrk",
                            "-t1",
                            f"-c{args.concurrency}",
                            f"-d{args.duration}s",
                            "-s",
                            str(script),
                            f"http://127.0.0.1:{port}{path}",
                        ],
                        capture_output=True,
                        text=True,
                        check=True,
                    ).stdout
                    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
                    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
                    results.setdefault((protocol, name, "rps"), []).append(rps)
                    results.setdefault((protocol, name, "cpu"), []).append(
                        (cpu_seconds(process.pid) - before) / max(total, 1) * 1e6
                    )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(30)
        shutil.rmtree(work, ignore_errors=True)
    print(f"| protocol | server | req/s (median of {args.rounds}) | CPU/req us (median) |")
    print("| --- | --- | ---: | ---: |")
    for protocol in BODIES:
        for name in servers:
            rps = statistics.median(results[(protocol, name, "rps")])
            cpu = statistics.median(results[(protocol, name, "cpu")])
            print(f"| {protocol} | {name} | {rps:.0f} | {cpu:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
