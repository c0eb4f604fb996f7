"""The Seldon wrapper's ``/metrics`` (with a component's custom metrics) and the logger agent's pass
promtool after traffic."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from zeroserve.logger.agent import METRICS_PATH, create_agent_app
from zeroserve.logger.config import LoggerConfig
from zeroserve.process.asgi import Receive, Scope, Send, read_body, respond
from zeroserve.servers.model_server import ModelServer
from zeroserve.servers.seldon.component import SeldonComponent
from zeroserve.servers.seldon.custom_metrics import CustomMetrics
from zeroserve.servers.seldon.model import SeldonModel
from zeroserve.servers.settings import ServerSettings

from .promtool import promtool_lint
from .serving import serving


class Doubler:
    """A Seldon user class that reports a counter, a gauge and a timer of its own."""

    def predict(self, x: Any, names: Any) -> Any:
        return [[2 * v for v in row] for row in x]

    def metrics(self) -> list[dict[str, Any]]:
        return [
            {"type": "COUNTER", "key": "doubled", "value": 1},
            {"type": "GAUGE", "key": "last_rows", "value": 1},
            {"type": "TIMER", "key": "double_time", "value": 0.5},
        ]


async def accept_all(scope: Scope, receive: Receive, send: Send) -> None:
    """A CloudEvents sink that accepts everything."""
    if scope["type"] == "http":
        await read_body(receive, 1 << 20)
        await respond(send, 202, b"")


async def test_seldon_wrapper_and_logger_agent_metrics_pass_promtool() -> None:
    registry = CollectorRegistry()
    server = ModelServer(ServerSettings(http_port=0, grpc_port=0, configure_logging=False), registry=registry)
    component = SeldonComponent(Doubler(), "MODEL", "", CustomMetrics(registry), name="doubler")
    async with server.running([SeldonModel("doubler", component)]) as handle, httpx.AsyncClient() as client:
        base = f"http://127.0.0.1:{handle.http_port}"
        body = {"data": {"ndarray": [[1, 2]]}}
        answer = await client.post(f"{base}/api/v1.0/predictions", json=body)
        assert answer.status_code == 200, answer.text
        text = (await client.get(f"{base}/metrics")).content
        promtool_lint(text, "the Seldon wrapper")

        agent_registry = CollectorRegistry()
        async with serving(accept_all) as sink:
            agent = create_agent_app(base, LoggerConfig(url=sink), registry=agent_registry)
            async with serving(agent, lifespan="on") as url:
                proxied = await client.post(f"{url}/api/v1.0/predictions", json=body)
                assert proxied.status_code == 200, proxied.text
                text = (await client.get(f"{url}{METRICS_PATH}")).content
    promtool_lint(text, "the logger agent")
    assert b"zeroserve_logger_events_queued_total" in text
