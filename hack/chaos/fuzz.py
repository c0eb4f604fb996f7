"""Send thousands of malformed inference requests to a model server and count what went wrong.

Run from the repository root with the project venv::

    .venv/bin/python hack/chaos/fuzz.py [--cases 10000] [--seed 1] [--concurrency 4]
        [--gateway http://127.0.0.1:8080 --host-header sklearn-iris.default.example.com
         --model sklearn-iris [--pid PID]] [--out hack/chaos/RESULTS.md]

Without ``--gateway`` it trains a small scikit-learn iris model, starts ``zeroserve serve sklearn``
on free ports in a child process and sends the cases of :mod:`zeroserve.servers.fuzzing` (V1, V2
REST JSON and binary, V2 gRPC, Seldon) to it. With ``--gateway`` the REST cases go through the
gateway of a running ``zeroserve up`` to an InferenceService (gRPC is skipped there); ``--pid``
names the instance process to watch.

Counted: answers that break the rule (a 5xx, gRPC ``INTERNAL`` / ``UNKNOWN``, a Python exception
name in a message), connection failures, whether the server process died, its RSS before, at the
peak and after, and good requests (V1, V2, gRPC) sent every 500 cases that must still answer the
model's own predictions. Exits 1 when the targets (0 bad answers, 0 crashes, RSS growth < 50 MB,
every good request right) are missed.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import grpc
import httpx
import numpy as np

from zeroserve.servers.fuzzing import GRPC_INFER, PROTOCOLS, Case, generate, send_grpc, send_http
from zeroserve.servers.grpc.generated import grpc_predict_v2_pb2 as pb
from zeroserve.servers.testing import iris_data, train_iris_sklearn

ROOT = Path(__file__).resolve().parents[2]
GOOD_EVERY = 500
RSS_LIMIT_MB = 50.0


class Target:
    """Where the cases go: a child model server, or a gateway."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.model = args.model
        self.host = args.host_header
        self.process: subprocess.Popen[bytes] | None = None
        self.grpc_target: str | None = None
        self.expected: list[int] | None = None
        """The model's predictions for the good rows (the first V1 answer, through a gateway)."""
        self.pid: int | None = args.pid
        """The process whose liveness and RSS are watched (the child server, or ``--pid``)."""
        if args.gateway:
            self.url = args.gateway.rstrip("/")
            return
        model_dir = train_iris_sklearn(work / "iris")
        import joblib

        self.expected = joblib.load(model_dir / "model.joblib").predict(good_rows()).tolist()
        ready = work / "ready.json"
        self.stderr = (work / "server.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "zeroserve",
                "serve",
                "sklearn",
                f"--model_name={self.model}",
                f"--model_dir={model_dir}",
                "--http_port=0",
                "--grpc_port=0",
                "--host=127.0.0.1",
                f"--ready-file={ready}",
                "--log-level=ERROR",
            ],
            stderr=self.stderr,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"model server did not start; see {work / 'server.log'}")
            time.sleep(0.05)
        ports = json.loads(ready.read_text())
        self.url = f"http://127.0.0.1:{ports['http_port']}"
        self.pid = self.process.pid
        self.grpc_target = f"127.0.0.1:{ports['grpc_port']}"

    def alive(self) -> bool | None:
        if self.process is not None:
            return self.process.poll() is None
        return None if self.pid is None else Path(f"/proc/{self.pid}").exists()

    def rss_mb(self) -> float | None:
        if self.pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.stderr.close()


def good_rows() -> np.ndarray:
    """The rows of the good requests: every tenth iris row."""
    return np.asarray(iris_data()[0][::10])


def good_checks(target: Target, client: httpx.Client, call: Any) -> list[str]:
    """Send valid V1, V2 and gRPC requests; return what did not answer the model's predictions."""
    rows = good_rows()
    headers = {"host": target.host} if target.host else {}
    problems = []
    v1 = client.post(f"/v1/models/{target.model}:predict", json={"instances": rows.tolist()}, headers=headers)
    if target.expected is None and v1.status_code == 200:
        target.expected = v1.json().get("predictions")
    expected = target.expected
    if v1.status_code != 200 or v1.json().get("predictions") != expected:
        problems.append(f"V1 answered {v1.status_code} {v1.text[:120]}")
    doc = {
        "inputs": [
            {"name": "input-0", "shape": list(rows.shape), "datatype": "FP64", "data": rows.ravel().tolist()}
        ]
    }
    v2 = client.post(f"/v2/models/{target.model}/infer", json=doc, headers=headers)
    if v2.status_code != 200 or v2.json()["outputs"][0]["data"] != expected:
        problems.append(f"V2 answered {v2.status_code} {v2.text[:120]}")
    if call is not None:
        msg = pb.ModelInferRequest(model_name=target.model)
        msg.inputs.add(name="input-0", datatype="FP64", shape=list(rows.shape))
        msg.raw_input_contents.append(np.ascontiguousarray(rows, dtype="<f8").tobytes())
        try:
            answer = pb.ModelInferResponse.FromString(call(msg.SerializeToString(), timeout=30))
            got = np.frombuffer(answer.raw_output_contents[0], dtype="<i8").tolist()
            if got != expected:
                problems.append(f"gRPC answered {got[:5]}...")
        except grpc.RpcError as exc:
            problems.append(f"gRPC failed: {exc.code().name} {exc.details()}")
    return problems


def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="zeroserve-fuzz-"))
    target = Target(args, work)
    channel = grpc.insecure_channel(target.grpc_target) if target.grpc_target else None
    call = channel.unary_unary(GRPC_INFER) if channel is not None else None
    client = httpx.Client(base_url=target.url, timeout=60, trust_env=False)
    lock = threading.Lock()
    bad: collections.Counter[tuple[str, str]] = collections.Counter()
    examples: dict[tuple[str, str], str] = {}
    sent: collections.Counter[str] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    good_failures: list[str] = []
    rss = [target.rss_mb()]
    good_failures += good_checks(target, client, call)
    rss_start = target.rss_mb()
    started = time.monotonic()

    def one(case: Case) -> None:
        try:
            if case.protocol == "grpc":
                why = send_grpc(call, case) if call is not None else None
            else:
                why = send_http(client, case, host=target.host)
        except (httpx.HTTPError, OSError) as exc:
            why = f"no answer: {type(exc).__name__}"
            with lock:
                errors[case.protocol] += 1
        with lock:
            sent[case.protocol] += 1
            if why:
                key = (case.protocol, why[:100])
                bad[key] += 1
                examples.setdefault(key, f"{case.mutation}: {case.body[:160]!r}")

    cases = [
        c for c in generate(args.seed, args.cases, args.model) if c.protocol != "grpc" or call is not None
    ]
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        for start in range(0, len(cases), GOOD_EVERY):
            list(pool.map(one, cases[start : start + GOOD_EVERY]))
            rss.append(target.rss_mb())
            if target.alive() is False:
                break
            good_failures += good_checks(target, client, call)
    elapsed = time.monotonic() - started
    alive = target.alive()
    rss_end = target.rss_mb()
    client.close()
    if channel is not None:
        channel.close()
    target.stop()

    readings = [r for r in rss if r is not None]
    growth = (rss_end - rss_start) if rss_end is not None and rss_start is not None else None
    total_bad = sum(bad.values())
    ok = (
        total_bad == 0
        and alive is not False
        and not good_failures
        and (growth is None or growth < RSS_LIMIT_MB)
    )
    report = render(
        args,
        sent,
        bad,
        examples,
        errors,
        alive,
        readings,
        rss_start,
        rss_end,
        growth,
        good_failures,
        elapsed,
        ok,
    )
    print(report)
    if args.out is not None:
        args.out.write_text(report)
    return 0 if ok else 1


def render(
    args: argparse.Namespace,
    sent: collections.Counter[str],
    bad: collections.Counter[tuple[str, str]],
    examples: dict[tuple[str, str], str],
    errors: collections.Counter[str],
    alive: bool | None,
    readings: list[float],
    rss_start: float | None,
    rss_end: float | None,
    growth: float | None,
    good_failures: list[str],
    elapsed: float,
    ok: bool,
) -> str:
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    where = (
        f"the gateway {args.gateway} (Host: {args.host_header})"
        if args.gateway
        else "a `zeroserve serve sklearn` child process (iris LogisticRegression, trained by the script)"
    )
    lines = [
        "# Fault injection: malformed requests",
        "",
        f"Measured {when} by `hack/chaos/fuzz.py --cases {args.cases} --seed {args.seed} "
        f"--concurrency {args.concurrency}` against {where}, on {platform.machine()} "
        f"with {os.cpu_count()} CPUs, in {elapsed:.1f} s.",
        "",
        "Each case is a valid request of one protocol with something broken (`zeroserve.servers.fuzzing`): "
        "a field replaced by a value of another type, a shape that lies, huge or negative numbers, missing "
        "or extra keys, JSON nested 65 to 30,000 deep, truncated / flipped / inserted bytes, a binary part "
        "that disagrees with its header, random bytes as a protobuf. Good V1, V2 and gRPC requests are "
        f"checked against the model's own predictions before the run and after every {GOOD_EVERY} cases.",
        "",
        f"**Result: {'all targets met' if ok else 'TARGETS MISSED'}** "
        "(target: 0 answers >= 500 or gRPC INTERNAL/UNKNOWN, 0 crashes, RSS growth < 50 MB, "
        "every good request right).",
        "",
        "| protocol | cases | bad answers | no answer |",
        "| --- | ---: | ---: | ---: |",
    ]
    for protocol in PROTOCOLS:
        if sent[protocol]:
            n_bad = sum(v for (p, _), v in bad.items() if p == protocol)
            lines.append(f"| {protocol} | {sent[protocol]} | {n_bad} | {errors[protocol]} |")
    lines.append(f"| **all** | {sum(sent.values())} | {sum(bad.values())} | {sum(errors.values())} |")
    state = {True: "yes", False: "**no (crashed)**", None: "not watched (give --pid)"}[alive]
    lines += ["", f"- server process alive at the end: {state}"]
    if rss_start is not None and rss_end is not None and readings:
        lines.append(
            f"- RSS: {rss_start:.1f} MB after warm-up, peak {max(readings):.1f} MB, "
            f"{rss_end:.1f} MB at the end (growth {growth:+.1f} MB)"
        )
    else:
        lines.append("- RSS: not measured (the server is not a child of this script; give --pid)")
    lines.append(f"- good requests wrong: {len(good_failures)}")
    for problem in good_failures[:5]:
        lines.append(f"  - {problem}")
    if bad:
        lines += ["", "Bad answers (first example of each):", ""]
        for (protocol, why), count in bad.most_common(20):
            lines.append(f"- {count} x {protocol}: {why} — {examples[(protocol, why)]}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--model", default="iris", help="the model / InferenceService name")
    parser.add_argument("--gateway", help="base URL of a running `zeroserve up` gateway")
    parser.add_argument("--host-header", help="Host header for the gateway, e.g. iris.default.example.com")
    parser.add_argument("--pid", type=int, help="with --gateway: the instance process to watch (RSS, alive)")
    parser.add_argument("--out", type=Path, help="write the report (Markdown) here")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
