"""One log format: every entry point's stderr lines parse as the same JSON shape, and data-plane
request lines carry ``request_id`` and the caller's ``trace_id``."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.waiting import wait_until

BIN = Path(sys.executable).parent
SERVE_SAMPLE = Path(__file__).parents[1] / "servers" / "serve_sample.py"
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
TRACE = "0af7651916cd43dd8448eb211c80319c"
GRAPH = (
    '{"nodes":{"root":{"routerType":"Sequence","steps":[{"name":"s","serviceUrl":"http://127.0.0.1:9/"}]}}}'
)

pytestmark = pytest.mark.e2e


def log_lines(stderr: str, where: str) -> list[dict[str, Any]]:
    """Every stderr line as the one JSON shape (fails naming the line that is not)."""
    entries = []
    for line in stderr.splitlines():
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"{where}: a log line that is not JSON: {line!r}") from None
        assert TS.fullmatch(entry.get("ts", "")), f"{where}: ts of {line!r}"
        assert entry.get("level") in LEVELS, f"{where}: level of {line!r}"
        assert isinstance(entry.get("msg"), str), f"{where}: msg of {line!r}"
        logger = entry.get("logger", "")
        if logger.startswith("zeroserve"):  # our loggers are named after their module
            assert importlib.util.find_spec(logger) is not None, f"{where}: logger {logger!r} is no module"
        entries.append(entry)
    assert entries, f"{where} wrote no log line"
    return entries


def ready_port(path: Path, proc: subprocess.Popen[str] | None = None) -> int:
    """The port in a ready file, once it is written (fails at once when ``proc`` exited)."""

    def written() -> Any:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{proc.args} exited {proc.returncode}: {proc.communicate()[1]}")
        return path.exists() and json.loads(path.read_text() or "{}")

    written_ready = wait_until(written, 30, what=f"{path.name} is written", retry_on=(ValueError,))
    return int(written_ready.get("http_port", written_ready.get("port")))


def test_model_server_request_lines_carry_request_and_trace_ids(tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    env = {
        **os.environ,
        "ZEROSERVE_HTTP_PORT": "0",
        "ZEROSERVE_GRPC_PORT": "0",
        "ZEROSERVE_READY_FILE": str(ready),
    }
    command = [sys.executable, str(SERVE_SAMPLE), "sum"]
    with subprocess.Popen(
        command, cwd=SERVE_SAMPLE.parent, env=env, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            port = ready_port(ready)
            headers = {"traceparent": f"00-{TRACE}-b7ad6b7169203331-01", "x-request-id": "rid-observed"}
            missing = httpx.post(f"http://127.0.0.1:{port}/v1/models/nope:predict", json={}, headers=headers)
            assert missing.status_code == 404
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
    entries = log_lines(stderr, "the model server")
    request_lines = [e for e in entries if "nope" in e["msg"]]
    assert request_lines, stderr
    assert all(e["request_id"] == "rid-observed" and e["trace_id"] == TRACE for e in request_lines)
    assert {e["logger"] for e in request_lines} == {"zeroserve.servers.rest.app"}


def test_every_entry_point_logs_the_same_shape(tmp_path: Path) -> None:
    zeroserve = str(BIN / "zeroserve")
    (tmp_path / "Doubler.py").write_text(
        "class Doubler:\n    def predict(self, x, names):\n        return x\n"
    )
    seldon = [str(BIN / "seldon-core-microservice")]
    agent = [zeroserve, "logger-agent", "--upstream", "http://127.0.0.1:9"]
    # (what, command, runs until stopped): the short ones fail on purpose and log why
    runs: list[tuple[str, list[str], bool]] = [
        ("controller", [zeroserve, "controller", "--kubeconfig", str(tmp_path / "none")], False),
        ("storage-initializer", [zeroserve, "storage-initializer", str(tmp_path / "none"), "out"], False),
        (
            "serve",
            [zeroserve, "serve", "sklearn", "--model-dir", str(tmp_path / "none"), "--http-port", "0"],
            False,
        ),
        ("seldon-core-microservice", [*seldon, "Doubler", "--http-port", "0", "--grpc-port", "0"], True),
        ("router", [zeroserve, "router", "--graph-json", GRAPH, "--http-port", "0"], True),
        (
            "logger-agent",
            [*agent, "--log-url", "http://127.0.0.1:9/", "--http-port", "0"],
            True,
        ),
        ("apiserver", [zeroserve, "apiserver", "--port", "0", "--in-memory", "--state-dir", "api"], True),
        ("detector", [zeroserve, "detector", "drift", "--fit-first", "2", "--http-port", "0"], True),
    ]
    procs = []
    for what, command, serves in runs:
        ready = tmp_path / f"{what}.ready"
        full = [*command, "--ready-file", str(ready)] if serves else command
        proc = subprocess.Popen(
            full, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        procs.append((what, proc, ready if serves else None))
    outputs = {}
    for what, proc, ready in procs:
        try:
            if ready is not None:
                ready_port(ready, proc)
                proc.send_signal(signal.SIGTERM)
            outputs[what] = proc.communicate(timeout=60)[1]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for what, stderr in outputs.items():
        log_lines(stderr, what)


def test_zeroserve_up_logs_the_same_shape(tmp_path: Path) -> None:
    """``zeroserve up`` (API server, controller, engine, broker in one process) writes the same lines."""
    state = tmp_path / "state"
    command = [str(BIN / "zeroserve"), "up", "--port", "0", "--gateway-port", "0", "--state-dir", str(state)]
    proc = subprocess.Popen(
        command, cwd=tmp_path, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    try:
        wait_until(lambda: proc.poll() is not None or (state / "platform.json").exists(), 60, what="up is up")
        assert proc.poll() is None, proc.communicate()[1]
        proc.send_signal(signal.SIGTERM)
        stderr = proc.communicate(timeout=60)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    entries = log_lines(stderr, "up")
    loggers = {e["logger"] for e in entries}
    assert {"zeroserve.local.apiserver.server", "zeroserve.local.platform"} <= loggers, loggers
