"""Pure builders: Service -> Configuration/Route, Configuration -> Revision, traffic and statuses,
on the apis types, with a fake clock for transition times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from zeroserve.apis.knative.serving.v1 import Configuration, Revision, Service
from zeroserve.local.engine.resources import (
    build_configuration,
    build_revision,
    build_route,
    mark_configuration_status,
    mark_route_status,
    mark_service_status,
    resolve_traffic,
)
from zeroserve.local.engine.status import Problem, RevisionObservation, mark_revision_status, one_line

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


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment


def _svc() -> Service:
    return Service.from_dict(SERVICE)


def _rev(name: str, gen: int, ready: str) -> Revision:
    return Revision.from_dict(
        {
            "metadata": {"name": name, "labels": {"serving.knative.dev/configurationGeneration": str(gen)}},
            "status": {"conditions": [{"type": "Ready", "status": ready, "message": "boom"}]},
        }
    )


def _cond(obj: Any, kind: str = "Ready") -> dict[str, Any]:
    cond = obj.status.get_condition(kind)
    return dict(cond.to_dict()) if cond is not None else {}


def test_children_are_named_after_and_owned_by_the_service() -> None:
    config = build_configuration(_svc()).to_dict()
    route = build_route(_svc()).to_dict()
    for child in (config, route):
        assert child["metadata"]["name"] == "hello"
        assert child["metadata"]["ownerReferences"][0]["uid"] == "u1"
        assert child["metadata"]["labels"]["serving.knative.dev/service"] == "hello"
    assert config["spec"]["template"] == SERVICE["spec"]["template"]
    assert route["spec"]["traffic"] == [
        {"revisionName": "hello-00001", "percent": 80, "latestRevision": False},
        {"latestRevision": True, "percent": 20, "tag": "c", "configurationName": "hello"},
    ]
    bare = Service.from_dict({**SERVICE, "spec": {}})
    assert build_route(bare).to_dict()["spec"]["traffic"] == [
        {"latestRevision": True, "percent": 100, "configurationName": "hello"}
    ]


def test_revision_is_stamped_per_generation() -> None:
    config = build_configuration(_svc())
    config.metadata.generation = 3
    rev = build_revision(config).to_dict()
    assert rev["metadata"]["name"] == "hello-00003"
    assert rev["metadata"]["labels"]["serving.knative.dev/configurationGeneration"] == "3"
    assert rev["metadata"]["annotations"] == {"autoscaling.knative.dev/min-scale": "1"}
    assert rev["spec"] == SERVICE["spec"]["template"]["spec"]


def test_configuration_status_tracks_latest_created_and_ready() -> None:
    clock = Clock()
    config = build_configuration(_svc())
    pending = [_rev("hello-00001", 1, "True"), _rev("hello-00002", 2, "Unknown")]
    mark_configuration_status(config, pending, clock)
    assert config.status is not None
    assert config.status.latest_created_revision_name == "hello-00002"
    assert config.status.latest_ready_revision_name == "hello-00001"
    assert _cond(config)["status"] == "Unknown"
    clock.moment = datetime(2026, 1, 2, tzinfo=UTC)
    broken = [_rev("hello-00001", 1, "True"), _rev("hello-00002", 2, "False")]
    mark_configuration_status(config, broken, clock)
    failed = _cond(config)
    assert failed["reason"] == "RevisionFailed"
    assert "boom" in failed["message"]
    assert failed["lastTransitionTime"] == "2026-01-02T00:00:00Z"
    # the same state again: the time stays
    clock.moment = datetime(2026, 1, 3, tzinfo=UTC)
    mark_configuration_status(config, broken, clock)
    assert _cond(config)["lastTransitionTime"] == "2026-01-02T00:00:00Z"


def test_traffic_resolution_and_statuses() -> None:
    clock = Clock()
    route = build_route(_svc())
    config = Configuration.from_dict(
        {**build_configuration(_svc()).to_dict(), "status": {"latestReadyRevisionName": "hello-00002"}}
    )
    revisions = {"hello-00001": _rev("hello-00001", 1, "True"), "hello-00002": _rev("hello-00002", 2, "True")}
    resolved = resolve_traffic(route, {"hello": config}, revisions, "example.com")
    assert resolved.targets == [("hello-00001", 80), ("hello-00002", 20)]
    assert resolved.tags == {"c": "hello-00002"}
    assert resolved.status_traffic[1].url == "http://c-hello.ns.example.com"
    mark_route_status(route, resolved, "example.com", clock)
    assert route.status is not None and route.status.url == "http://hello.ns.example.com"
    assert {c.type: c.status for c in route.status.conditions or []} == {
        "AllTrafficAssigned": "True",
        "CertificateProvisioned": "True",
        "IngressReady": "True",
        "Ready": "True",
    }
    assert _cond(route, "CertificateProvisioned")["reason"] == "TLSNotEnabled"
    config = Configuration.from_dict(
        {
            **config.to_dict(),
            "status": {
                "latestReadyRevisionName": "hello-00002",
                "latestCreatedRevisionName": "hello-00002",
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    )
    service = _svc()
    mark_service_status(service, config, route, clock)
    assert service.status is not None
    assert {c.type: c.status for c in service.status.conditions or []} == {
        "ConfigurationsReady": "True",
        "Ready": "True",
        "RoutesReady": "True",
    }
    assert service.status.traffic == route.status.traffic

    unready = build_route(_svc())
    missing = resolve_traffic(unready, {"hello": build_configuration(_svc())}, {}, "example.com")
    assert missing.missing == ("NotReady", "hello") or missing.missing == ("Revision", "hello-00001")
    mark_route_status(unready, missing, "example.com", clock)
    assert _cond(unready)["status"] in ("Unknown", "False")
    assert _cond(unready)["reason"] == "RevisionMissing"
    failed = build_configuration(_svc())
    mark_configuration_status(failed, [_rev("hello-00001", 1, "False")], clock)
    latest_only = Service.from_dict({**SERVICE, "spec": {"template": SERVICE["spec"]["template"]}})
    route = build_route(latest_only)
    mark_route_status(
        route, resolve_traffic(route, {"hello": failed}, {}, "example.com"), "example.com", clock
    )
    assert (_cond(route)["status"], _cond(route)["reason"]) == ("False", "RevisionMissing")
    assert "does not have any ready Revision" in _cond(route)["message"]


def test_revision_conditions_from_what_the_runtime_reports() -> None:
    clock = Clock()
    rev = _rev("hello-00001", 1, "Unknown")
    mark_revision_status(rev, RevisionObservation(desired=1), clock)
    assert (_cond(rev)["status"], _cond(rev)["reason"]) == ("Unknown", "Deploying")
    assert _cond(rev, "Active")["severity"] == "Info"
    clock.moment = datetime(2026, 1, 2, tzinfo=UTC)
    mark_revision_status(rev, RevisionObservation(ready=1, desired=1, ever_ready=True), clock)
    assert _cond(rev)["status"] == "True"
    assert rev.status is not None and (rev.status.actual_replicas, rev.status.desired_replicas) == (1, 1)
    # scaled to zero: still Ready, Active False with NoTraffic
    mark_revision_status(rev, RevisionObservation(ever_ready=True), clock)
    assert _cond(rev)["status"] == "True"
    assert (_cond(rev, "Active")["status"], _cond(rev, "Active")["reason"]) == ("False", "NoTraffic")
    # the only instance crashed: not ready, with the crash as the reason
    crash = Problem("ContainerRestarted", "instance 1 killed by signal 9; restart 1 in 0s")
    mark_revision_status(rev, RevisionObservation(desired=1, ever_ready=True, crash=crash), clock)
    assert (_cond(rev)["status"], _cond(rev)["reason"]) == ("False", "ContainerRestarted")
    fatal = Problem("ImageNotRunnableLocally", "image x cannot run locally")
    mark_revision_status(rev, RevisionObservation(fatal=fatal), clock)
    assert _cond(rev)["reason"] == "ImageNotRunnableLocally"
    assert _cond(rev, "ResourcesAvailable")["status"] == "False"


def test_failures_read_as_one_line() -> None:
    log = "\n".join(
        [
            "instance exited with code 1 before becoming ready",
            '{"level":"INFO","msg":"starting"}',
            '{"level":"ERROR","msg":"loading model x failed","exc":"Traceback ..."}',
            '{"level":"ERROR","msg":"model server failed to start: sklearn: no model file (*.joblib) '
            'found in /m"}',
        ]
    )
    assert one_line(log) == (
        "instance exited with code 1 before becoming ready: "
        "model server failed to start: sklearn: no model file (*.joblib) found in /m"
    )
    traceback = "\n".join(
        [
            "init failed",
            "Traceback (most recent call last):",
            '  File "x.py", line 1',
            "    boom()",
            "ValueError: bad",
        ]
    )
    assert one_line(traceback) == "init failed: ValueError: bad"
    assert one_line("just this") == "just this"
