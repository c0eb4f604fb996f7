"""Knative's visibility on the engine's routing table: a cluster-local Route has no external host."""

from __future__ import annotations

from zeroserve.local.engine.routing import RouteEntry, RoutingTable, is_cluster_local


def test_a_cluster_local_route_answers_on_cluster_hosts_only_and_says_why() -> None:
    targets = (("graph-00001", 100),)
    private = RouteEntry("default", "graph", targets, {"v2": "graph-00001"}, cluster_local=True)
    public = RouteEntry("default", "open", (("open-00001", 100),))
    table = RoutingTable([private, public], domain="example.com")
    for host in ("graph.default.svc.cluster.local", "graph.default.svc", "graph.default", "v2-graph.default"):
        found = table.resolve(host, "/")
        assert found is not None and found.route == "default/graph", host
    assert table.resolve("graph.default.example.com", "/") is None
    assert table.resolve("v2-graph.default.example.com", "/") is None
    reason = table.unrouted_reason("graph.default.example.com:8080")
    assert reason is not None and "graph.default.svc.cluster.local only" in reason
    assert table.resolve("open.default.example.com", "/") is not None
    assert table.unrouted_reason("nothing.default.example.com") is None


def test_visibility_is_read_from_labels_or_annotations() -> None:
    label = {"networking.knative.dev/visibility": " Cluster-Local "}
    assert is_cluster_local(None, label) and not is_cluster_local({}, None)
