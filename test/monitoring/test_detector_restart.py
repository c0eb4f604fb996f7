"""A detector process killed mid-run: the broker redelivers, and after the restart every event is scored."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent as LibEvent
from support.waiting import wait_until_async

from zeroserve.local.component import PlatformContext
from zeroserve.local.eventing.component import BrokerComponent
from zeroserve.local.eventing.delivery import DeliveryPolicy
from zeroserve.local.eventing.triggers import TriggerRule, TriggerTable

from .conftest import EventSink, serve
from .test_detectors import iris_like

pytestmark = pytest.mark.slow

REQUEST = "org.kubeflow.serving.inference.request"
OUTLIER = "org.kubeflow.serving.inference.outlier"


async def start_detector(
    tmp_path: Path, reference: Path, port: int
) -> tuple[asyncio.subprocess.Process, int]:
    ready = tmp_path / f"ready-{port}-{os.urandom(4).hex()}.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "zeroserve", "detector", "outlier", "--reference-uri", str(reference),
        "--host", "127.0.0.1", "--http-port", str(port), "--ready-file", str(ready),
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip

    def started() -> bool:
        assert process.returncode is None, "detector exited before it was ready"
        return ready.exists()

    await wait_until_async(started, 60, what="the detector's ready file", interval=0.05, retry_on=())
    return process, int(json.loads(ready.read_text())["http_port"])


async def test_killing_a_detector_mid_run_loses_no_event(tmp_path: Path) -> None:
    reference = tmp_path / "reference.npy"
    np.save(reference, iris_like(500, seed=1))
    sink = EventSink()
    detector, port = await start_detector(tmp_path, reference, 0)
    async with serve(sink) as results:
        table = TriggerTable()
        table.add_broker("models", "default")
        policy = DeliveryPolicy(retry=50, backoff_policy="linear", backoff_delay=0.1, timeout=5)
        table.add_trigger(
            TriggerRule(
                "models", "detector", "default", f"http://127.0.0.1:{port}", {"type": REQUEST}, policy
            )
        )
        table.add_trigger(TriggerRule("models", "results", "default", results.url, {"type": OUTLIER}, policy))
        broker = BrokerComponent(table=table, reconcile=False, delivery_proxy=None)
        ctx = PlatformContext(state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig")
        await broker.start(ctx)
        token = {"Authorization": f"Bearer {ctx.broker_token}"}
        try:
            ids = []
            rows = iris_like(200, seed=2)
            async with httpx.AsyncClient() as client:
                for row in rows:
                    event = LibEvent(
                        attributes={"type": REQUEST, "source": "t"}, data={"instances": [row.tolist()]}
                    )
                    message = to_binary_event(event)
                    answer = await client.post(
                        f"{broker.url}/models/default",
                        headers={**message.headers, **token},
                        content=message.body,
                    )
                    assert answer.status_code == 202
                    ids.append(event.get_id())
            await sink.wait_for(20)
            detector.send_signal(signal.SIGKILL)  # a crash in the middle of the run
            await detector.wait()
            scored_before_restart = len(sink.events)
            detector, _ = await start_detector(tmp_path, reference, port)  # back on the same address
            await wait_until_async(
                lambda: {e.get_data()["meta"]["request_id"] for e in sink.events} == set(ids),
                60,
                what=f"a result for each of the {len(ids)} events sent",
                interval=0.1,
                retry_on=(),
            )
        finally:
            await broker.stop()
            if detector.returncode is None:
                detector.send_signal(signal.SIGTERM)
                await detector.wait()
    assert scored_before_restart < len(ids)  # the kill really interrupted the run
