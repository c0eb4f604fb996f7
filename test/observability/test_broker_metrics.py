"""The broker's ``/metrics`` passes promtool after accepted and rejected events."""

from __future__ import annotations

from pathlib import Path

import httpx

from zeroserve.local.component import PlatformContext
from zeroserve.local.eventing.component import BrokerComponent
from zeroserve.local.eventing.triggers import TriggerTable

from .promtool import promtool_lint

TOKEN = "observability-broker-token"


async def test_broker_metrics_pass_promtool(tmp_path: Path) -> None:
    table = TriggerTable()
    table.add_broker("models", "default")
    broker = BrokerComponent(table=table, reconcile=False, delivery_proxy=None)
    await broker.start(
        PlatformContext(state_dir=tmp_path, kubeconfig=tmp_path / "kubeconfig", broker_token=TOKEN)
    )
    try:
        url = f"{broker.url}/models/default"
        event = {
            "ce-specversion": "1.0",
            "ce-id": "1",
            "ce-type": "org.kubeflow.serving.inference.request",
            "ce-source": "http://localhost/",
            "content-type": "application/json",
        }
        async with httpx.AsyncClient() as client:
            accepted = await client.post(
                url, headers={**event, "authorization": f"Bearer {TOKEN}"}, content=b"{}"
            )
            assert accepted.status_code == 202, accepted.text
            assert (await client.post(url, headers=event, content=b"{}")).status_code == 401
            text = (await client.get(f"{broker.url}/metrics")).content
    finally:
        await broker.stop()
    promtool_lint(text, "the broker")
    assert b'zeroserve_broker_events_rejected_total{reason="unauthorized"} 1.0' in text
