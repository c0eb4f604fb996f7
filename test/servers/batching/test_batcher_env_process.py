"""``spec.predictor.batcher`` -> the controller's env -> a ``zeroserve serve`` process that batches."""

from __future__ import annotations

import json
import re
from pathlib import Path

from raw_http import fire, http

from zeroserve.apis.serving.v1beta1 import Batcher
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.resources.containers import batcher_env
from zeroserve.servers.testing import serve_in_subprocess, train_iris_sklearn


def test_the_controllers_batcher_env_turns_batching_on_in_the_server(tmp_path: Path) -> None:
    env = batcher_env(Batcher(max_batch_size=4, max_latency=60_000, timeout=120), ControllerConfig())
    assert {e["name"] for e in env} >= {"ZEROSERVE_BATCHER_ENABLED", "ZEROSERVE_BATCHER_TIMEOUT_SECONDS"}
    model_dir = train_iris_sklearn(tmp_path / "iris")
    args = ["sklearn", "--model-name", "iris", "--model-dir", str(model_dir), "--grpc-port", "-1"]
    with serve_in_subprocess(args, env={e["name"]: e["value"] for e in env}) as served:
        port = served.http_port
        body = json.dumps({"instances": [[6.8, 2.8, 4.8, 1.4]]}).encode()
        request = http(port, "POST", "/v1/models/iris:predict", body)
        answers = fire(port, [request] * 8)
        got = [(status, json.loads(data)) for status, _, data in answers]
        assert got == [(200, {"predictions": [1]})] * 8
        ((status, _, metrics),) = fire(port, [http(port, "GET", "/metrics")])
    assert status == 200
    text = metrics.decode()
    # the latency is a minute: only full batches of 4 rows were flushed
    assert re.search(r'^zeroserve_batch_size_count\{model="iris"\} 2\.0$', text, re.M), text
    assert re.search(r'^zeroserve_batch_size_sum\{model="iris"\} 8\.0$', text, re.M)
