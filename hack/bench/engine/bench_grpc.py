"""gRPC overhead of the local gateway: V2 ``ModelInfer`` (one iris row) at concurrency 8, sent straight
to the instance's gRPC port and through the gateway (``:authority`` routing, activator, HTTP/2 relay).

Starts ``zeroserve up`` (controller and engine) in a temporary folder, applies an sklearn
InferenceService with ``minReplicas: 1``, then runs interleaved rounds of a fixed duration per path
from a separate client process (grpc.aio, 8 calls in flight) and prints requests per second and
latency percentiles as JSON.

Usage: ``.venv/bin/python hack/bench/engine/bench_grpc.py [--seconds 5] [--rounds 2] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HOST = "iris.default.example.com"
COMPONENTS = [
    "zeroserve.local.controller:ControllerComponent",
    "zeroserve.local.engine.component:EngineComponent",
]

CLIENT = r"""
import asyncio, json, sys, time
import grpc
import numpy as np
from tritonclient.grpc import service_pb2, service_pb2_grpc

async def main(address, host, seconds, concurrency):
    options = [("grpc.default_authority", host)] if host else []
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        request = service_pb2.ModelInferRequest(model_name="iris")
        tensor = request.inputs.add()
        tensor.name, tensor.datatype = "input-0", "FP32"
        tensor.shape.extend([1, 4])
        request.raw_input_contents.append(np.array([[6.8, 2.8, 4.8, 1.4]], dtype=np.float32).tobytes())
        for _ in range(50):
            await stub.ModelInfer(request)
        latencies = []
        end = time.perf_counter() + seconds

        async def worker():
            while time.perf_counter() < end:
                began = time.perf_counter()
                await stub.ModelInfer(request)
                latencies.append(time.perf_counter() - began)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    result = {"n": len(latencies), "rps": len(latencies) / elapsed}
    result.update(p50_ms=pick(0.5), p99_ms=pick(0.99))
    print(json.dumps(result))

asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])))
"""


def _run_client(address: str, host: str, seconds: float, concurrency: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, address, host, str(seconds), str(concurrency)],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from zeroserve.local.testing import platform_process
    from zeroserve.servers.testing import train_iris_sklearn

    with tempfile.TemporaryDirectory() as tmp:
        model = train_iris_sklearn(Path(tmp) / "model")
        isvc = {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": "iris", "namespace": "default"},
            "spec": {"predictor": {"minReplicas": 1, "sklearn": {"storageUri": f"file://{model}"}}},
        }
        with platform_process(Path(tmp) / "state", components=COMPONENTS) as platform:
            platform.kubectl("apply", "-f", "-", input=yaml.safe_dump(isvc))
            deadline = time.monotonic() + 120
            ready_files: list[Path] = []
            while time.monotonic() < deadline:
                found = platform.kubectl.json("get", "isvc", "iris")
                conditions = found.get("status", {}).get("conditions", [])
                records = (Path(tmp) / "state").rglob("*.instance.json")
                ready_files = [Path(json.loads(r.read_text())["ready_file"]) for r in records]
                ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
                if ready and ready_files:
                    break
                time.sleep(0.2)
            else:
                raise SystemExit(f"the InferenceService did not become ready: {conditions} {ready_files}")
            info = json.loads(ready_files[0].read_text())
            print(f"instance {info}", file=sys.stderr)
            grpc_port = info["grpc_port"]
            gateway = str(platform.info["extra"]["gateway_url"]).removeprefix("http://").rstrip("/")
            rows: dict[str, list[dict[str, float]]] = {"direct": [], "gateway": []}
            pid = platform.process.pid
            for _ in range(args.rounds):
                rows["direct"].append(
                    _run_client(f"127.0.0.1:{grpc_port}", "", args.seconds, args.concurrency)
                )
                before = _cpu_seconds(pid)
                row = _run_client(gateway, HOST, args.seconds, args.concurrency)
                # the platform process (gateway, controller, API server; instances are other processes),
                # per call including the client's 50 warm-up calls
                row["platform_cpu_us_per_req"] = (_cpu_seconds(pid) - before) / (row["n"] + 50) * 1e6
                rows["gateway"].append(row)
    report = {"concurrency": args.concurrency, "seconds": args.seconds, "rounds": rows}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
