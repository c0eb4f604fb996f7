"""``zeroserve up --detach / status / kubeconfig / apply / get / delete / down`` as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from zeroserve.local.testing import Kubectl

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
SAMPLES = Path(__file__).resolve().parents[3] / "config" / "samples"


def _zeroserve(*args: str, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "zeroserve", *args, "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_detached_platform_lifecycle_and_thin_clients(tmp_path: Path) -> None:
    state = tmp_path / "state"
    started = _zeroserve(
        "up", "--port", "0", "--gateway-port", "0", "--no-components", "--detach", state=state
    )
    try:
        assert started.returncode == 0, started.stderr
        assert "zeroserve is up in the background" in started.stdout
        assert _zeroserve("up", "--port", "0", "--detach", state=state).returncode == 1, (
            "a second up is refused"
        )
        running = _zeroserve("status", state=state)
        assert running.returncode == 0
        assert "API server   https://127.0.0.1:" in running.stdout

        written = tmp_path / "copy" / "kubeconfig"
        assert _zeroserve("kubeconfig", "--write", str(written), state=state).returncode == 0
        assert yaml.safe_load(written.read_text())["current-context"] == "zeroserve"
        assert Kubectl(written, tmp_path / "cache")("get", "ns", "default").returncode == 0

        isvc, graph = str(SAMPLES / "isvc" / "sklearn-v1.yaml"), str(SAMPLES / "ig" / "sequence.yaml")
        applied = _zeroserve("apply", "-f", isvc, "-f", graph, state=state)
        assert applied.returncode == 0, applied.stderr
        assert applied.stdout.splitlines() == [
            "inferenceservice.serving.kserve.io/sklearn-iris created",
            "inferencegraph.serving.kserve.io/model-chainer created",
        ]
        again = _zeroserve("apply", "-f", str(SAMPLES / "isvc" / "sklearn-v1.yaml"), state=state)
        assert again.stdout.strip() == "inferenceservice.serving.kserve.io/sklearn-iris unchanged"
        table = _zeroserve("get", "isvc", state=state).stdout.splitlines()
        assert table[0].split()[:3] == ["NAME", "URL", "READY"]
        assert table[1].split()[0] == "sklearn-iris"
        shown = yaml.safe_load(_zeroserve("get", "isvc", "sklearn-iris", "-o", "yaml", state=state).stdout)
        assert shown["spec"]["predictor"]["model"]["storageUri"].startswith("gs://")  # KServe-defaulted
        unknown = _zeroserve("get", "nonsense", state=state)
        assert unknown.returncode == 1
        assert 'the server doesn\'t have a resource type "nonsense"' in unknown.stderr

        deleted = _zeroserve("delete", "isvc", "sklearn-iris", state=state)
        assert deleted.stdout.strip() == 'inferenceservice.serving.kserve.io "sklearn-iris" deleted'
        missing = _zeroserve("delete", "isvc", "sklearn-iris", state=state)
        assert missing.returncode == 1
        assert "Error from server (NotFound)" in missing.stderr
    finally:
        stopped = _zeroserve("down", state=state)
    assert stopped.returncode == 0
    assert "zeroserve stopped" in stopped.stdout
    assert _zeroserve("status", state=state).returncode == 1


def test_thin_clients_after_down_say_the_api_server_is_unreachable(tmp_path: Path) -> None:
    state = tmp_path / "state"
    started = _zeroserve("up", "--port", "0", "--no-components", "--detach", state=state)
    assert started.returncode == 0, started.stderr
    api_url = _zeroserve("status", "-o", "json", state=state).stdout
    assert _zeroserve("down", state=state).returncode == 0

    listed = _zeroserve("get", "isvc", state=state)

    assert listed.returncode == 1
    url = yaml.safe_load(api_url)["api_url"]
    assert listed.stderr.splitlines() == [
        f"error: cannot reach the API server at {url}: connection refused; "
        "is the platform running? ('zeroserve status')"
    ]
