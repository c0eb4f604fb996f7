"""The container runner's plans (``<engine> run`` flags), the no-engine message, limits, the memory watch.

Plans are built for a named engine without running it; the memory watch runs a real Python process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from support.waiting import wait_until, wait_until_async

from zeroserve.local.engine.containers import INSTALL_HINT, ContainerEngine, ContainerHandle, ContainerRuntime
from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.images import ImageNotRunnable, ImageTable, LaunchPlan, plan_launch
from zeroserve.local.engine.instances import Instance, InstanceFailed, free_port
from zeroserve.local.engine.limits import Limits, tree_memory_bytes
from zeroserve.local.engine.settings import EngineSettings
from zeroserve.local.engine.spec import RevisionSpec

PODMAN = ContainerEngine("podman", "/usr/bin/podman")
CONTAINER = {
    "name": "kserve-container",
    "image": "quay.io/acme/custom:1",
    "command": ["/server", "--verbose"],
    "args": ["--port", "$(PORT)", "--name", "$(MODEL)", "$$(PORT)"],
    "env": [{"name": "MODEL", "value": "m"}, {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {}}}],
    "ports": [{"containerPort": 9000}],
    "readinessProbe": {"httpGet": {"path": "/v1/models/m"}},
    "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
    "workingDir": "/work",
}
ENV = {"K_SERVICE": "s", "K_REVISION": "s-00001", "HTTP_PROXY": "http://127.0.0.1:1", "HOME": "/root"}


def _plan(tmp_path: Path, network: str = "bridge", engine: ContainerEngine = PODMAN) -> LaunchPlan:
    runtime = ContainerRuntime("", tmp_path, network=network, engine=engine)
    return runtime.plan(
        CONTAINER, namespace="ns", revision="s-00001", model_dir=tmp_path, port=41000, env=ENV
    )


def _pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def test_plan_publishes_the_container_port_on_loopback_with_env_limits_and_entrypoint(tmp_path: Path) -> None:
    plan = _plan(tmp_path)
    argv = plan.argv
    assert argv[:4] == ["/usr/bin/podman", "run", "--name", "zeroserve-ns-s-00001-1"]
    assert _pairs(argv, "-p") == ["127.0.0.1:41000:9000"]
    env = _pairs(argv, "-e")
    assert "PORT=9000" in env and "MODEL=m" in env and "K_REVISION=s-00001" in env
    assert not any(e.startswith(("HTTP_PROXY", "HOME", "FROM_SECRET")) for e in env)
    assert _pairs(argv, "--memory") == [str(64 * 2**20)] == _pairs(argv, "--memory-swap")
    assert _pairs(argv, "--cpus") == ["0.5"]
    assert _pairs(argv, "-v") == [f"{tmp_path.resolve()}:/mnt/models:ro"]
    assert _pairs(argv, "-w") == ["/work"]
    assert "--http-proxy=false" in argv
    image_at = argv.index("quay.io/acme/custom:1")
    assert argv[image_at - 2 : image_at] == ["--entrypoint", "/server"]
    assert argv[image_at + 1 :] == ["--verbose", "--port", "9000", "--name", "m", "$(PORT)"]
    assert plan.port == 41000 and plan.probe_path == "/v1/models/m" and plan.ready_file is None
    handle = plan.extra["container"]
    assert isinstance(handle, ContainerHandle) and handle.name == "zeroserve-ns-s-00001-1"
    assert "HTTP_PROXY" not in plan.env  # the engine's own client must not pull through the gateway
    assert _plan(tmp_path).argv[3] == "zeroserve-ns-s-00001-1"  # a fresh runtime counts from 1 again


def test_plan_on_the_host_network_listens_on_port_and_keeps_the_gateway_proxy(tmp_path: Path) -> None:
    argv = _plan(tmp_path, network="host", engine=ContainerEngine("docker", "/usr/bin/docker")).argv
    assert _pairs(argv, "--network") == ["host"] and "-p" not in argv
    env = _pairs(argv, "-e")
    assert "PORT=41000" in env and "HTTP_PROXY=http://127.0.0.1:1" in env
    assert "--http-proxy=false" not in argv  # docker has no such flag


def test_an_engine_without_cgroup_controllers_gets_no_limit_flags(tmp_path: Path) -> None:
    rootless_v1 = ContainerEngine("podman", "/usr/bin/podman", controllers=frozenset())
    argv = _plan(tmp_path, engine=rootless_v1).argv
    assert "--memory" not in argv and "--cpus" not in argv
    only_cpu = ContainerEngine("podman", "/usr/bin/podman", controllers=frozenset({"cpu"}))
    argv = _plan(tmp_path, engine=only_cpu).argv
    assert "--memory" not in argv and _pairs(argv, "--cpus") == ["0.5"]


def test_links_in_the_model_folder_are_mounted_where_they_point(tmp_path: Path) -> None:
    model = tmp_path / "store" / "model.joblib"
    model.parent.mkdir()
    model.write_text("x")
    folder = tmp_path / "rev"
    folder.mkdir()
    (folder / "model.joblib").symlink_to(model)
    plan = ContainerRuntime("", tmp_path, engine=PODMAN).plan(
        {"image": "x"}, namespace="ns", revision="r", model_dir=folder, port=1, env={}, serve=False
    )
    assert _pairs(plan.argv, "-v") == [f"{folder.resolve()}:/mnt/models", f"{model}:{model}:ro"]
    assert "-p" not in plan.argv and plan.port == 0


def test_plan_launch_falls_back_to_containers_only_for_images_the_table_does_not_know(tmp_path: Path) -> None:
    table = ImageTable.load()
    kwargs = {"model_dir": tmp_path, "ready_file": tmp_path / "r", "port": 5, "grpc_port": -1, "base_env": {}}
    with pytest.raises(ImageNotRunnable, match="cannot run locally"):
        plan_launch(CONTAINER, table, **kwargs)  # type: ignore[arg-type]
    seen: list[str] = []

    def planner(container: object, folder: Path, port: int, env: object, serve: bool) -> LaunchPlan:
        seen.append(str(container.get("image")))
        return LaunchPlan(argv=["podman"], env={}, port=port)

    assert plan_launch(CONTAINER, table, containers=planner, **kwargs).argv == ["podman"]  # type: ignore[arg-type]
    ours = {"image": "ghcr.io/zeroserve/zeroserve:1", "args": ["serve", "sklearn"]}
    assert "zeroserve" in plan_launch(ours, table, containers=planner, **kwargs).argv  # type: ignore[arg-type]
    assert seen == ["quay.io/acme/custom:1"]


def test_without_an_engine_the_message_says_what_to_install(tmp_path: Path) -> None:
    runtime = ContainerRuntime("none", tmp_path)
    with pytest.raises(ImageNotRunnable) as err:
        runtime.require("quay.io/acme/custom:1")
    text = str(err.value)
    assert text.startswith(
        "image 'quay.io/acme/custom:1' cannot run locally: it is not in the local image table and no"
    )
    assert INSTALL_HINT in text and "apt-get install podman runc" in text
    missing = ContainerRuntime("no-such-engine-here", tmp_path)
    with pytest.raises(ImageNotRunnable, match="no container engine was found; install podman"):
        missing.require("x")


def test_limits_read_kubernetes_quantities() -> None:
    assert Limits.of({"resources": {"limits": {"memory": "64Mi", "cpu": "250m"}}}) == Limits(
        memory_bytes=64 * 2**20, memory_text="64Mi", cpus=0.25
    )
    assert Limits.of({"resources": {"limits": {"memory": "1G", "cpu": 2}}}).memory_bytes == 10**9
    assert Limits.of({"resources": {"requests": {"memory": "1Gi"}}}) == Limits()
    assert Limits.of({"resources": {"limits": {"memory": "lots"}}}).memory_bytes is None


def test_tree_memory_counts_children_and_a_gone_process_is_none() -> None:
    own = tree_memory_bytes(os.getpid())
    assert own is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; b = bytearray(60 << 20); time.sleep(30)"])
    try:
        wait_until(
            lambda: (tree_memory_bytes(os.getpid()) or 0) > own + (50 << 20),
            10.0,
            what="the child's 60 MiB in this process's tree",
        )
    finally:
        child.kill()
        child.wait()
    assert tree_memory_bytes(child.pid) is None


async def test_a_process_instance_past_its_memory_limit_is_oomkilled(tmp_path: Path) -> None:
    code = "import time; b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(60)"
    plan = LaunchPlan(argv=[sys.executable, "-c", code], env={}, port=free_port())
    inst = Instance(plan, tmp_path / "i.log")
    inst.memory_limit, inst.memory_text, inst.memory_interval = 64 * 2**20, "64Mi", 0.05
    with pytest.raises(InstanceFailed, match=r"OOMKilled \(it used \d+ MiB, over its 64Mi memory limit\)"):
        await inst.start(ready_timeout=20.0, probe_interval=0.02)
    assert inst.oom_killed is not None and inst.exit_code == -9


async def test_without_an_engine_the_revision_says_what_to_install(tmp_path: Path) -> None:
    settings = EngineSettings(use_zygote=False, gpus=[], container_engine="none")
    engine = Engine(settings, tmp_path, resolve_model=lambda uri: Path(uri))
    await engine.start("127.0.0.1", 0)
    try:
        spec = RevisionSpec(namespace="ns", name="c-00001", service="c", container={"image": "acme/srv:1"})
        runtime = engine.ensure_revision(spec)
        ready = next(c for c in runtime.conditions() if c.type == "Ready")
        assert (ready.status, ready.reason) == ("False", "ImageNotRunnableLocally")
        assert ready.message is not None and ready.message.endswith(INSTALL_HINT)
    finally:
        await engine.stop()


async def test_a_process_revision_past_its_memory_limit_says_oomkilled(tmp_path: Path) -> None:
    hog = "import time; b = bytearray(200 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(60)"
    images = ImageTable.load()
    images.add("test.local/hog", ["python", "-c", hog])
    settings = EngineSettings(
        use_zygote=False, gpus=[], memory_check_interval=0.05, restart_backoff_initial=0.1, ready_timeout=20
    )
    engine = Engine(settings, tmp_path, images=images, resolve_model=lambda uri: Path(uri))
    await engine.start("127.0.0.1", 0)
    try:
        container = {"image": "test.local/hog", "resources": {"limits": {"memory": "64Mi"}}}
        spec = RevisionSpec(namespace="ns", name="h-00001", service="h", container=container)
        runtime = engine.ensure_revision(spec)

        def ready() -> Any:
            cond = next(c for c in runtime.conditions() if c.type == "Ready")
            return cond if cond.reason == "OOMKilled" else None

        cond = await wait_until_async(ready, 20.0, interval=0.02, what="Ready False OOMKilled")
        assert cond.status == "False" and "over its 64Mi memory limit" in (cond.message or "")
    finally:
        await engine.stop()
