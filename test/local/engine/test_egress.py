"""Who may use the gateway as a proxy to outside hosts (pure)."""

from __future__ import annotations

import base64

from zeroserve.local.engine.egress import EgressPolicy, egress_proxy_url
from zeroserve.local.engine.routing import RouteEntry, RoutingTable

TABLE = RoutingTable([RouteEntry("team", "svc", (("svc-00001", 100),))])


def test_only_the_instances_credentials_open_egress() -> None:
    policy = EgressPolicy("s3cret")
    good = b"Basic " + base64.b64encode(b"zeroserve:s3cret")
    bad = b"Basic " + base64.b64encode(b"zeroserve:guess")
    assert policy.allows("httpbin.org", [(b"proxy-authorization", good)], TABLE)
    assert not policy.allows("httpbin.org", [(b"proxy-authorization", bad)], TABLE)
    assert not policy.allows("httpbin.org", [], TABLE)
    assert not policy.allows("svc.team", [(b"proxy-authorization", good)], TABLE)  # routed, not egress
    assert egress_proxy_url("127.0.0.1", 8080, "s3cret") == "http://zeroserve:s3cret@127.0.0.1:8080"
    assert egress_proxy_url("127.0.0.1", 8080, None) == "http://127.0.0.1:8080"
