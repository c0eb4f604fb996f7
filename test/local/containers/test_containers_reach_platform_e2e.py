"""End to end: containers in their own network call the platform by Knative names, and get their volumes.

One in-thread platform (real kubectl, real podman containers of the test image) serves the module:

- an InferenceService whose transformer is the test image (``--predictor_host <isvc>-predictor.default``
  from the controller) in front of a process predictor (sklearn): the transformer posts to the
  predictor by its Knative name through its ``HTTP_PROXY``, the gateway's listener on podman's bridge;
  the answer is sklearn's, which the test image cannot compute itself;
- an InferenceService whose container reads a ConfigMap key mounted at ``/etc/app`` (and a Secret
  mounted read-only): ``kubectl apply`` of a new value shows in the running container.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.platform import in_thread_platform
from support.waiting import wait_until_async

from zeroserve.local.component import PlatformContext
from zeroserve.local.testing import Kubectl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Platform = tuple[asyncio.AbstractEventLoop, PlatformContext, Kubectl]

TRAIN = textwrap.dedent(
    """
    import sys, joblib
    from sklearn.tree import DecisionTreeClassifier
    model = DecisionTreeClassifier().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    joblib.dump(model, sys.argv[1])
    """
)


def _config_map(value: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "app-config", "namespace": "default"},
        "data": {"greeting": value},
    }


def _docs(image: str, model_dir: Path) -> list[dict[str, Any]]:
    probe = {"httpGet": {"path": "/v1/models/m"}}
    transformed = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "tx", "namespace": "default"},
        "spec": {
            "predictor": {"sklearn": {"storageUri": f"file://{model_dir}"}},
            "transformer": {
                "containers": [{"name": "kserve-container", "image": image, "readinessProbe": probe}]
            },
        },
    }
    configured = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "conf", "namespace": "default"},
        "spec": {
            "predictor": {
                "containers": [
                    {
                        "name": "kserve-container",
                        "image": image,
                        "args": ["--config-file", "/etc/app/greeting"],
                        "readinessProbe": probe,
                        # not root: the mounted files must be readable the way kubelet writes them
                        "securityContext": {"runAsUser": 1000, "runAsGroup": 1000},
                        "volumeMounts": [
                            {"name": "app", "mountPath": "/etc/app"},
                            {"name": "creds", "mountPath": "/etc/creds"},
                        ],
                    }
                ],
                "volumes": [
                    {"name": "app", "configMap": {"name": "app-config"}},
                    {"name": "creds", "secret": {"secretName": "app-creds"}},
                ],
            }
        },
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "app-creds", "namespace": "default"},
        "stringData": {"token": "s3cr3t"},
    }
    return [_config_map("hello"), secret, transformed, configured]


@pytest.fixture(scope="module")
def platform(kv1_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    tmp = tmp_path_factory.mktemp("reach")
    model_dir = tmp / "model"
    model_dir.mkdir()
    # trained in a child (sklearn stays out of this process) while the platform starts
    training = subprocess.Popen([sys.executable, "-c", TRAIN, str(model_dir / "model.joblib")])
    loop = asyncio.new_event_loop()
    manager = in_thread_platform(tmp, ready_timeout=60.0)
    ctx, kubectl = loop.run_until_complete(manager.__aenter__())
    try:
        assert training.wait(timeout=120) == 0, "training the test's sklearn model failed"
        docs = "\n".join(json.dumps(doc) for doc in _docs(kv1_image, model_dir))
        kubectl("apply", "-f", "-", input=docs)
        yield loop, ctx, kubectl
    finally:
        loop.run_until_complete(manager.__aexit__(None, None, None))
        loop.close()


def _ready(kubectl: Kubectl, name: str) -> bool:
    conditions = (kubectl.json("get", "inferenceservice", name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


async def _wait_ready(kubectl: Kubectl, name: str) -> None:
    await wait_until_async(
        lambda: asyncio.to_thread(_ready, kubectl, name), 60.0, interval=0.2, what=f"{name} Ready"
    )


def test_a_transformer_container_calls_its_process_predictor_by_knative_name(platform: Platform) -> None:
    loop, ctx, kubectl = platform

    async def check() -> None:
        await _wait_ready(kubectl, "tx")
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30) as client:
            resp = await client.post(
                "/v1/models/tx:predict",
                json={"instances": [[0.0], [3.0]]},
                headers={"Host": "tx.default.example.com"},
            )
        assert resp.status_code == 200, resp.text
        assert resp.headers["zeroserve-revision"] == "tx-transformer-00001"
        # sklearn's classes; the test image alone would answer 2x+1: [1, 7]
        assert resp.json() == {"predictions": [0, 1]}

    loop.run_until_complete(check())
    log = "".join(
        p.read_text() for p in (ctx.state_dir / "engine" / "logs" / "default").glob("tx-transformer-*/*")
    )
    assert "forwarded /v1/models/tx:predict to tx-predictor.default: 200" in log, log


def test_a_container_sees_its_config_map_change_and_its_secret_read_only(
    platform: Platform, podman: str
) -> None:
    loop, ctx, kubectl = platform
    headers = {"Host": "conf.default.example.com"}

    async def check() -> None:
        await _wait_ready(kubectl, "conf")
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30, headers=headers) as client:
            resp = await client.get("/config")
            assert (resp.status_code, resp.text) == (200, "hello")
            await asyncio.to_thread(kubectl, "apply", "-f", "-", input=json.dumps(_config_map("bonjour")))

            async def changed() -> bool:
                return (await client.get("/config")).text == "bonjour"

            await wait_until_async(
                changed, 20.0, interval=0.2, what="the new ConfigMap value in the container"
            )

    loop.run_until_complete(check())
    names = subprocess.run(
        [
            podman,
            "ps",
            "--filter",
            "label=io.zeroserve.revision=default/conf-predictor-00001",
            "--format",
            "{{.Names}}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(names) == 1, names
    mounts = json.loads(
        subprocess.run(
            [podman, "inspect", "--format", "{{json .Mounts}}", names[0]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    by_target = {m["Destination"]: m for m in mounts}
    assert by_target["/etc/creds"]["RW"] is False and by_target["/etc/app"]["RW"] is False, by_target
    user = subprocess.run(
        [podman, "inspect", "--format", "{{.Config.User}}", names[0]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert user == "1000:1000"
