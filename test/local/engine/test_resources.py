"""Pure builders: Service -> Configuration/Route, Configuration -> Revision, traffic and statuses."""

from __future__ import annotations

from typing import Any

from zeroserve.local.engine.resources import (
    build_configuration,
    build_revision,
    build_route,
    configuration_status,
    resolve_traffic,
    route_status,
    service_status,
)

SERVICE: dict[str, Any] = {
    "apiVersion": "serving.knative.dev/v1",
    "kind": "Service",
    "metadata": {"name": "hello", "namespace": "ns", "uid": "u1", "generation": 2},
    "spec": {
        "template": {
            "metadata": {"annotations": {"autoscaling.knative.dev/min-scale": "1"}},
            "spec": {"containers": [{"image": "ghcr.io/zeroserve/zeroserve:0.1"}]},
        },
        "traffic": [
            {"revisionName": "hello-00001", "percent": 80},
            {"latestRevision": True, "percent": 20, "tag": "c"},
        ],
    },
}


def _rev(name: str, gen: int, ready: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": {"serving.knative.dev/configurationGeneration": str(gen)}},
        "status": {"conditions": [{"type": "Ready", "status": ready, "message": "boom"}]},
    }


def test_children_are_named_after_and_owned_by_the_service() -> None:
    config = build_configuration(SERVICE)
    route = build_route(SERVICE)
    for child in (config, route):
        assert child["metadata"]["name"] == "hello"
        assert child["metadata"]["ownerReferences"][0]["uid"] == "u1"
        assert child["metadata"]["labels"]["serving.knative.dev/service"] == "hello"
    assert config["spec"]["template"] == SERVICE["spec"]["template"]
    assert route["spec"]["traffic"] == [
        {"revisionName": "hello-00001", "percent": 80, "latestRevision": False},
        {"latestRevision": True, "percent": 20, "tag": "c", "configurationName": "hello"},
    ]
    assert build_route({**SERVICE, "spec": {}})["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 100, "configurationName": "hello"}
    ]


def test_revision_is_stamped_per_generation() -> None:
    config = {
        **build_configuration(SERVICE),
        "metadata": {**build_configuration(SERVICE)["metadata"], "generation": 3},
    }
    rev = build_revision(config)
    assert rev["metadata"]["name"] == "hello-00003"
    assert rev["metadata"]["labels"]["serving.knative.dev/configurationGeneration"] == "3"
    assert rev["metadata"]["annotations"] == {"autoscaling.knative.dev/min-scale": "1"}
    assert rev["spec"] == SERVICE["spec"]["template"]["spec"]


def test_configuration_status_tracks_latest_created_and_ready() -> None:
    config = build_configuration(SERVICE)
    st = configuration_status(config, [_rev("hello-00001", 1, "True"), _rev("hello-00002", 2, "Unknown")])
    assert st["latestCreatedRevisionName"] == "hello-00002"
    assert st["latestReadyRevisionName"] == "hello-00001"
    assert st["conditions"][0]["status"] == "Unknown"
    failed = configuration_status(config, [_rev("hello-00001", 1, "True"), _rev("hello-00002", 2, "False")])
    assert failed["conditions"][0]["reason"] == "RevisionFailed"
    assert "boom" in failed["conditions"][0]["message"]


def test_traffic_resolution_and_statuses() -> None:
    route = build_route(SERVICE)
    config = {**build_configuration(SERVICE), "status": {"latestReadyRevisionName": "hello-00002"}}
    revisions = {"hello-00001": {}, "hello-00002": {}}
    resolved = resolve_traffic(route, {"hello": config}, revisions, "example.com")
    assert resolved.targets == [("hello-00001", 80), ("hello-00002", 20)]
    assert resolved.tags == {"c": "hello-00002"}
    assert resolved.status_traffic[1]["url"] == "http://c-hello.ns.example.com"
    rst = route_status(route, resolved, "example.com")
    assert rst["url"] == "http://hello.ns.example.com"
    cst = {"latestReadyRevisionName": "hello-00002", "conditions": [{"type": "Ready", "status": "True"}]}
    sst = service_status(SERVICE, config, route, cst, rst)
    assert [c["status"] for c in sst["conditions"]] == ["True", "True", "True"]
    assert sst["traffic"] == rst["traffic"]

    missing = resolve_traffic(route, {"hello": build_configuration(SERVICE)}, {}, "example.com")
    assert "not found" in missing.missing or "does not have any ready Revision" in missing.missing
    assert route_status(route, missing, "example.com")["conditions"][-1]["status"] == "False"
