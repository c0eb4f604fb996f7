"""``zeroserve serve <format>`` as a process, with KServe's flag spellings: the new runtimes answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from zeroserve.servers.samples import lightgbm as lightgbm_sample
from zeroserve.servers.samples import mlserver as mlserver_sample
from zeroserve.servers.samples import pmml as pmml_sample
from zeroserve.servers.testing import serve_in_subprocess


def test_mlserver_folder_of_models_serves_every_model(tmp_path: Path) -> None:
    expected = mlserver_sample.build_repository(tmp_path)
    data = [5.1, 3.5, 1.4, 0.2, 4.9, 3.0, 1.4, 0.2, 4.7, 3.2, 1.3, 0.2]  # the first three iris rows
    body = {"inputs": [{"name": "input-0", "shape": [3, 4], "datatype": "FP64", "data": data}]}
    with serve_in_subprocess(["mlserver", f"--model_dir={tmp_path}", "--grpc-port=-1"]) as server:
        assert sorted(httpx.get(f"{server.http_url}/v2/models").json()["models"]) == sorted(expected)
        for name, want in expected.items():
            out = httpx.post(f"{server.http_url}/v2/models/{name}/infer", json=body).json()["outputs"][0]
            np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), want, atol=1e-6)


@pytest.mark.parametrize("fmt", ["lightgbm", "pmml"])
def test_kserve_style_command_line(tmp_path: Path, fmt: str) -> None:
    sample = (lightgbm_sample if fmt == "lightgbm" else pmml_sample).build(tmp_path)
    args = [fmt, "--model_name=m", f"--model_dir={sample.model_dir}", "--grpc-port=-1"]
    with serve_in_subprocess(args) as server:
        resp = httpx.post(f"{server.http_url}/v1/models/m:predict", json=sample.v1_request)
    assert resp.status_code == 200, resp.text
    got = resp.json()["predictions"]
    if fmt == "pmml":
        assert [r["species"] for r in got] == [r["species"] for r in sample.expected]
    else:
        np.testing.assert_allclose(got, sample.expected, atol=sample.tolerance)
