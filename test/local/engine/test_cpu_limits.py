"""CPU limits of process instances: a cgroup per instance (forked from the zygote or started afresh),
throttling in the metrics, the group gone with its instance; without a cgroup, a throttle or a clear
line in the log. CPU time is read from ``/proc`` here, not from the engine."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.waiting import wait_until_async

from zeroserve.local.engine.cgroups import CpuControl
from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.revision import RevisionRuntime, RevisionSpec

from .conftest import condition_of, fast_settings, serving_platform

pytestmark = pytest.mark.e2e

_TICKS = os.sysconf("SC_CLK_TCK")

SPINNER = """
import os, subprocess, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a child: it must be held too


class Ok(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")


HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Ok).serve_forever()
"""

SPIN_MODEL = """
import subprocess, sys

from zeroserve.servers.model import Model


class Spin(Model):
    def load(self):
        self.spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        self.ready = True
        return True

    def predict(self, payload, headers=None):
        return {"spinner": self.spinner.pid}
"""


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("programs")
    (folder / "spinner.py").write_text(SPINNER)
    (folder / "spin_model.py").write_text(SPIN_MODEL)
    return {"spinner": folder / "spinner.py", "model": folder / "spin_model.py"}


def _spec(name: str, container: dict[str, Any], cpu: str | None) -> RevisionSpec:
    if cpu is not None:
        container = {**container, "resources": {"limits": {"cpu": cpu}}}
    return RevisionSpec(
        namespace="default",
        name=name,
        service=name.rsplit("-", 1)[0],
        container=container,
        annotations={"autoscaling.knative.dev/min-scale": "1"},
    )


def _fresh(programs: dict[str, Path]) -> dict[str, Any]:
    return {"image": "ghcr.io/zeroserve/zeroserve:latest", "command": ["python", str(programs["spinner"])]}


def _forked(programs: dict[str, Path]) -> dict[str, Any]:
    args = ["serve", "custom", f"--model_class={programs['model']}:Spin", "--model_name=spin"]
    return {"image": "ghcr.io/zeroserve/zeroserve:latest", "args": args}


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        one = todo.pop()
        out.append(one)
        for tid in os.listdir(f"/proc/{one}/task"):
            with open(f"/proc/{one}/task/{tid}/children") as fh:
                todo.extend(int(c) for c in fh.read().split())
    return out


def _cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICKS


async def _serving(rev: RevisionRuntime) -> list[int]:
    """The instance's processes once it serves and its spinning child runs."""
    await wait_until_async(lambda: rev.ready_count == 1, 60.0, interval=0.05, retry_on=())
    pid = rev.instances[0].pid
    assert pid is not None

    def spinning() -> list[int] | None:
        tree = _tree(pid)
        return tree if len(tree) >= 2 else None

    return list(await wait_until_async(spinning, 10.0, interval=0.05))


async def _measure(
    trees: dict[str, list[int]], unlimited: str | None = None
) -> tuple[float, dict[str, float]]:
    """CPU seconds of each tree over at least 1.5 s of wall time (longer, up to 10 s, until the
    unlimited one has had 0.6 s: a loaded machine gives it less)."""
    start = {name: _cpu(pids) for name, pids in trees.items()}
    began = time.monotonic()
    while True:
        await asyncio.sleep(0.25)
        wall = time.monotonic() - began
        used = {name: _cpu(pids) - start[name] for name, pids in trees.items()}
        enough = unlimited is None or used[unlimited] >= 0.6
        if wall >= 1.5 and (enough or wall > 10):
            return wall, used


async def _metrics(engine: Engine) -> str:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{engine.gateway_port}") as client:
        return (await client.get("/metrics")).text


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return int(fh.read().rsplit(b")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _cgroup_line(pid: int) -> str:
    with open(f"/proc/{pid}/cgroup") as fh:
        return next((line for line in fh if "cpu" in line.split(":")[1].split(",")), "")


def _cgroups_usable(tmp_path: Path) -> bool:
    control = CpuControl(tmp_path / "probe")
    usable = control.probe().startswith("cgroup")
    control.close()
    return usable


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    settings = fast_settings(use_zygote=True, zygote_preload=["zeroserve.servers.cli"])
    eng = Engine(settings, tmp_path / "state", resolve_model=Path)
    await eng.start("127.0.0.1", 0)
    await eng.wait_warm()
    try:
        yield eng
    finally:
        await eng.stop()


async def test_a_cpu_limit_holds_forked_and_fresh_instances_in_their_own_cgroups(
    engine: Engine, programs: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if not _cgroups_usable(tmp_path):
        pytest.skip("no writable cgroup with the cpu controller on this machine")
    caplog.set_level(logging.INFO, logger="zeroserve.local.engine.cgroups")
    forked = engine.ensure_revision(_spec("forked-00001", _forked(programs), "200m"))
    fresh = engine.ensure_revision(_spec("fresh-00001", _fresh(programs), "0.2"))
    free = engine.ensure_revision(_spec("free-00001", _fresh(programs), None))
    trees = {"forked": await _serving(forked), "fresh": await _serving(fresh), "free": await _serving(free)}
    assert _parent(trees["forked"][0]) != os.getpid()  # forked by the zygote
    assert _parent(trees["fresh"][0]) == os.getpid()  # started afresh by the engine

    wall, used = await _measure(trees, unlimited="free")
    for name in ("forked", "fresh"):
        assert used[name] < 0.2 * wall + 0.15, (name, wall, used)
    assert used["free"] > used["forked"] + used["fresh"], (wall, used)

    groups = {}
    for name, rev in (("forked", forked), ("fresh", fresh)):
        group = rev.instances[0].cpu_group
        assert group is not None
        groups[name] = group.path
        for pid in trees[name]:  # the instance and the child it started are both in the group
            assert _cgroup_line(pid).rstrip().endswith(group.path.name), (name, pid, _cgroup_line(pid))
        quota = group.path / ("cpu.cfs_quota_us" if group.version == 1 else "cpu.max")
        assert quota.read_text().split()[0] == "20000"
    assert free.instances[0].cpu_group is None
    said = [r.getMessage() for r in caplog.records if "CPU limits of process instances" in r.getMessage()]
    assert len(said) == 1 and f"groups under {groups['fresh'].parent}" in said[0], said  # once
    assert "zeroserve-" not in _cgroup_line(trees["free"][1])

    cpu_lines = [x for x in (await _metrics(engine)).splitlines() if x.startswith("zeroserve_engine_cpu")]
    for revision in ("forked-00001", "fresh-00001"):
        mine = [x for x in cpu_lines if f'revision="{revision}"' in x]
        throttled = next(x for x in mine if x.startswith("zeroserve_engine_cpu_throttled_periods_total"))
        assert float(throttled.rsplit(" ", 1)[1]) > 0, mine
        limit = next(x for x in mine if x.startswith("zeroserve_engine_cpu_limit_cores"))
        assert 'mechanism="cgroup' in limit and limit.endswith(" 0.2"), limit
    assert not [x for x in cpu_lines if 'revision="free-00001"' in x]

    await engine.remove_revision("default", "forked-00001")
    await engine.remove_revision("default", "fresh-00001")
    for path in groups.values():
        assert not path.exists()
    gone = [pid for pid in trees["forked"] + trees["fresh"] if not _alive(pid)]
    assert gone == trees["forked"] + trees["fresh"]  # the spinning children went with their instances
    parent = next(iter(groups.values())).parent
    await engine.stop()
    assert not parent.exists()


async def test_without_a_cgroup_a_throttle_holds_the_instance_and_the_log_says_why(
    programs: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = tmp_path / "not-a-cgroup"
    plain.mkdir()
    caplog.set_level(logging.INFO, logger="zeroserve.local.engine.cgroups")
    eng = Engine(fast_settings(cgroup_root=plain), tmp_path / "state", resolve_model=Path)
    await eng.start("127.0.0.1", 0)
    try:
        held = eng.ensure_revision(_spec("held-00001", _fresh(programs), "200m"))
        tree = await _serving(held)
        wall, used = await _measure({"held": tree})
        assert used["held"] < 0.2 * wall + 0.3, (wall, used)
        assert held.instances[0].cpu_mechanism == "throttle"
        assert 'mechanism="throttle"' in await _metrics(eng)
    finally:
        await eng.stop()
    assert f"{plain} is not a cgroup with the cpu controller" in caplog.text
    assert "SIGSTOP/SIGCONT duty cycle" in caplog.text
    assert list(plain.iterdir()) == []  # nothing half-made left in the folder


async def test_with_no_mechanism_the_instance_runs_unlimited_and_the_log_says_why(
    programs: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="zeroserve.local.engine.cgroups")
    missing = tmp_path / "no-such-cgroup"
    settings = fast_settings(cgroup_root=missing, cpu_throttle=False)
    eng = Engine(settings, tmp_path / "state", resolve_model=Path)
    await eng.start("127.0.0.1", 0)
    try:
        rev = eng.ensure_revision(_spec("open-00001", _fresh(programs), "100m"))
        await _serving(rev)
        assert rev.instances[0].cpu_mechanism is None
        assert "zeroserve_engine_cpu_limit_cores{" not in await _metrics(eng)
    finally:
        await eng.stop()
    assert (
        "CPU limits of process instances: not enforced (ZEROSERVE_ENGINE_CPU_THROTTLE is off)" in caplog.text
    )
    assert f"because {missing} is not a cgroup" in caplog.text
    assert not missing.exists()


def test_leftover_groups_of_a_crashed_run_are_removed_but_busy_ones_stay(tmp_path: Path) -> None:
    if not _cgroups_usable(tmp_path):
        pytest.skip("no writable cgroup with the cpu controller on this machine")
    import subprocess

    earlier = CpuControl(tmp_path)
    empty = earlier.group("default.gone-00001", 0.5)
    busy = earlier.group("default.kept-00001", 0.5)
    assert empty is not None and busy is not None
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert busy.add(sleeper.pid)
        later = CpuControl(tmp_path)  # the next run of the same platform
        assert later.probe() == earlier.mechanism
        assert not empty.path.exists()
        assert busy.path.exists()
        adopted = later.group_of(sleeper.pid, 0.5)
        assert adopted is not None and adopted.path == busy.path
        assert adopted.remove()  # kills what is left in it
        assert sleeper.wait(5) == -9
    finally:
        sleeper.kill()
        later.close()
    assert not earlier.parent or not earlier.parent.exists()


async def test_a_knative_service_applied_with_kubectl_gets_its_cpu_limit_and_loses_its_group_on_delete(
    programs: dict[str, Path], tmp_path: Path
) -> None:
    if not _cgroups_usable(tmp_path):
        pytest.skip("no writable cgroup with the cpu controller on this machine")
    container = {**_fresh(programs), "resources": {"limits": {"cpu": "250m", "memory": "1Gi"}}}
    service = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "spin", "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [container]},
            }
        },
    }
    async with serving_platform(tmp_path, fast_settings(poll_interval=0.2)) as platform:
        await platform.kubectl_async("apply", "-f", "-", input=json.dumps(service))
        engine = platform.component.engine
        assert engine is not None
        rev = await wait_until_async(lambda: engine.revisions.get(("default", "spin-00001")), 30.0)
        tree = await _serving(rev)

        async def ready() -> bool:
            return condition_of(await platform.get("ksvc", "spin"), "Ready").get("status") == "True"

        await wait_until_async(ready, 30.0, interval=0.2, retry_on=())
        group = rev.instances[0].cpu_group
        assert group is not None and group.cpus == 0.25
        assert all(_cgroup_line(pid).rstrip().endswith(group.path.name) for pid in tree)

        async def throttled() -> bool:
            stat = group.stat()
            return stat is not None and stat.throttled_periods > 0

        await wait_until_async(throttled, 10.0, interval=0.1, retry_on=())
        await platform.kubectl_async("delete", "ksvc", "spin", "-n", "default")
        await wait_until_async(lambda: not group.path.exists(), 30.0, interval=0.1, retry_on=())
        assert not any(_alive(pid) for pid in tree)
