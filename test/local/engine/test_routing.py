"""Host and path resolution, traffic draws and HTTPRoute precedence (pure)."""

from __future__ import annotations

import pytest

from zeroserve.local.engine.routing import RouteEntry, RoutingTable, http_route_rules

TABLE = RoutingTable(
    [RouteEntry("ns", "svc", (("svc-00001", 80), ("svc-00002", 20)), {"canary": "svc-00002"})],
    http_route_rules(
        {
            "metadata": {"name": "isvc", "namespace": "ns"},
            "spec": {
                "hostnames": ["isvc.ns.example.com", "isvc.ns.svc.cluster.local"],
                "rules": [
                    {
                        "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                        "filters": [
                            {"type": "URLRewrite", "urlRewrite": {"hostname": "svc.ns.svc.cluster.local"}}
                        ],
                        "backendRefs": [{"kind": "Service", "name": "svc", "port": 80}],
                    },
                    {
                        "matches": [
                            {"path": {"type": "RegularExpression", "value": r"^/v1/models/[\w-]+:explain$"}}
                        ],
                        "backendRefs": [{"kind": "Service", "name": "expl", "port": 80}],
                    },
                ],
            },
        }
    ),
    {"broker-ingress.knative-eventing.svc.cluster.local": ("127.0.0.1", 9999)},
)


@pytest.mark.parametrize(
    "host",
    ["svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.local", "svc.ns.example.com", "SVC.ns.example.com:8080"],
)
def test_route_hosts(host: str) -> None:
    res = TABLE.resolve(host, "/v1/models/m:predict", rand=0.1)
    assert res is not None
    assert (res.namespace, res.revision, res.path) == ("ns", "svc-00001", "/v1/models/m:predict")


@pytest.mark.parametrize(("rand", "revision"), [(0.0, "svc-00001"), (0.79, "svc-00001"), (0.8, "svc-00002")])
def test_split_by_percent(rand: float, revision: str) -> None:
    res = TABLE.resolve("svc.ns.example.com", "/", rand=rand)
    assert res is not None and res.revision == revision


def test_tag_host_and_path_prefix() -> None:
    tagged = TABLE.resolve("canary-svc.ns.example.com", "/", rand=0.0)
    assert tagged is not None and tagged.revision == "svc-00002"
    prefixed = TABLE.resolve("127.0.0.1:8080", "/serving/ns/svc/v2/models/m/infer?x=1", rand=0.0)
    assert prefixed is not None
    assert prefixed.revision == "svc-00001"
    assert prefixed.path == "/v2/models/m/infer?x=1"


def test_http_route_regex_before_prefix_and_host_rewrite() -> None:
    pred = TABLE.resolve("isvc.ns.example.com", "/v1/models/isvc:predict", rand=0.0)
    assert pred is not None and pred.revision == "svc-00001" and pred.host == "svc.ns.svc.cluster.local"
    expl = TABLE.resolve("isvc.ns.svc.cluster.local", "/v1/models/isvc:explain", rand=0.0)
    assert expl is not None and expl.revision is None and expl.route == "ns/expl"
    by_path = TABLE.resolve("localhost", "/serving/ns/isvc/v1/models/isvc:predict", rand=0.0)
    assert by_path is not None and by_path.revision == "svc-00001"


def test_upstreams_and_misses() -> None:
    broker = TABLE.resolve("broker-ingress.knative-eventing.svc.cluster.local", "/ns/default")
    assert broker is not None and broker.upstream == ("127.0.0.1", 9999) and broker.path == "/ns/default"
    assert TABLE.resolve("other.ns.example.com", "/") is None
    assert RouteEntry("ns", "empty").pick(0.5) is None


@pytest.mark.parametrize(
    ("host", "external"),
    [
        ("httpbin.org", True),
        ("api.github.com", True),
        ("10.1.2.3:9000", True),
        ("svc.ns", False),
        ("whatever.default", False),
        ("x.ns.svc.cluster.local", False),
        ("y.other.example.com", False),
        ("localhost:8080", False),
        ("127.0.0.1", False),
        ("plainname", False),
    ],
)
def test_external_hosts(host: str, external: bool) -> None:
    from zeroserve.local.engine.egress import is_external

    assert is_external(host, TABLE) is external
