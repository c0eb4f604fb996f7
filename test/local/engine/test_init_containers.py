"""Init containers run through the image table before the instance (KServe's storage-initializer)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.revision import RevisionSpec
from zeroserve.local.engine.routing import RouteEntry

from .conftest import fast_settings

pytestmark = pytest.mark.e2e


async def test_storage_initializer_container_fills_the_model_folder(tmp_path: Path) -> None:
    from zeroserve.servers.testing import train_iris_sklearn

    source = train_iris_sklearn(tmp_path / "source")
    eng = Engine(fast_settings(use_zygote=True), tmp_path / "state")
    await eng.start("127.0.0.1", 0)
    try:
        await eng.wait_warm()
        spec = RevisionSpec(
            namespace="default",
            name="init-predictor-00001",
            service="init-predictor",
            container={
                "image": "ghcr.io/zeroserve/zeroserve:0.1.0",
                "args": ["serve", "sklearn", "--model_name=init", "--model_dir=/mnt/models"],
            },
            init_containers=[
                {
                    "name": "storage-initializer",
                    "image": "ghcr.io/zeroserve/zeroserve:0.1.0",
                    "args": ["storage-initializer", f"file://{source}", "/mnt/models"],
                }
            ],
            annotations={"autoscaling.knative.dev/min-scale": "1"},
        )
        rev = eng.ensure_revision(spec)
        eng.set_routes([RouteEntry("default", "init-predictor", (("init-predictor-00001", 100),))])
        deadline = time.monotonic() + 60
        while rev.ready_count < 1:
            assert time.monotonic() < deadline, rev.conditions()
            await asyncio.sleep(0.05)
        model_dir = eng.ctx.model_dir(spec)
        assert (model_dir / "model.joblib").is_file()
        assert (eng.ctx.log_dir(spec) / "init-storage-initializer.log").is_file()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{eng.gateway_port}") as client:
            resp = await client.post(
                "/v1/models/init:predict",
                json={"instances": [[6.8, 2.8, 4.8, 1.4]]},
                headers={"Host": "init-predictor.default.example.com"},
            )
        assert resp.json() == {"predictions": [1]}
    finally:
        await eng.stop()
