"""The ``zeroserve detector`` command as a process: bad events, scoring, a busy port, results to a sink."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import numpy as np
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent as LibEvent

from zeroserve.logger.testing import zeroserve_process
from zeroserve.process.listen import bind_socket

from .conftest import EventSink, serve

REQUEST = "org.kubeflow.serving.inference.request"
OUTLIER = "org.kubeflow.serving.inference.outlier"


def request_message(rows: list[list[float]]) -> tuple[dict[str, str], bytes]:
    message = to_binary_event(LibEvent(attributes={"type": REQUEST, "source": "t"}, data={"instances": rows}))
    return dict(message.headers), message.body


async def test_detector_command_rejects_bad_events_and_replies_once_fitted(tmp_path: Path) -> None:
    async with (
        zeroserve_process(tmp_path, "detector", "outlier", "--fit-first", "4") as url,
        httpx.AsyncClient(base_url=url) as client,
    ):
        bad = await client.post("/", json={"instances": [[1, 2]]})
        headers, body = request_message([[1.0, 2.0], [1.1, 2.2], [0.9, 1.9], [1.0, 2.1], [1.0, 2.0]])
        scored = await client.post("/", headers=headers, content=body)
    assert bad.status_code == 400
    assert scored.status_code == 200 and scored.headers["ce-type"] == OUTLIER
    assert len(scored.json()["data"]["is_outlier"]) == 1


async def test_detector_posts_results_to_its_sink_with_the_broker_token(tmp_path: Path) -> None:
    reference = tmp_path / "reference.npy"
    np.save(reference, np.random.default_rng(1).normal(size=(200, 2)))
    sink = EventSink()
    async with (
        serve(sink) as results, zeroserve_process(
            tmp_path, "detector", "outlier", "--reference-uri", str(reference), "--sink", results.url,
            env={"ZEROSERVE_BROKER_TOKEN": "s3cret"},
        ) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):  # fmt: skip
        headers, body = request_message([[0.0, 0.1], [9.0, -9.0]])
        answer = await client.post("/", headers=headers, content=body)
        (event,) = await sink.wait_for(1)
    assert answer.status_code == 202
    assert event.get_type() == OUTLIER and event.get_data()["data"]["is_outlier"] == [0, 1]
    assert sink.headers[0]["authorization"] == "Bearer s3cret"


async def test_a_busy_port_is_one_line_naming_the_port_and_the_flag(tmp_path: Path) -> None:
    taken = bind_socket("127.0.0.1", 0)
    port = taken.getsockname()[1]
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "zeroserve", "detector", "outlier", "--fit-first", "4",
            "--host", "127.0.0.1", "--http-port", str(port),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        taken.close()
    lines = stderr.decode().strip().splitlines()
    assert process.returncode == 2
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "--http-port" in lines[0], lines
