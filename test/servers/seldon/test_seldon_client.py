"""Seldon Core's own ``SeldonClient`` (microservice mode, REST and gRPC) against our components.

The client runs in ``.venv-seldon`` (``hack/clients/seldon.sh``: seldon-core 1.18.2, protobuf 3.20)
as a subprocess; the test skips, naming the script, when that environment is absent.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from seldon_support import SELDON_VENV, Component

SCRIPT = Path(__file__).parent / "seldon_client_script.py"


@pytest.fixture(scope="module")
def answers(components: dict[str, Component]) -> dict[str, Any]:
    python = SELDON_VENV / "bin" / "python"
    if not python.exists():
        pytest.skip(f"{SELDON_VENV} is absent: run hack/clients/seldon.sh")
    endpoints = {
        name: {"rest": f"127.0.0.1:{c.http_port}", "grpc": f"127.0.0.1:{c.grpc_port}"}
        for name, c in components.items()
    }
    done = subprocess.run(
        [str(python), str(SCRIPT), json.dumps(endpoints)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_seldon_client_predict(answers: dict[str, Any], transport: str) -> None:
    names = ["setosa", "versicolor", "virginica"]
    r = answers[f"{transport}-predict-ndarray"]
    assert r["success"], r
    assert r["response"]["data"] == {"names": names, "ndarray": [[3.0, 5.0, 7.0]]}
    r = answers[f"{transport}-predict-tensor"]
    assert r["response"]["data"] == {"names": names, "tensor": {"shape": [1, 3], "values": [3.0, 5.0, 7.0]}}
    assert answers[f"{transport}-predict-str"]["response"]["strData"] == "HELLO"
    assert answers[f"{transport}-predict-bin"]["response"]["binData"] == base64.b64encode(b"cba").decode()
    # protobuf's Value holds numbers as doubles: 1 comes back as 1.0, which compares equal
    assert answers[f"{transport}-predict-json"]["response"]["jsonData"] == {
        "echo": {"k": [1]},
        "label": "setosa",
    }
    fb = answers[f"{transport}-feedback"]
    assert fb["success"], fb


@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_seldon_client_graph_roles(answers: dict[str, Any], transport: str) -> None:
    route = answers[f"{transport}-route"]
    assert route["success"], route
    assert route["response"]["data"]["ndarray"] == [[2]]  # 5 % 3 branches
    agg = answers[f"{transport}-aggregate"]
    assert agg["success"], agg
    assert agg["response"]["data"]["ndarray"] == [[2.0, 4.0]]
    ti = answers[f"{transport}-transform-input"]
    assert ti["response"]["data"] == {
        "names": ["a_scaled", "b_scaled"],
        "tensor": {"shape": [1, 2], "values": [1.0, 2.0]},
    }
    to = answers[f"{transport}-transform-output"]
    assert to["response"]["data"]["ndarray"] == [["versicolor"]]
    metrics = answers[f"{transport}-metrics"]["response"]["meta"]
    assert [m["key"] for m in metrics["metrics"]] == ["mycounter", "mygauge", "mytimer"]
    assert metrics["tags"]["mytag"] == 1
