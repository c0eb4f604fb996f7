"""End to end: KServe's TorchServe and Triton images with KServe's runtime args, as a user's
predictor containers, applied with kubectl to the embedded platform: the engine runs them as
`zeroserve serve torchserve|tritonserver`, and the gateway answers V1 (TorchServe) and V2 (Triton)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from support.platform import in_thread_platform
from support.waiting import wait_until_async

from zeroserve.local.component import PlatformContext
from zeroserve.local.testing import Kubectl
from zeroserve.servers.samples import torchserve as torchserve_sample
from zeroserve.servers.samples import triton as triton_sample

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def platform(tmp_path: Path) -> contextlib.AbstractAsyncContextManager[tuple[PlatformContext, Kubectl]]:
    return in_thread_platform(tmp_path)


def _isvc(name: str, image: str, args: list[str], folder: Path) -> dict[str, Any]:
    container = {
        "name": "kserve-container",
        "image": image,
        "args": args,
        "env": [{"name": "STORAGE_URI", "value": f"file://{folder}"}],
    }
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"predictor": {"containers": [container]}},
    }


async def test_torchserve_and_triton_images_serve_on_the_platform(tmp_path: Path) -> None:
    ts = torchserve_sample.build(tmp_path / "ts")
    tr = triton_sample.build(tmp_path / "triton", torch=False)
    docs = [
        _isvc(
            "mnist",
            "pytorch/torchserve-kfs:0.9.0",
            [
                "torchserve",
                "--start",
                "--model-store=/mnt/models/model-store",
                "--ts-config=/mnt/models/config/config.properties",
            ],
            ts.model_dir,
        ),
        _isvc(
            "triton",
            "nvcr.io/nvidia/tritonserver:23.05-py3",
            [
                "tritonserver",
                "--model-store=/mnt/models",
                "--grpc-port=9000",
                "--http-port=8080",
                "--allow-grpc=true",
            ],
            tr.model_dir,
        ),
    ]
    async with platform(tmp_path) as (ctx, kubectl):
        applied = await asyncio.to_thread(
            kubectl, "apply", "-f", "-", input=yaml.safe_dump_all(docs), check=False
        )
        assert applied.returncode == 0, applied.stderr

        async def ready() -> bool:
            for name in ("mnist", "triton"):
                out = (await asyncio.to_thread(kubectl, "get", "isvc", name, "-o", "json")).stdout
                conditions: list[dict[str, Any]] = json.loads(out).get("status", {}).get("conditions") or []
                if not any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                    return False
            return True

        await wait_until_async(ready, 90, interval=0.3, retry_on=())
        async with httpx.AsyncClient(base_url=ctx.gateway_url, timeout=30) as client:

            async def post(host: str, path: str, body: dict[str, Any]) -> httpx.Response | None:
                got = await client.post(path, json=body, headers={"Host": f"{host}.default.example.com"})
                return got if got.status_code == 200 else None

            got = await wait_until_async(
                lambda: post("mnist", "/v1/models/iris:predict", ts.v1_request), 30, interval=0.2, retry_on=()
            )
            assert got is not None
            np.testing.assert_allclose(got.json()["predictions"], ts.expected, atol=ts.tolerance)
            assert tr.v2_request is not None
            got = await wait_until_async(
                lambda: post("triton", "/v2/models/iris-onnx/infer", tr.v2_request or {}),
                30,
                interval=0.2,
                retry_on=(),
            )
            assert got is not None
            out = got.json()["outputs"][0]
            np.testing.assert_allclose(np.reshape(out["data"], out["shape"]), tr.expected, atol=tr.tolerance)
