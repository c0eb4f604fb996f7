"""The controller inside ``zeroserve up``, driven with real kubectl: the issue's acceptance flow."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zeroserve.local.testing import PlatformProcess, platform_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[3] / "config" / "samples"
CONTROLLER = "zeroserve.local.controller:ControllerComponent"


def _eventually(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


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

    made = _eventually(ksvc, "the controller to create the predictor's Knative Service")
    assert made["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    assert "sklearn-canary-predictor" in kubectl("get", "ksvc").stdout

    patch = '{"spec":{"predictor":{"canaryTrafficPercent":20}}}'
    kubectl("patch", "isvc", "sklearn-canary", "--type", "merge", "-p", patch)
    _eventually(
        lambda: (
            kubectl.json("get", "isvc", "sklearn-canary").get("status", {}).get("observedGeneration") == 2
        ),
        "the controller to observe the patched generation",
    )

    kubectl("delete", "isvc", "sklearn-canary")
    _eventually(lambda: ksvc() is None, "the Knative Service to be garbage collected")


def test_default_components_start_and_ctrl_c_stops_them(tmp_path: Path) -> None:
    import signal

    state = tmp_path / "state"
    with platform_process(state) as running:
        components = list(running.info["components"])
        gateway = running.info["extra"].get("gateway_url", "")
        running.kubectl("apply", "-f", str(SAMPLES / "isvc" / "sklearn-v1.yaml"))
        _eventually(
            lambda: running.kubectl("get", "ksvc", "sklearn-iris-predictor", check=False).returncode == 0,
            "the controller in the default platform",
        )
        running.process.send_signal(signal.SIGINT)
        code = running.process.wait(60)

    assert components == ["apiserver", "controller", "engine", "eventing"]
    assert gateway.startswith("http://127.0.0.1:")
    assert code == 0
    assert not (state / "platform.json").exists(), "a clean stop removes the pid file"
