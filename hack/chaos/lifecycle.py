"""Kill things under load and count what the clients saw: an instance, then the whole platform.

Brings ``zeroserve up`` on fixed free ports with a scikit-learn iris InferenceService (two replicas
kept warm), drives steady V1 load through the gateway by Host header, and:

1. ``kill -9`` of one revision instance: the gateway must retry on another instance;
2. ``kill -9`` of ``zeroserve up`` itself, restarted after ``--restart-after`` seconds on the same
   ports and state folder: the gateway must serve the last known routes as soon as it answers.

For each phase it prints (and with ``--results FILE`` appends as Markdown) the requests sent, the
failures by kind (HTTP status or connection error) and how long the failures lasted. Connection
errors while no gateway process exists (in flight at the kill, or refused until the restart) are
counted apart: nothing can answer then. Runs in about a minute::

    .venv/bin/python hack/chaos/lifecycle.py --results hack/chaos/RESULTS.md
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NAME = "chaos-iris"
ROW = [6.8, 2.8, 4.8, 1.4]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train(folder: Path) -> Path:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    features, labels = load_iris(return_X_y=True)
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(LogisticRegression(max_iter=500).fit(features, labels), folder / "model.joblib")
    return folder


@dataclass
class Tally:
    """What the clients saw during one phase."""

    sent: int = 0
    ok: int = 0
    failures: collections.Counter[str] = field(default_factory=collections.Counter)
    failure_times: list[float] = field(default_factory=list)
    down_errors: int = 0
    """Transport errors while no platform process existed: refused, or in flight when it was killed."""

    def record(self, outcome: str, at: float, platform_down: bool) -> None:
        self.sent += 1
        if outcome == "200":
            self.ok += 1
        elif platform_down and not outcome.isdigit():  # refused, or cut by the kill itself
            self.down_errors += 1
        else:
            self.failures[outcome] += 1
            self.failure_times.append(at)

    def window(self) -> float:
        return max(self.failure_times) - min(self.failure_times) if self.failure_times else 0.0


class Platform:
    def __init__(self, state: Path, api_port: int, gateway_port: int) -> None:
        self.state = state
        self.command = [
            str(BIN / "python"), "-m", "zeroserve", "up", "--port", str(api_port),
            "--gateway-port", str(gateway_port), "--state-dir", str(state),
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.env = {**os.environ, "KUBECONFIG": str(state / "kubeconfig")}

    def start(self, timeout: float = 120) -> None:
        log = (self.state / "chaos-platform.log").open("ab")
        self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                info = json.loads((self.state / "platform.json").read_text())
                if info.get("pid") == self.process.pid:
                    return
            except (OSError, ValueError):
                pass
            if self.process.poll() is not None:
                raise SystemExit("zeroserve up exited; see " + str(self.state / "chaos-platform.log"))
            time.sleep(0.05)
        raise SystemExit("zeroserve up did not become ready")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(BIN / "kubectl"), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)}: {done.stderr}")
        return done.stdout


def instance_pids(revision_prefix: str) -> list[int]:
    """Processes named ``zs:<revision>`` (the engine names its instances so)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if name.startswith("zs:" + revision_prefix[:12]):
            found.append(int(entry.name))
    return found


async def drive(gateway: str, tally_for: Any, stop: asyncio.Event, down: Any, concurrency: int) -> None:
    headers = {"Host": f"{NAME}.default.example.com"}
    body = json.dumps({"instances": [ROW]})
    start = time.monotonic()

    async def client() -> None:
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_keepalive_connections=2)) as http:
            while not stop.is_set():
                at = time.monotonic() - start
                try:
                    response = await http.post(
                        f"{gateway}/v1/models/{NAME}:predict", content=body, headers=headers
                    )
                    outcome = str(response.status_code)
                except httpx.ConnectError:
                    outcome = "connect"
                except httpx.HTTPError as exc:
                    outcome = type(exc).__name__
                tally_for().record(outcome, at, down())
                if outcome != "200":
                    await asyncio.sleep(0.01)

    await asyncio.gather(*(client() for _ in range(concurrency)))


async def main_async(args: argparse.Namespace) -> list[tuple[str, Tally]]:
    state = Path(tempfile.mkdtemp(prefix="zeroserve-chaos-"))
    model = train(state / "model")
    gateway_port = free_port()
    platform = Platform(state, free_port(), gateway_port)
    platform.start()
    phases: list[tuple[str, Tally]] = [("steady", Tally())]
    is_down = False
    try:
        platform.kubectl(
            "apply",
            "-f",
            "-",
            stdin=f"""
apiVersion: serving.kserve.io/v1beta1
kind: InferenceService
metadata: {{name: {NAME}, namespace: default}}
spec:
  predictor:
    minReplicas: 2
    sklearn: {{storageUri: "file://{model}"}}
""",
        )
        platform.kubectl("wait", "--for=condition=Ready", f"isvc/{NAME}", "--timeout=120s")
        stop = asyncio.Event()
        load = asyncio.create_task(
            drive(
                f"http://127.0.0.1:{gateway_port}",
                lambda: phases[-1][1],
                stop,
                lambda: is_down,
                args.concurrency,
            )
        )
        await asyncio.sleep(args.phase_seconds)
        pids = instance_pids(NAME)
        phases.append((f"kill -9 of one instance (of {len(pids)})", Tally()))
        if pids:
            os.kill(pids[0], signal.SIGKILL)
        await asyncio.sleep(args.phase_seconds)
        phases.append((f"kill -9 of zeroserve up, restarted after {args.restart_after:.0f} s", Tally()))
        is_down = True
        platform.kill()
        await asyncio.sleep(args.restart_after)
        await asyncio.to_thread(platform.start)
        is_down = False
        await asyncio.sleep(args.phase_seconds * 2)
        stop.set()
        await load
    finally:
        platform.stop()
    return phases


def report(phases: list[tuple[str, Tally]], concurrency: int) -> str:
    lines = [
        f"| phase (c={concurrency}) | requests | 200 | failures | failures by kind | failing for "
        "| refused while down |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, tally in phases:
        kinds = ", ".join(f"{count} x {kind}" for kind, count in tally.failures.most_common()) or "-"
        lines.append(
            f"| {name} | {tally.sent} | {tally.ok} | {sum(tally.failures.values())} | {kinds} | "
            f"{tally.window():.1f} s | {tally.down_errors} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--phase-seconds", type=float, default=8.0)
    parser.add_argument("--restart-after", type=float, default=4.0)
    parser.add_argument("--results", type=Path, help="append the table to this Markdown file")
    args = parser.parse_args()
    phases = asyncio.run(main_async(args))
    table = report(phases, args.concurrency)
    print(table)
    if args.results:
        with args.results.open("a") as out:
            out.write(f"\n### Kills under load ({time.strftime('%Y-%m-%d')})\n\n{table}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
