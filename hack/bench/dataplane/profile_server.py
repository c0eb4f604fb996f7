"""Profile the model server's per-request cost: cProfile around ``zeroserve serve`` under wrk load.

Run from the repository root with the project venv::

    .venv/bin/python hack/bench/dataplane/profile_server.py [--protocol v2] [--concurrency 8] \
        [--duration 5] [--top 30]

Trains the iris model (as ``bench.py`` does), serves it with ``python -m cProfile -m zeroserve serve
sklearn`` on a free port, drives one-row requests with ``wrk`` and prints the functions with the most
own time and cumulative time per request (SIGINT ends the server, which writes the profile).
"""

from __future__ import annotations

import argparse
import pstats
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import IRIS_ROW, free_port, path_for, train_model, wrk


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protocol", choices=["v1", "v2"], default="v2")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="zeroserve-profile-") as tmp:
        work = Path(tmp)
        model = train_model(work / "model")
        port = free_port()
        out = work / "server.prof"
        cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "zeroserve", "serve", "sklearn",
               "--model-name", "iris", "--model-dir", str(model.parent), "--http-port", str(port),
               "--grpc-port", "-1"]  # fmt: skip
        proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("server did not start")
            time.sleep(0.1)
        import json

        if args.protocol == "v2":
            body = {"inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP32", "data": IRIS_ROW}]}
        else:
            body = {"instances": [IRIS_ROW]}
        url = f"http://127.0.0.1:{port}{path_for(args.protocol)}"
        _, total = wrk(url, json.dumps(body).encode(), args.concurrency, args.duration, work)
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        print(f"{total} requests")
        stats = pstats.Stats(str(out))
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
