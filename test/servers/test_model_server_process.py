"""``ModelServer().start`` in a real process: env settings, ready file, SIGTERM, worker processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support.waiting import wait_until

HERE = Path(__file__).resolve().parent

pytestmark = pytest.mark.slow


class ServerProcess:
    """``serve_sample.py <kind>`` in a child process, with its ports read from the ready file."""

    def __init__(self, kind: str, tmp_path: Path, **env: str) -> None:
        self.ready_file = tmp_path / "ready.json"
        full_env = dict(os.environ)
        full_env.update(
            PORT="0",
            ZEROSERVE_GRPC_PORT="0",
            ZEROSERVE_READY_FILE=str(self.ready_file),
            PYTHONPATH=os.pathsep.join([str(HERE), full_env.get("PYTHONPATH", "")]),
        )
        full_env.pop("ZEROSERVE_HTTP_PORT", None)
        full_env.update(env)
        self.stderr_path = tmp_path / "stderr.log"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "serve_sample.py"), kind], env=full_env, stderr=self._stderr
        )
        self.info = self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> dict[str, Any]:

        def ready_info() -> dict[str, Any] | None:
            if self.ready_file.exists():
                return json.loads(self.ready_file.read_text())
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {self.stderr_path.read_text()}")
            return None

        return wait_until(ready_info, timeout, what="the server's ready file", interval=0.05, retry_on=())  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.info['http_port']}"

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._stderr.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._stderr.close()


@pytest.fixture
def run_server(tmp_path: Path) -> Iterator[Any]:
    started: list[ServerProcess] = []

    def start(kind: str, **env: str) -> ServerProcess:
        server = ServerProcess(kind, tmp_path, **env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def test_env_settings_ready_file_and_sigterm(run_server: Any) -> None:
    server = run_server("sum")
    assert server.info["pid"] == server.proc.pid
    assert server.info["http_port"] > 0 and server.info["grpc_port"] > 0
    with socket.create_connection(("127.0.0.1", server.info["grpc_port"]), timeout=5):
        pass
    r = httpx.post(f"{server.url}/v1/models/sum:predict", json={"instances": [[1, 2]]}, trust_env=False)
    assert r.json() == {"predictions": [3.0]}
    assert server.terminate() == 0
    lines = [orjson.loads(line) for line in server.stderr_path.read_text().splitlines() if line.strip()]
    assert lines, "expected structured logs on stderr"
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines)
    assert any(line["msg"] == "shutting down" for line in lines)


def test_sigterm_lets_in_flight_requests_finish(run_server: Any, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    server = run_server("slow", SLOW_DELAY="1.5", SLOW_MARKER=str(marker), ZEROSERVE_GRPC_PORT="-1")
    assert server.info["grpc_port"] is None
    result: dict[str, Any] = {}

    def call() -> None:
        result["response"] = httpx.post(
            f"{server.url}/v1/models/slow:predict", json={"instances": [1]}, timeout=30, trust_env=False
        )

    thread = threading.Thread(target=call)
    thread.start()
    wait_until(marker.exists, 20, what="the request to reach the model", interval=0.02, retry_on=())
    assert server.terminate() == 0
    thread.join(30)
    assert result["response"].status_code == 200
    assert result["response"].json() == {"predictions": ["done"]}


def test_workers_share_one_port(run_server: Any) -> None:
    server = run_server("pid", ZEROSERVE_WORKERS="2")
    pids: set[int] = set()
    deadline = time.monotonic() + 30
    while len(pids) < 2 and time.monotonic() < deadline:
        with httpx.Client(trust_env=False, headers={"connection": "close"}) as client:
            r = client.post(f"{server.url}/v1/models/pid:predict", json={"instances": [1]})
            assert r.status_code == 200
            pids.add(r.json()["predictions"][0])
    assert len(pids) == 2, f"expected two worker processes to answer, saw {pids}"
    assert server.info["pid"] not in pids
    assert server.terminate() == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
