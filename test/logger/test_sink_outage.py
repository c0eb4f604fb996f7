"""A real logger-agent process rides out a sink outage: every event logged while the sink was down
arrives once it is back, with the broker token, and nothing is counted as dropped."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from support.waiting import wait_until_async

from zeroserve.logger.agent import METRICS_PATH
from zeroserve.logger.testing import zeroserve_process

from .conftest import EventSink, serve
from .test_logger_middleware import model_app


async def counters(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get(METRICS_PATH)).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == name
        for sample in family.samples
        if sample.name.endswith("_total")
    )


async def test_events_logged_while_the_sink_is_down_arrive_once_it_is_back(tmp_path: Path) -> None:
    # The sink's address is held by a socket that does not listen yet: connections are refused.
    down = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    down.bind(("127.0.0.1", 0))
    sink_url = f"http://127.0.0.1:{down.getsockname()[1]}"
    sink = EventSink()
    async with (
        serve(model_app()) as upstream,
        zeroserve_process(
            tmp_path, "logger-agent", "--upstream", upstream.url, "--log-url", sink_url,
            env={"ZEROSERVE_BROKER_TOKEN": "s3cret"},
        ) as url,
        httpx.AsyncClient(base_url=url) as client,
    ):  # fmt: skip
        for n in range(20):
            response = await client.post("/v1/models/iris:predict", json={"instances": [[n, 1]]})
            assert response.status_code == 200
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20

        async def retried() -> bool:  # the outage was seen
            return await counters(client, "zeroserve_logger_events_retried") >= 1

        await wait_until_async(retried, 20, what="the agent to retry", interval=0.05, retry_on=())
        async with serve(sink, sock=down):  # the sink comes back on the same address
            for n in range(20, 30):
                await client.post("/v1/models/iris:predict", json={"instances": [[n, 1]]})
            events = await sink.wait_for(60, deadline_s=30)

            async def all_sent() -> bool:  # the last answers
                return await counters(client, "zeroserve_logger_events_sent") >= 60

            await wait_until_async(
                all_sent,
                deadline + 30 - loop.time(),
                what="the agent to see every event accepted",
                interval=0.05,
                retry_on=(),
            )
            dropped = await counters(client, "zeroserve_logger_events_dropped")
    assert len(events) == 60 and len({(e.get_type(), e.get_id()) for e in events}) == 60
    requests = sorted(e.get_data()["instances"][0][0] for e in events if e.get_type().endswith("request"))
    assert requests == list(range(30))
    assert dropped == 0
    assert {headers["authorization"] for headers in sink.headers} == {"Bearer s3cret"}
