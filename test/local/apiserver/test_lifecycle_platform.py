"""Issue #16 on the real platform (``zeroserve up``: API server, controller, engine): deleting an
InferenceService at any point of its rollout, or right after it turns Ready, leaves no Knative object,
HTTPRoute, route or instance behind, and the same name can be created again at once."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from support.waiting import wait_until

from zeroserve.local.testing import PlatformProcess, platform_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
CHILDREN = ",".join(
    [
        "ksvc",
        "configurations.serving.knative.dev",
        "revisions.serving.knative.dev",
        "routes.serving.knative.dev",
        "httproutes",
    ]
)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PlatformProcess, Path]]:
    from zeroserve.servers.testing import train_iris_sklearn

    model = train_iris_sklearn(tmp_path_factory.mktemp("models") / "iris")
    with platform_process(tmp_path_factory.mktemp("platform")) as running:
        yield running, model


def _manifest(name: str, model: Path) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {"name": name},
            "spec": {"predictor": {"sklearn": {"storageUri": f"file://{model}"}}},
        }
    )


def _children(platform: PlatformProcess, name: str) -> list[str]:
    listed = platform.kubectl.json("get", CHILDREN)
    return [
        f"{item['kind']}/{item['metadata']['name']}"
        for item in listed["items"]
        if item["metadata"]["name"].startswith(name)
    ]


def _ready_instances(platform: PlatformProcess, name: str) -> int:
    gateway = platform.info["extra"]["gateway_url"]
    text = httpx.get(f"{gateway}/metrics", headers={"Host": "metrics.invalid"}, timeout=10).text
    labels = rf'[^}}]*revision="{re.escape(name)}[^"]*"[^}}]*state="ready"[^}}]*'
    pattern = rf"^zeroserve_engine_instances\{{{labels}\}} (\S+)"
    return int(sum(float(m) for m in re.findall(pattern, text, re.M)))


def _assert_cleaned_up(platform: PlatformProcess, name: str) -> None:
    wait_until(
        lambda: not _children(platform, name),
        60,
        what=f"every child of {name} to be collected",
        interval=0.05,
        retry_on=(),
    )
    wait_until(
        lambda: _ready_instances(platform, name) == 0,
        60,
        what=f"the instances of {name} to stop",
        interval=0.05,
        retry_on=(),
    )
    gateway = platform.info["extra"]["gateway_url"]
    answer = httpx.get(f"{gateway}/", headers={"Host": f"{name}.default.example.com"}, timeout=10)
    assert answer.status_code == 404, f"{name}'s host still routes"


def _exists(platform: PlatformProcess, kind: str, name: str) -> bool:
    return platform.kubectl("get", kind, name, check=False).returncode == 0


def _ready(platform: PlatformProcess, name: str) -> bool:
    found = platform.kubectl("get", "isvc", name, "-o", "json", check=False)
    if found.returncode != 0:
        return False
    conditions = json.loads(found.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def _ksvc_ready(platform: PlatformProcess, name: str) -> bool:
    jsonpath = "jsonpath={.status.conditions[?(@.type=='Ready')].status}"
    return platform.kubectl("get", "ksvc", name, "-o", jsonpath, check=False).stdout == "True"


STAGES: dict[str, Callable[[PlatformProcess, str], bool]] = {
    "at-once": lambda p, n: True,
    "ksvc-created": lambda p, n: _exists(p, "ksvc", f"{n}-predictor"),
    "revision-created": lambda p, n: _exists(p, "revisions.serving.knative.dev", f"{n}-predictor-00001"),
    "ksvc-ready": lambda p, n: _ksvc_ready(p, f"{n}-predictor"),
    "isvc-ready": _ready,
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_delete_at_any_point_of_the_rollout_leaves_nothing(
    platform: tuple[PlatformProcess, Path], stage: str
) -> None:
    running, model = platform
    name = f"gc-{stage}"
    running.kubectl("apply", "-f", "-", input=_manifest(name, model))
    wait_until(
        lambda: STAGES[stage](running, name), 120, what=f"{name} to reach {stage}", interval=0.05, retry_on=()
    )

    running.kubectl("delete", "isvc", name)

    _assert_cleaned_up(running, name)
    running.kubectl("apply", "-f", "-", input=_manifest(name, model))
    wait_until(
        lambda: _ready(running, name),
        120,
        what=f"{name} to be Ready again under the same name",
        interval=0.05,
        retry_on=(),
    )
    running.kubectl("delete", "isvc", name)
    _assert_cleaned_up(running, name)


def test_twenty_quick_create_ready_delete_cycles_leave_nothing(
    platform: tuple[PlatformProcess, Path],
) -> None:
    running, model = platform
    name = "gc-cycle"
    started = time.monotonic()
    for _ in range(20):
        running.kubectl("apply", "-f", "-", input=_manifest(name, model))
        running.kubectl("wait", "--for=condition=Ready", "isvc", name, "--timeout=120s", timeout=150)
        running.kubectl("delete", "isvc", name)
    elapsed = time.monotonic() - started

    _assert_cleaned_up(running, name)
    print(f"20 create/Ready/delete cycles in {elapsed:.1f}s")
