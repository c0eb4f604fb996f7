"""End to end: InferenceServices whose predictor is a custom container image (not in the image table),
applied with real kubectl to an in-thread platform, run as real podman containers.

One is Ready, predicts through the gateway, scales to zero (its container removed) and back, and
``zeroserve logs`` shows the server's own output. One has ``limits.memory: 64Mi`` and a server that
touches 200 MiB before it listens: it is never Ready and its Revision and InferenceService say
``OOMKilled``. No container of either platform is left afterwards.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.platform import in_thread_platform
from support.waiting import wait_until_async

from zeroserve.local.cli import logs
from zeroserve.local.engine.containers import LABEL_REVISION, LABEL_STATE, ContainerRuntime
from zeroserve.local.testing import Kubectl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST = {
    "stable_window": 1.0,
    "scale_to_zero_grace_period": 0.3,
    "tick_interval": 0.1,
    "metric_bucket": 0.1,
    "restart_backoff_initial": 0.2,
}


def _isvc(name: str, image: str, **container: Any) -> str:
    spec = {
        "name": "kserve-container",
        "image": image,
        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/v1/models/m"}},
        **container,
    }
    return json.dumps(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"predictor": {"minReplicas": 0, "containers": [spec]}},
        }
    )


def _containers(podman: str, label: str) -> list[str]:
    out = subprocess.run(
        [podman, "ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


async def _get(kubectl: Kubectl, kind: str, name: str) -> dict[str, Any]:
    out = (await asyncio.to_thread(kubectl, "get", kind, name, "-o", "json")).stdout
    return dict(json.loads(out))


def _condition(obj: dict[str, Any], kind: str = "Ready") -> dict[str, Any]:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond["type"] == kind:
            return dict(cond)
    return {}


async def test_custom_container_serves_scales_to_zero_and_logs(
    tmp_path: Path, podman: str, kv1_image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with in_thread_platform(tmp_path, **FAST) as (ctx, kubectl):
        platform_label = f"{LABEL_STATE}={ContainerRuntime('', ctx.state_dir).label}"
        revision_label = f"{LABEL_REVISION}=default/kv1-predictor-00001"
        await asyncio.to_thread(kubectl, "apply", "-f", "-", input=_isvc("kv1", kv1_image))

        async def ready() -> bool:
            return _condition(await _get(kubectl, "inferenceservice", "kv1")).get("status") == "True"

        await wait_until_async(ready, 40.0, interval=0.1, what="InferenceService kv1 Ready")
        headers = {"Host": "kv1.default.example.com"}
        body = {"instances": [1, 2, [1, 2]]}
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30) as client:
            resp = await client.post("/v1/models/m:predict", json=body, headers=headers)
            assert resp.status_code == 200, resp.text
            assert resp.json() == {"predictions": [3, 5, 7]}
            running = _containers(podman, revision_label)
            assert len(running) == 1 and running[0].startswith("zeroserve-default-kv1-predictor-00001-")

            # idle past the stable window: the revision goes to zero and its container is removed
            await wait_until_async(
                lambda: not _containers(podman, revision_label), 20.0, interval=0.1, what="scale to zero"
            )
            resp = await client.post("/v1/models/m:predict", json={"instances": [10]}, headers=headers)
            assert resp.status_code == 200, resp.text
            assert resp.json() == {"predictions": [21]}
            assert len(_containers(podman, revision_label)) == 1

        assert logs(["kv1", "--state-dir", str(ctx.state_dir)]) == 0
        out = capsys.readouterr().out
        assert "serving model m on port 8080" in out
        assert out.count("request POST /v1/models/m:predict") == 2, out
    assert _containers(podman, platform_label) == []


async def test_memory_limit_exceeded_is_oomkilled(
    tmp_path: Path, podman: str, kv1_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)  # the container engine must leave nothing where the platform was started
    hog = _isvc(
        "hog",
        kv1_image,
        args=["--alloc-mb", "200"],
        resources={"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"memory": "64Mi"}},
    )
    async with in_thread_platform(tmp_path, **FAST) as (ctx, kubectl):
        platform_label = f"{LABEL_STATE}={ContainerRuntime('', ctx.state_dir).label}"
        await asyncio.to_thread(kubectl, "apply", "-f", "-", input=hog)

        async def oom_killed() -> dict[str, Any]:
            revision = _condition(await _get(kubectl, "revision", "hog-predictor-00001"))
            return revision if revision.get("reason") == "OOMKilled" else {}

        revision = await wait_until_async(oom_killed, 40.0, interval=0.1, what="revision OOMKilled")
        assert revision["status"] == "False"
        assert "64Mi" in revision["message"], revision

        async def isvc_says_oom() -> dict[str, Any]:
            isvc = await _get(kubectl, "inferenceservice", "hog")
            return isvc if "OOMKilled" in json.dumps(_condition(isvc, "PredictorReady")) else {}

        isvc = await wait_until_async(isvc_says_oom, 20.0, interval=0.1, what="isvc PredictorReady OOMKilled")
        assert _condition(isvc)["status"] == "False"
        assert _condition(isvc, "PredictorReady")["status"] == "False"
    assert _containers(podman, platform_label) == []
    assert list(workdir.iterdir()) == []  # conmon's "oom" marker stays in the state folder


def test_a_platform_starting_after_a_crash_removes_its_leftover_containers(
    tmp_path: Path, podman: str, kv1_image: str
) -> None:
    label = f"{LABEL_STATE}={ContainerRuntime('', tmp_path).label}"
    name = f"zeroserve-default-left-00001-{tmp_path.name}"
    subprocess.run(
        [podman, "create", "--name", name, "--label", label, kv1_image], capture_output=True, check=True
    )
    (tmp_path / "engine" / "run").mkdir(parents=True)
    (tmp_path / "engine" / "run" / "containers").touch()  # written while containers ran
    assert _containers(podman, label) == [name]
    ContainerRuntime("", tmp_path)
    assert _containers(podman, label) == []
    assert not (tmp_path / "engine" / "run" / "containers").exists()
