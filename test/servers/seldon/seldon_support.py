"""Helpers of the Seldon wrapper tests: Seldon's own examples served by ``seldon-core-microservice``.

A plain module of this folder (imported by name, as ``test/servers``' ``servers_support``). Every
example of ``examples/`` runs as a real process, started the Seldon way (the working directory is
the example folder, the interface name is the module), on free ports reported through
``--ready-file``. All of them start at once, once per session.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.waiting import wait_until

EXAMPLES = Path(__file__).parent / "examples"
MICROSERVICE = Path(sys.executable).parent / "seldon-core-microservice"
SELDON_VENV = Path(__file__).resolve().parents[3] / ".venv-seldon"

IRIS_PARAMETERS = [
    {"name": "scale", "value": "2", "type": "FLOAT"},
    {"name": "offset", "value": "1", "type": "INT"},
    {"name": "label", "value": "setosa", "type": "STRING"},
    {"name": "verbose", "value": "true", "type": "BOOL"},
    {"name": "extra", "value": '{"a": [1, 2]}', "type": "JSON"},
]

# name -> (arguments after the interface name, extra environment)
COMPONENTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "IrisModel": (["--parameters", json.dumps(IRIS_PARAMETERS)], {"PREDICTIVE_UNIT_ID": "iris"}),
    "TwoArgModel": ([], {}),
    "ABRouter": (
        ["--service-type", "ROUTER"],
        {
            "PREDICTIVE_UNIT_ID": "router",
            "PREDICTIVE_UNIT_PARAMETERS": json.dumps([{"name": "n_branches", "value": "3", "type": "INT"}]),
        },
    ),
    "MeanCombiner": (["--service-type", "COMBINER"], {}),
    "ScaleTransformer": (["--service-type", "TRANSFORMER"], {}),
    "LabelOutputTransformer": (["--service-type", "OUTPUT_TRANSFORMER"], {}),
    "MetricsModel": ([], {}),
    "OutlierDetector": (["--service-type", "OUTLIER_DETECTOR"], {}),
    "RawModel": ([], {}),
}


@dataclass
class Component:
    """A running ``seldon-core-microservice``."""

    name: str
    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


def _ready(ready: Path, process: subprocess.Popen[bytes], log: Path) -> dict[str, Any] | None:
    if process.poll() is not None:
        raise AssertionError(f"exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
    if ready.exists():
        return dict(json.loads(ready.read_text()))
    return None


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_components(
    specs: dict[str, tuple[list[str], dict[str, str]]], folder: Path, cwd: Path = EXAMPLES
) -> dict[str, Component]:
    """Start every component of ``specs`` at once and wait until all are ready."""
    started: dict[str, tuple[subprocess.Popen[bytes], Path, Path]] = {}
    try:
        for name, (args, env) in specs.items():
            ready, log = folder / f"{name}.ready", folder / f"{name}.log"
            argv = [str(MICROSERVICE), name, *args, "--http-port", "0", "--grpc-port", "0"]
            argv += ["--host", "127.0.0.1", "--ready-file", str(ready)]
            full_env = {**os.environ, "ZEROSERVE_HOME": str(folder / "home"), **env}
            with log.open("wb") as out:
                process = subprocess.Popen(argv, cwd=cwd, env=full_env, stdout=out, stderr=out)
            started[name] = (process, ready, log)
        out: dict[str, Component] = {}
        for name, (process, ready, log) in started.items():
            info = wait_until(
                lambda p=process, r=ready, lg=log: _ready(r, p, lg),
                60,
                what=f"{name} to be ready",
                interval=0.05,
                retry_on=(OSError, ValueError),
            )
            out[name] = Component(name, process, int(info["http_port"]), int(info["grpc_port"]), log)
        return out
    except BaseException:
        for process, _, _ in started.values():
            stop_process(process)
        raise
