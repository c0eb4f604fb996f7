"""The controller inside ``zeroserve up``, driven with real kubectl: the issue's acceptance flow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.waiting import wait_until

from zeroserve.local.testing import PlatformProcess, platform_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[3] / "config" / "samples"
CONTROLLER = "zeroserve.local.controller:ControllerComponent"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PlatformProcess]:
    with platform_process(tmp_path_factory.mktemp("platform"), components=[CONTROLLER]) as running:
        yield running


def test_apply_patch_delete_with_the_controller(platform: PlatformProcess) -> None:
    kubectl = platform.kubectl
    kubectl("apply", "-f", str(SAMPLES / "isvc" / "canary.yaml"))

    def ksvc() -> dict[str, Any] | None:
        found = kubectl("get", "ksvc", "sklearn-canary-predictor", "-o", "json", check=False)
        return json.loads(found.stdout) if found.returncode == 0 else None

    made = wait_until(
        ksvc, 30, what="the controller to create the predictor's Knative Service", interval=0.1, retry_on=()
    )
    assert made["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    assert "sklearn-canary-predictor" in kubectl("get", "ksvc").stdout

    patch = '{"spec":{"predictor":{"canaryTrafficPercent":20}}}'
    kubectl("patch", "isvc", "sklearn-canary", "--type", "merge", "-p", patch)
    wait_until(
        lambda: (
            kubectl.json("get", "isvc", "sklearn-canary").get("status", {}).get("observedGeneration") == 2
        ),
        30,
        what="the controller to observe the patched generation",
        interval=0.1,
        retry_on=(),
    )

    kubectl("delete", "isvc", "sklearn-canary")
    wait_until(
        lambda: ksvc() is None,
        30,
        what="the Knative Service to be garbage collected",
        interval=0.1,
        retry_on=(),
    )


def test_default_components_start_and_ctrl_c_stops_them(tmp_path: Path) -> None:
    import signal

    state = tmp_path / "state"
    with platform_process(state) as running:
        components = list(running.info["components"])
        gateway = running.info["extra"].get("gateway_url", "")
        running.kubectl("apply", "-f", str(SAMPLES / "isvc" / "sklearn-v1.yaml"))
        wait_until(
            lambda: running.kubectl("get", "ksvc", "sklearn-iris-predictor", check=False).returncode == 0,
            30,
            what="the controller in the default platform",
            interval=0.1,
            retry_on=(),
        )
        running.process.send_signal(signal.SIGINT)
        code = running.process.wait(60)

    assert components == ["apiserver", "controller", "engine", "eventing"]
    assert gateway.startswith("http://127.0.0.1:")
    assert code == 0
    assert not (state / "platform.json").exists(), "a clean stop removes the pid file"
