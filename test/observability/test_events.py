"""The controller's Events and conditions for a good and a bad InferenceService: one readable line
each, reasons in CamelCase, KServe's wording for Ready, no traceback or Python class name."""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from support.platform import in_thread_platform
from support.waiting import wait_until_async

from zeroserve.servers.testing import train_iris_sklearn

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REASON = re.compile(r"[A-Z][A-Za-z0-9]*")
# what leaks when an exception is written as it is: a traceback, a class name, a repr
LEAKS = re.compile(r"Traceback|File \"|\b[A-Z]\w*(Error|Exception)\b|<class |object at 0x")


def manifests(model_dir: Path, missing: Path) -> str:
    return textwrap.dedent(f"""
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {{name: good, namespace: default}}
    spec:
      predictor:
        model: {{modelFormat: {{name: sklearn}}, storageUri: "file://{model_dir}"}}
    ---
    apiVersion: serving.kserve.io/v1beta1
    kind: InferenceService
    metadata: {{name: bad, namespace: default}}
    spec:
      predictor:
        model: {{modelFormat: {{name: sklearn}}, storageUri: "file://{missing}"}}
    """)


def readable(text: str, where: str) -> None:
    assert text and "\n" not in text and not LEAKS.search(text), f"{where}: {text!r}"


async def test_events_and_conditions_read_as_one_line(tmp_path: Path) -> None:
    model_dir = tmp_path / "iris"
    train_iris_sklearn(model_dir)
    async with in_thread_platform(tmp_path / "platform", restart_backoff_initial=0.2) as (_, kubectl):

        async def run(*args: str, input: str | None = None) -> Any:
            return (await asyncio.to_thread(kubectl, *args, input=input)).stdout

        await run("apply", "-f", "-", input=manifests(model_dir, tmp_path / "nowhere"))

        async def conditions(name: str) -> dict[str, dict[str, Any]]:
            obj = json.loads(await run("get", "inferenceservice", name, "-o", "json"))
            return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}

        async def settled() -> bool:
            good, bad = await conditions("good"), await conditions("bad")
            return good.get("Ready", {}).get("status") == "True" and bool(
                bad.get("Ready", {}).get("status") == "False" and bad["Ready"].get("message")
            )

        await wait_until_async(settled, 90, what="good Ready and bad not Ready with a message")
        good, bad = await conditions("good"), await conditions("bad")
        # the good one's next revision cannot load its model: no longer Ready
        patch = {"spec": {"predictor": {"model": {"storageUri": f"file://{tmp_path / 'gone'}"}}}}
        await run("patch", "inferenceservice", "good", "--type", "merge", "-p", json.dumps(patch))

        async def events_of_good() -> list[dict[str, Any]]:
            items = json.loads(await run("get", "events", "-o", "json"))["items"]
            if any(e["reason"] == "InferenceServiceNotReady" for e in items):
                return list(items)
            return []

        events = await wait_until_async(events_of_good, 60, what="InferenceServiceNotReady on good")

    by_object: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        by_object.setdefault(event["involvedObject"]["name"], []).append(event)
        assert REASON.fullmatch(event["reason"]), event
        readable(event["message"], f"Event {event['reason']}")
    ready = [e for e in by_object.get("good", []) if e["reason"] == "InferenceServiceReady"]
    assert [(e["type"], e["message"]) for e in ready] == [("Normal", "InferenceService [good] is Ready")]
    not_ready = [e for e in by_object["good"] if e["reason"] == "InferenceServiceNotReady"]
    assert not_ready[0]["type"] == "Warning"
    assert not_ready[0]["message"].startswith("InferenceService [good] is no longer Ready because of: "), (
        not_ready
    )
    for name, status in (("good", good), ("bad", bad)):
        for condition in status.values():
            if condition.get("reason"):
                assert REASON.fullmatch(condition["reason"]), (name, condition)
            if condition.get("message"):
                readable(condition["message"], f"{name} condition {condition['type']}")
    # the predictor's condition names the cause (Ready carries the last failing step's message)
    assert "nowhere" in bad["PredictorReady"]["message"], bad["PredictorReady"]
    assert bad["PredictorReady"]["status"] == "False"
