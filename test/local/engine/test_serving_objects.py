"""Knative Serving objects through the API server and real kubectl, served by the engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support.waiting import wait_until_async

from zeroserve.local.engine.gateway import REVISION_HEADER

from .conftest import (
    STANDIN_IMAGE,
    ServingPlatform,
    condition_of,
    fast_settings,
    serving_platform,
    standin_images,
)

pytestmark = pytest.mark.e2e


def _ksvc(
    name: str, *, image: str = STANDIN_IMAGE, env: str = "1", traffic: list[dict[str, Any]] | None = None
) -> str:
    obj: dict[str, Any] = {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "template": {
                "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
                "spec": {"containers": [{"image": image, "env": [{"name": "VERSION", "value": env}]}]},
            }
        },
    }
    if traffic is not None:
        obj["spec"]["traffic"] = traffic
    return yaml.safe_dump(obj)


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[ServingPlatform]:
    async with serving_platform(
        tmp_path, fast_settings(poll_interval=0.2), standin_images(), lambda uri: Path(uri)
    ) as p:
        yield p


async def _ready(platform: ServingPlatform, kind: str, name: str, status: str = "True") -> dict[str, Any]:
    holder: dict[str, Any] = {}

    async def check() -> bool:
        obj = await platform.get(kind, name)
        holder["obj"] = obj
        return condition_of(obj).get("status") == status

    await wait_until_async(check, 40, interval=0.1, retry_on=())
    return holder["obj"]


async def test_service_configuration_revision_route(platform: ServingPlatform) -> None:
    await platform.kubectl_async("apply", "-f", "-", input=_ksvc("hello"))
    ksvc = await _ready(platform, "ksvc", "hello")
    status = ksvc["status"]
    assert status["url"] == "http://hello.default.example.com"
    assert status["address"]["url"] == "http://hello.default.svc.cluster.local"
    assert status["latestReadyRevisionName"] == status["latestCreatedRevisionName"] == "hello-00001"
    assert status["traffic"] == [
        {"revisionName": "hello-00001", "percent": 100, "latestRevision": True, "configurationName": "hello"}
    ]
    assert {c["type"] for c in status["conditions"]} == {"Ready", "ConfigurationsReady", "RoutesReady"}
    rev = await platform.get("revision", "hello-00001")
    assert condition_of(rev, "ContainerHealthy")["status"] == "True"
    assert condition_of(rev, "Active")["status"] == "True"
    assert rev["status"]["actualReplicas"] == 1
    assert rev["metadata"]["labels"]["serving.knative.dev/configuration"] == "hello"
    table = await platform.kubectl_async("get", "ksvc,configuration,revision,route")
    assert "hello-00001" in table and "http://hello.default.example.com" in table

    async with httpx.AsyncClient(base_url=platform.gateway) as client:
        resp = await client.get("/", headers={"Host": "hello.default.example.com"})
        assert resp.status_code == 200
        assert resp.headers[REVISION_HEADER] == "hello-00001"
        env = resp.json()["env"]
        assert env["ZEROSERVE_BROKER_TOKEN"] == platform.ctx.broker_token
        assert env["ZEROSERVE_HOME"] == str(platform.ctx.state_dir)

        # a template change stamps a new immutable revision; traffic follows once it is ready
        await platform.kubectl_async("apply", "-f", "-", input=_ksvc("hello", env="2"))

        async def moved() -> bool:
            r = await client.get("/", headers={"Host": "hello.default.example.com"})
            return r.headers.get(REVISION_HEADER) == "hello-00002"

        await wait_until_async(moved, 40, interval=0.1, retry_on=())
        ksvc = await _ready(platform, "ksvc", "hello")
        assert ksvc["status"]["latestReadyRevisionName"] == "hello-00002"

        # split with tags
        traffic = [
            {"revisionName": "hello-00001", "percent": 50, "tag": "old"},
            {"latestRevision": True, "percent": 50, "tag": "new"},
        ]
        await platform.kubectl_async("apply", "-f", "-", input=_ksvc("hello", env="2", traffic=traffic))

        async def split() -> bool:
            route = await platform.get("route", "hello")
            return len(route.get("status", {}).get("traffic", [])) == 2

        await wait_until_async(split, 30, interval=0.1, retry_on=())
        route = await platform.get("route", "hello")
        urls = {t.get("tag"): t.get("url") for t in route["status"]["traffic"]}
        assert urls == {
            "old": "http://old-hello.default.example.com",
            "new": "http://new-hello.default.example.com",
        }

        async def old_tag_served() -> bool:
            r = await client.get("/", headers={"Host": "old-hello.default.example.com"})
            return r.headers.get(REVISION_HEADER) == "hello-00001"

        await wait_until_async(old_tag_served, 30, interval=0.1, retry_on=())
        seen = {
            (await client.get("/", headers={"Host": "hello.default.example.com"})).headers[REVISION_HEADER]
            for _ in range(60)
        }
        assert seen == {"hello-00001", "hello-00002"}


async def test_image_that_cannot_run_locally_fails_the_service(platform: ServingPlatform) -> None:
    await platform.kubectl_async(
        "apply", "-f", "-", input=_ksvc("alien", image="quay.io/acme/private-server:1.0")
    )
    ksvc = await _ready(platform, "ksvc", "alien", status="False")
    ready = condition_of(ksvc)
    assert ready["reason"] == "RevisionFailed"
    assert "cannot run locally" in ready["message"]
    rev = await platform.get("revision", "alien-00001")
    assert condition_of(rev)["reason"] == "ImageNotRunnableLocally"


async def test_http_route_sends_explain_to_the_explainer(platform: ServingPlatform) -> None:
    for name in ("iris-predictor", "iris-explainer"):
        await platform.kubectl_async("apply", "-f", "-", input=_ksvc(name))
    http_route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "iris", "namespace": "default"},
        "spec": {
            "hostnames": ["iris.default.example.com", "iris.default.svc.cluster.local"],
            "rules": [
                {
                    "matches": [
                        {"path": {"type": "RegularExpression", "value": r"^/v1/models/[\w-]+:explain$"}}
                    ],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"hostname": "iris-explainer.default.svc.cluster.local"},
                        }
                    ],
                    "backendRefs": [{"kind": "Service", "name": "iris-explainer", "port": 80}],
                },
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "filters": [
                        {
                            "type": "URLRewrite",
                            "urlRewrite": {"hostname": "iris-predictor.default.svc.cluster.local"},
                        }
                    ],
                    "backendRefs": [{"kind": "Service", "name": "iris-predictor", "port": 80}],
                },
            ],
        },
    }
    await platform.kubectl_async("apply", "-f", "-", input=yaml.safe_dump(http_route))
    await _ready(platform, "ksvc", "iris-predictor")
    await _ready(platform, "ksvc", "iris-explainer")
    async with httpx.AsyncClient(base_url=platform.gateway) as client:

        async def routed() -> bool:
            r = await client.post(
                "/v1/models/iris:predict", headers={"Host": "iris.default.example.com"}, content=b"{}"
            )
            return r.status_code == 200

        await wait_until_async(routed, 30, interval=0.1, retry_on=())
        pred = await client.post(
            "/v1/models/iris:predict", headers={"Host": "iris.default.example.com"}, content=b"{}"
        )
        expl = await client.post(
            "/v1/models/iris:explain", headers={"Host": "iris.default.example.com"}, content=b"{}"
        )
        by_path = await client.post("/serving/default/iris/v1/models/iris:explain", content=b"{}")
    assert pred.headers[REVISION_HEADER] == "iris-predictor-00001"
    assert pred.json()["host"] == "iris-predictor.default.svc.cluster.local"
    assert expl.headers[REVISION_HEADER] == "iris-explainer-00001"
    assert by_path.headers[REVISION_HEADER] == "iris-explainer-00001"
    await asyncio.sleep(0)


async def test_broker_ingress_host_reaches_the_published_broker(platform: ServingPlatform) -> None:
    from zeroserve.local.engine.engine import BROKER_HOST

    received: list[tuple[str, bytes]] = []

    async def broker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            ),
            0,
        )
        body = await reader.readexactly(length)
        received.append((head.split(b" ")[1].decode(), body))
        writer.write(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(broker, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        platform.ctx.extra["broker_url"] = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=platform.gateway) as client:

            async def delivered() -> bool:
                r = await client.post("/default/default", headers={"Host": BROKER_HOST}, content=b'{"x":1}')
                return r.status_code == 202

            await wait_until_async(delivered, 30, interval=0.1, retry_on=())
        assert received[-1] == ("/default/default", b'{"x":1}')
    finally:
        server.close()
        await server.wait_closed()


async def test_statuses_settle_and_keep_their_transition_times(platform: ServingPlatform) -> None:
    await platform.kubectl_async("apply", "-f", "-", input=_ksvc("calm"))
    await _ready(platform, "ksvc", "calm")
    await _ready(platform, "route", "calm")
    objects = (("ksvc", "calm"), ("configuration", "calm"), ("route", "calm"), ("revision", "calm-00001"))

    async def versions() -> dict[str, Any]:
        out = {}
        for kind, name in objects:
            obj = await platform.get(kind, name)
            out[kind] = (obj["metadata"]["resourceVersion"], obj["status"]["conditions"])
        return out

    reconciler = platform.component.reconciler
    assert reconciler is not None
    await asyncio.sleep(1.0)  # let the statuses of the first instance settle
    first = await versions()
    passes = reconciler.passes

    async def more_passes() -> bool:
        return reconciler.passes >= passes + 5

    await wait_until_async(more_passes, 30, interval=0.1, retry_on=())
    assert await versions() == first  # nothing rewritten: no status changed, no time restamped
    route = first["route"][1]
    wanted = {"Ready", "AllTrafficAssigned", "IngressReady", "CertificateProvisioned"}
    assert {c["type"] for c in route} == wanted
    assert all(c.get("lastTransitionTime") for c in route)
