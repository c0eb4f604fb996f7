"""``kill -9`` of ``zeroserve up`` and a restart: the gateway serves the stored routes at once.

A real platform process (API server + engine), a Knative Service of the stand-in image, clients
sending requests the whole time; after the restart no request gets a 404 ("no route") or a 503 ("no
revision ready"): the gateway holds requests until its first pass has installed the stored routes and
started their revisions, adopting the instances that outlived the platform.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml

from zeroserve.local.testing import platform_process

from .conftest import STANDIN, STANDIN_IMAGE

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ENGINE = "zeroserve.local.engine.component:EngineComponent"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _listening(pids: set[int]) -> list[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if any(f"pid={pid}," in line for pid in pids)]


class Load:
    """Clients sending requests in a loop, counting answers (``down``: no connection at all)."""

    def __init__(self, url: str, host: str, clients: int = 4) -> None:
        self.url, self.host = url, host
        self.counts: Counter[str] = Counter()
        self.bad: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(clients)]

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    resp = client.get(self.url, headers={"Host": self.host})
                    key = str(resp.status_code)
                    if resp.status_code != 200:
                        with self._lock:
                            self.bad.append(resp.text[:200])
                except httpx.TransportError:
                    key = "down"
                    time.sleep(0.01)
                with self._lock:
                    self.counts[key] += 1

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def take(self) -> Counter[str]:
        with self._lock:
            counts, self.counts = self.counts, Counter()
            return counts


def test_restart_after_kill_serves_the_last_routes_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images = tmp_path / "images.yaml"
    images.write_text(
        yaml.safe_dump({"images": {STANDIN_IMAGE.split(":")[0]: {"command": ["python", str(STANDIN)]}}})
    )
    monkeypatch.setenv("ZEROSERVE_ENGINE_IMAGES_FILE", str(images))
    monkeypatch.setenv("ZEROSERVE_ENGINE_USE_ZYGOTE", "false")
    monkeypatch.setenv("ZEROSERVE_ENGINE_GPUS", "[]")
    gateway_port = _free_port()
    ksvc = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "steady", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [{"image": STANDIN_IMAGE}]},
            }
        },
    }
    state = tmp_path / "state"
    with platform_process(state, components=[ENGINE], args=["--gateway-port", str(gateway_port)]) as platform:
        platform.kubectl("apply", "-f", "-", input=json.dumps(ksvc))
        url = f"http://127.0.0.1:{gateway_port}/"
        deadline = time.monotonic() + 60
        while httpx.get(url, headers={"Host": "steady.default"}).status_code != 200:
            assert time.monotonic() < deadline, platform.log()[-3000:]
            time.sleep(0.1)
        pid_before = httpx.get(url, headers={"Host": "steady.default"}).json()["pid"]
        with Load(url, "steady.default") as load:
            time.sleep(1.0)
            before = load.take()
            platform.restart()
            during = load.take()
            time.sleep(5.0)
            after = load.take()
        # the instance outlived the platform and was adopted, not started afresh
        assert httpx.get(url, headers={"Host": "steady.default"}).json()["pid"] == pid_before
        print(f"before={dict(before)} restart={dict(during)} after={dict(after)}", file=sys.stderr)
        # the adopted instance is no longer the new platform's descendant: name it
        listening = _listening({platform.process.pid, *_descendants(platform.process.pid), pid_before})
        # API server, gateway and the instance: nothing of ours on a non-loopback address
        assert len(listening) >= 3, listening
        assert all(a.rsplit(":", 1)[0] in ("127.0.0.1", "[::1]", "[::ffff:127.0.0.1]") for a in listening), (
            listening
        )
        assert set(before) == {"200"}, before
        # while the process is gone clients cannot connect; every answer it gives is a good one
        assert set(during) <= {"200", "down"}, (during, load.bad[:3])
        assert set(after) == {"200"}, (after, load.bad[:3])
        assert after["200"] > 50
