"""``zeroserve router`` as a real process: ready file, routing, SIGTERM, restart with bandit state."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from support.waiting import WaitTimeout, wait_until

from zeroserve.router.cli import main
from zeroserve.router.planner import BANDITS_ANNOTATION


def graph(svc: str) -> dict[str, Any]:
    bandit = {"root": {"strategy": "EpsilonGreedy", "epsilon": 0.0, "seed": 1}}
    return {
        "metadata": {"name": "cli-graph", "annotations": {BANDITS_ANNOTATION: orjson.dumps(bandit).decode()}},
        "spec": {
            "nodes": {
                "root": {
                    "routerType": "Splitter",
                    "steps": [
                        {"name": "a", "nodeName": "chain", "weight": 60},
                        {"name": "b", "serviceUrl": f"{svc}/predict/b", "weight": 40},
                    ],
                },
                "chain": {
                    "routerType": "Sequence",
                    "steps": [
                        {"serviceUrl": f"{svc}/predict/a"},
                        {"serviceUrl": f"{svc}/echo/end", "data": "$response"},
                    ],
                },
            }
        },
    }


class RouterProcess:
    """``python -m zeroserve router`` on port 0, its port read from the ready file."""

    def __init__(self, args: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.ready_file = workdir / f"ready-{time.monotonic_ns()}.json"
        env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "PORT": "0", **(env or {})}
        if not env.get("HTTP_PROXY"):
            env.pop("HTTP_PROXY", None)
            env.pop("http_proxy", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zeroserve", "router", *args, "--ready-file", str(self.ready_file)],
            env=env,
            stderr=subprocess.PIPE,
        )

        def started() -> bool:
            if self.ready_file.exists():
                return True
            if self.proc.poll() is not None:
                raise RuntimeError(f"router did not start: {self.proc.stderr.read().decode()}")  # type: ignore[union-attr]
            return False

        try:
            wait_until(started, 30, what="the router's ready file", interval=0.05, retry_on=())
        except WaitTimeout:
            self.proc.kill()
            raise
        ready = orjson.loads(self.ready_file.read_bytes())
        assert ready["pid"] == self.proc.pid
        self.url = f"http://127.0.0.1:{ready['http_port']}"

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        _, stderr = self.proc.communicate(timeout=30)
        return self.proc.returncode, stderr.decode()


@pytest.fixture
def state_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state"


def test_the_router_process_routes_learns_and_keeps_state_across_a_restart(
    svc: str, tmp_path: Path, state_dir: Path
) -> None:
    args = [
        "--graph-json",
        orjson.dumps(graph(svc)).decode(),
        "--state-dir",
        str(state_dir),
        "--http-port",
        "0",
    ]
    first = RouterProcess(args, tmp_path)
    try:
        with httpx.Client(base_url=first.url, trust_env=False) as client:
            assert client.get("/readyz").status_code == 200
            response = client.post(
                "/v1/models/g:predict", json={"instances": [1]}, headers={"x-request-id": "r1"}
            )
            assert response.status_code == 200
            assert response.headers["x-zeroserve-routing"] == "root=a"
            assert response.json()["request"]["predictions"] == ["a"]  # the nested Sequence ran
            feedback = client.post("/feedback", json={"requestId": "r1", "reward": 0})
            assert feedback.json() == {"applied": {"root": "a"}}
            client.post("/feedback", json={"routing": {"root": "b"}, "reward": 1})
            learned = client.get("/bandits").json()
            assert "zeroserve_router_bandit_feedback_total" in client.get("/metrics").text
    finally:
        code, stderr = first.stop()
    assert code == 0
    assert all(line.startswith("{") for line in stderr.splitlines() if line.strip()), stderr
    assert mode(state_dir) == 0o700 and mode(state_dir / "bandits.json") == 0o600
    second = RouterProcess(args, tmp_path)
    try:
        with httpx.Client(base_url=second.url, trust_env=False) as client:
            assert client.get("/bandits").json() == learned
            assert client.post("/", json={}).headers["x-zeroserve-routing"] == "root=b"
    finally:
        second.stop()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_bandit_state_defaults_to_a_private_folder_under_zeroserve_home(svc: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    router = RouterProcess(
        ["--graph-json", orjson.dumps(graph(svc)).decode()], tmp_path, {"ZEROSERVE_HOME": str(home)}
    )
    try:
        with httpx.Client(base_url=router.url, trust_env=False) as client:
            assert client.post("/feedback", json={"routing": {"root": "b"}, "reward": 1}).status_code == 200
    finally:
        code, _ = router.stop()
    assert code == 0
    state = home / "router" / "default" / "cli-graph" / "bandits.json"
    assert orjson.loads(state.read_bytes())["nodes"]["root"]["arms"][1]["reward"] == 1.0
    assert mode(state) == 0o600
    assert [mode(folder) for folder in (home, home / "router", state.parent.parent, state.parent)] == [
        0o700
    ] * 4


def test_a_busy_port_is_one_line_naming_the_port_and_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    spec = {"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceUrl": "http://x/"}]}}}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            ["--graph-json", orjson.dumps(spec).decode(), "--host", "127.0.0.1", "--http-port", str(port)]
        )
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"127.0.0.1:{port}" in err and "--http-port" in err


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
def test_cluster_addresses_go_through_http_proxy(svc: str, tmp_path: Path, client: str) -> None:
    """The local platform gives instances ``HTTP_PROXY`` (its gateway); both step clients honour it."""
    spec = {"nodes": {"root": {"routerType": "Sequence", "steps": [{"serviceName": "iris"}]}}}
    args = ["--graph-json", orjson.dumps(spec).decode(), "--namespace", "team", "--http-client", client]
    proxied = RouterProcess(args, tmp_path, env={"HTTP_PROXY": f"{svc}/"})
    try:
        with httpx.Client(base_url=proxied.url, trust_env=False) as http:
            response = http.post("/", json={"instances": [1]})
    finally:
        proxied.stop()
    assert response.status_code == 404  # the step services have no /v1/models/... path
    assert response.json() == {"error": "no such test service /v1/models/iris:predict"}


def test_an_invalid_graph_exits_2_listing_every_issue(capsys: pytest.CaptureFixture[str]) -> None:
    bad = {
        "nodes": {
            "root": {"routerType": "Splitter", "steps": [{"serviceUrl": "http://x/", "weight": 10}]},
            "sw": {"routerType": "Switch", "steps": [{"serviceUrl": "http://x/"}]},
        }
    }
    assert main(["--graph-json", orjson.dumps(bad).decode()]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "invalid graph: spec.nodes[root].steps: splitter node: the sum of traffic weights for all routing "
        "targets should be 100",
        "invalid graph: spec.nodes[sw].steps[0].condition: is required for a Switch step",
    ]


def test_a_graph_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "--graph-json or --graph-file is required" in capsys.readouterr().err
