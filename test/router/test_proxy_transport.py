"""The httpx step transport: ``HTTP_PROXY`` / ``NO_PROXY`` as httpx and curl read them, on real HTTP."""

from __future__ import annotations

import httpx
import orjson
import pytest

from zeroserve.router.client import StepClient
from zeroserve.router.context import RequestContext
from zeroserve.router.proxy_transport import ProxyFromEnvironmentTransport, environment_proxies

CLUSTER_URL = "http://echo.team.svc.cluster.local/echo/through-proxy"


def ctx() -> RequestContext:
    return RequestContext(request_id="r1", headers=[("Content-Type", "application/json")], deadline=None)


def test_proxy_variables_lower_case_first_and_all_proxy_as_fallback() -> None:
    environ = {"http_proxy": "http://lower:1", "HTTP_PROXY": "http://upper:1", "ALL_PROXY": "http://all:1"}
    assert environment_proxies(environ) == {"http": "http://lower:1", "https": "http://all:1"}
    assert environment_proxies({"HTTPS_PROXY": "http://s:1"}) == {"https": "http://s:1"}
    assert environment_proxies({"HTTP_PROXY": "  "}) == {}


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("127.0.0.1,localhost", "http://127.0.0.1:8080/x", True),
        ("127.0.0.1,localhost", "http://localhost/x", True),
        ("127.0.0.1,localhost", "http://a.ns.svc.cluster.local/x", False),
        ("cluster.local", "http://a.ns.svc.cluster.local/x", True),
        (".cluster.local", "http://a.ns.svc.cluster.local/x", True),
        ("cluster.local", "http://notcluster.local/x", False),
        ("example.com:8080", "http://example.com:8080/x", True),
        ("example.com:8080", "http://example.com/x", False),
        ("example.com:80", "http://example.com/x", True),
        ("*", "http://anything/x", True),
        ("", "http://anything/x", False),
        ("[::1]", "http://[::1]:9/x", True),
    ],
)
def test_no_proxy_decides_direct_or_proxied(no_proxy: str, url: str, direct: bool) -> None:
    transport = ProxyFromEnvironmentTransport(
        limits=httpx.Limits(), environ={"HTTP_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy}
    )
    chosen = transport.transport_for(httpx.URL(url))
    assert (chosen is transport.direct) is direct


def test_a_scheme_without_a_proxy_goes_direct() -> None:
    transport = ProxyFromEnvironmentTransport(limits=httpx.Limits(), environ={"HTTP_PROXY": "http://p:1"})
    assert transport.transport_for(httpx.URL("https://host/x")) is transport.direct
    assert transport.transport_for(httpx.URL("http://host/x")) is transport.proxied["http"]


async def test_cluster_addresses_go_through_the_proxy_with_its_credentials(svc: str) -> None:
    """The local platform's ``HTTP_PROXY`` carries credentials; the proxy (here the step services,
    which read the absolute-form request as a path) sees them; ``NO_PROXY`` hosts are called directly."""
    proxy = svc.replace("http://", "http://zeroserve:s3cret@") + "/"
    environ = {"HTTP_PROXY": proxy, "NO_PROXY": "127.0.0.1,localhost"}
    async with ProxyFromEnvironmentTransport(limits=httpx.Limits(), environ=environ) as transport:
        client = StepClient(transport)
        proxied = await client.post(CLUSTER_URL, b"{}", ctx())
        direct = await client.post(f"{svc}/echo/direct", b"{}", ctx())
    seen = orjson.loads(proxied.body)
    assert (proxied.status, seen["service"]) == (200, "through-proxy")
    assert seen["headers"]["proxy-authorization"] == "Basic emVyb3NlcnZlOnMzY3JldA=="
    assert seen["headers"]["host"] == "echo.team.svc.cluster.local"
    assert direct.status == 200 and "proxy-authorization" not in orjson.loads(direct.body)["headers"]


async def test_an_httpx_client_is_used_through_its_public_send(svc: str) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await StepClient(http, timeout=5).post(f"{svc}/predict/a", b"{}", ctx())
    assert (response.status, orjson.loads(response.body)["predictions"]) == (200, ["a"])
