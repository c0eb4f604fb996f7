"""Fixtures of the SeldonDeployment tests: Seldon components from ``examples/`` as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.waiting import wait_until

EXAMPLES = Path(__file__).parent / "examples"
MICROSERVICE = Path(sys.executable).parent / "seldon-core-microservice"
COMPONENTS: dict[str, list[str]] = {
    "Doubler": [],
    "Adder": ["--parameters", json.dumps([{"name": "add", "value": "1", "type": "FLOAT"}])],
    "Picker": ["--service-type", "ROUTER"],
    "Summer": ["--service-type", "COMBINER"],
    "Scaler": ["--service-type", "TRANSFORMER"],
    "Negator": ["--service-type", "OUTPUT_TRANSFORMER"],
}

GRPC_PORTS: dict[str, int] = {}
"""Each example's gRPC port, filled by the ``components`` fixture."""


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(ready: Path, process: subprocess.Popen[bytes], log: Path) -> int | None:
    if process.poll() is not None:
        raise AssertionError(f"exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
    return int(json.loads(ready.read_text())["http_port"]) if ready.exists() else None


@pytest.fixture(scope="session")
def feedback_file() -> Iterator[Path]:
    """Where the Picker router records the feedback it receives."""
    with tempfile.TemporaryDirectory(prefix="zeroserve-sdep-fb-") as tmp:
        yield Path(tmp) / "feedback.jsonl"


@pytest.fixture(scope="session")
def components(feedback_file: Path) -> Iterator[dict[str, int]]:
    """Every example served by ``seldon-core-microservice`` (REST and gRPC): class name -> HTTP port."""
    with tempfile.TemporaryDirectory(prefix="zeroserve-sdep-") as tmp:
        folder = Path(tmp)
        started: dict[str, tuple[subprocess.Popen[bytes], Path, Path]] = {}
        try:
            for name, args in COMPONENTS.items():
                ready, log = folder / f"{name}.ready", folder / f"{name}.log"
                argv = [str(MICROSERVICE), name, *args, "--http-port", "0", "--grpc-port", "0"]
                argv += ["--host", "127.0.0.1", "--ready-file", str(ready)]
                env = {
                    **os.environ,
                    "ZEROSERVE_HOME": str(folder / "home"),
                    "PREDICTIVE_UNIT_ID": name.lower(),
                    "PICKER_FEEDBACK_FILE": str(feedback_file),
                }
                with log.open("wb") as out:
                    started[name] = (
                        subprocess.Popen(argv, cwd=EXAMPLES, env=env, stdout=out, stderr=out),
                        ready,
                        log,
                    )
            ports = {
                name: wait_until(
                    lambda p=process, r=ready, lg=log: _ready(r, p, lg),
                    60,
                    what=f"{name} to be ready",
                    interval=0.05,
                    retry_on=(OSError, ValueError),
                )
                for name, (process, ready, log) in started.items()
            }
            for name, (_, ready, _) in started.items():
                GRPC_PORTS[name] = int(json.loads(ready.read_text())["grpc_port"])
            yield ports
        finally:
            for process, _, _ in started.values():
                _stop(process)


@pytest.fixture(scope="session")
def grpc_components(components: dict[str, int]) -> dict[str, int]:
    """Every example's gRPC port (the same processes as ``components``): class name -> port."""
    return dict(GRPC_PORTS)
