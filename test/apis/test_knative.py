"""Knative Serving, Eventing and the HTTPRoute subset: samples against Knative's CRDs, defaults,
validation (every rule with its path) and lifecycle helpers."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from zeroserve.apis.gateway.v1 import HTTPRoute
from zeroserve.apis.gateway.v1.defaults import default_http_route
from zeroserve.apis.gateway.v1.lifecycle import is_accepted, set_parent_conditions
from zeroserve.apis.gateway.v1.validation import validate_http_route
from zeroserve.apis.knative.eventing.v1 import Broker, Trigger
from zeroserve.apis.knative.eventing.v1 import lifecycle as eventing
from zeroserve.apis.knative.eventing.v1.defaults import default_broker, default_trigger
from zeroserve.apis.knative.eventing.v1.validation import validate_broker, validate_trigger
from zeroserve.apis.knative.serving.v1 import Configuration, Revision, Route, Service
from zeroserve.apis.knative.serving.v1 import lifecycle as serving
from zeroserve.apis.knative.serving.v1.defaults import default_revision, default_route, default_service
from zeroserve.apis.knative.serving.v1.validation import (
    validate_configuration,
    validate_revision,
    validate_route,
    validate_service,
)

from .conftest import SAMPLES, Validate, load_yaml


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


TYPES: dict[str, Any] = {
    "Service": Service,
    "Broker": Broker,
    "Trigger": Trigger,
    "HTTPRoute": HTTPRoute,
}
SAMPLE_FILES = sorted([*(SAMPLES / "knative").glob("*.yaml"), *(SAMPLES / "gateway").glob("*.yaml")])


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=[p.stem for p in SAMPLE_FILES])
def test_sample_round_trips_and_is_valid(path: Any, our_schema: dict[str, Validate]) -> None:
    sample = load_yaml(path)
    model = TYPES[sample["kind"]]
    parsed = model.from_dict(sample)
    assert parsed.to_dict() == sample
    assert our_schema[sample["kind"]](sample) == []
    defaulters = {"Service": default_service, "Broker": default_broker, "Trigger": default_trigger}
    validators = {
        "Service": validate_service,
        "Broker": validate_broker,
        "Trigger": validate_trigger,
        "HTTPRoute": validate_http_route,
    }
    defaulted = defaulters.get(sample["kind"], default_http_route)(parsed)
    assert [str(e) for e in validators[sample["kind"]](defaulted)] == []
    assert our_schema[sample["kind"]](defaulted.to_dict()) == []


def test_knative_sample_against_knative_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    defaulters = {"Service": default_service, "Broker": default_broker, "Trigger": default_trigger}
    for path in [p for p in SAMPLE_FILES if p.parent.name == "knative"]:
        with subtests.test(msg=path.stem):
            sample = load_yaml(path)
            defaulted = defaulters[sample["kind"]](TYPES[sample["kind"]].from_dict(sample)).to_dict()
            assert reference_schema[sample["kind"]](sample) == []
            assert reference_schema[sample["kind"]](defaulted) == []


def _ksvc(**template_spec: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"image": "ghcr.io/zeroserve/zeroserve:0.1.0"}], **template_spec}
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "hello", "namespace": "default"},
        "spec": {"template": {"spec": spec}},
    }


def test_service_defaults() -> None:
    written = _ksvc()
    defaulted = default_service(Service.from_dict(copy.deepcopy(written))).to_dict()
    assert defaulted["spec"] == {
        "template": {
            "spec": {
                "containers": [{"name": "user-container", "image": "ghcr.io/zeroserve/zeroserve:0.1.0"}],
                "containerConcurrency": 0,
                "timeoutSeconds": 300,
            }
        },
        "traffic": [{"latestRevision": True, "percent": 100}],
    }
    assert Service.from_dict(written).to_dict() == written


def test_defaults_keep_values_and_name_several_containers() -> None:
    service = Service.from_dict(
        _ksvc(
            containerConcurrency=4,
            timeoutSeconds=30,
            containers=[{"image": "a", "ports": [{"containerPort": 8080}]}, {"image": "b"}],
        )
    )
    service.spec.traffic = None
    spec = default_service(service).spec
    assert (spec.template.spec.container_concurrency, spec.template.spec.timeout_seconds) == (4, 30)
    assert [c.name for c in spec.template.spec.containers or []] == ["user-container-0", "user-container-1"]


def test_traffic_defaults() -> None:
    route = Route.from_dict(
        {
            "metadata": {"name": "r"},
            "spec": {"traffic": [{"percent": 60}, {"revisionName": "r-00001", "percent": 40}]},
        }
    )
    traffic = default_route(route).to_dict()["spec"]["traffic"]
    assert traffic == [
        {"latestRevision": True, "percent": 60},
        {"revisionName": "r-00001", "latestRevision": False, "percent": 40},
    ]


T = "spec.template.spec"
# (id, mutation of a defaulted Service's dict, expected errors)
SERVICE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid", {}, []),
    ("no-containers", {"containers": []}, [f"{T}.containers: is required"]),
    ("image-missing", {"containers": [{"name": "c"}]}, [f"{T}.containers[0].image: is required"]),
    (
        "duplicate-container-names",
        {
            "containers": [
                {"name": "c", "image": "a", "ports": [{"containerPort": 1}]},
                {"name": "c", "image": "b"},
            ]
        },
        [f"{T}.containers[1].name: duplicate container name 'c'"],
    ),
    (
        "several-containers-without-one-serving",
        {"containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}]},
        [f"{T}.containers: exactly one container must declare ports (the serving one)"],
    ),
    (
        "two-ports",
        {"containers": [{"name": "a", "image": "a", "ports": [{"containerPort": 1}, {"containerPort": 2}]}]},
        [f"{T}.containers[0].ports: at most one port is allowed"],
    ),
    (
        "concurrency-too-high",
        {"containerConcurrency": 1001},
        [f"{T}.containerConcurrency: must be between 0 and 1000"],
    ),
    ("timeout-too-long", {"timeoutSeconds": 601}, [f"{T}.timeoutSeconds: must be between 0 and 600"]),
    (
        "response-timeout-negative",
        {"responseStartTimeoutSeconds": -1},
        [f"{T}.responseStartTimeoutSeconds: must be between 0 and 600"],
    ),
]


@pytest.mark.parametrize(
    ("template_spec", "expected"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
def test_service_validation(template_spec: dict[str, Any], expected: list[str]) -> None:
    service = default_service(Service.from_dict(_ksvc(**template_spec)))
    assert [str(e) for e in validate_service(service)] == expected


def test_service_validation_inputs_are_accepted_by_knative_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    """Knative's schema accepts every case: these are rules of its webhook, which zeroserve applies."""
    for name, template_spec, _ in SERVICE_CASES:
        with subtests.test(msg=name):
            assert reference_schema["Service"](_ksvc(**template_spec)) == []


A = "spec.template.metadata.annotations"
TAG_MESSAGE = (
    "must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
    "character (regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
# (id, template annotations, traffic, template name, expected errors)
META_CASES: list[tuple[str, dict[str, str], list[dict[str, Any]] | None, str | None, list[str]]] = [
    (
        "scale-bounds",
        {"autoscaling.knative.dev/min-scale": "3", "autoscaling.knative.dev/max-scale": "2"},
        None,
        None,
        [f"{A}[autoscaling.knative.dev/min-scale]: must be <= autoscaling.knative.dev/max-scale"],
    ),
    (
        "scale-not-integer",
        {"autoscaling.knative.dev/min-scale": "one"},
        None,
        None,
        [f"{A}[autoscaling.knative.dev/min-scale]: must be a non-negative integer"],
    ),
    (
        "class-unknown",
        {"autoscaling.knative.dev/class": "x"},
        None,
        None,
        [
            f"{A}[autoscaling.knative.dev/class]: must be kpa.autoscaling.knative.dev or "
            "hpa.autoscaling.knative.dev"
        ],
    ),
    (
        "kpa-metric-cpu",
        {"autoscaling.knative.dev/metric": "cpu"},
        None,
        None,
        [
            f"{A}[autoscaling.knative.dev/metric]: the autoscaler kpa.autoscaling.knative.dev supports "
            "concurrency, rps"
        ],
    ),
    (
        "revision-name-prefix",
        {},
        None,
        "other-00001",
        ["spec.template.metadata.name: must have prefix hello-"],
    ),
    ("revision-name-ok", {}, None, "hello-v2", []),
    (
        "traffic-sum",
        {},
        [{"latestRevision": True, "percent": 50}],
        None,
        ["spec.traffic: traffic targets sum to 50, want 100"],
    ),
    (
        "traffic-target-rules",
        {},
        [
            {"latestRevision": True, "revisionName": "hello-00001", "percent": 50, "tag": "Bad_Tag"},
            {"latestRevision": False, "percent": 50, "tag": "Bad_Tag"},
            {"configurationName": "hello", "percent": 0, "url": "http://x"},
        ],
        None,
        [
            "spec.traffic[0].revisionName: may not set revisionName when latestRevision is true",
            "spec.traffic[0].tag: " + TAG_MESSAGE,
            "spec.traffic[1].revisionName: is required when latestRevision is false",
            "spec.traffic[1]: exactly one of [revisionName, latestRevision: true] must be specified",
            "spec.traffic[1].tag: " + TAG_MESSAGE,
            "spec.traffic[1].tag: duplicate tag 'Bad_Tag'",
            "spec.traffic[2].configurationName: must not be set in a Service",
            "spec.traffic[2].url: must not be set in spec (it is status)",
        ],
    ),
    (
        "traffic-percent-range",
        {},
        [{"latestRevision": True, "percent": 150}, {"revisionName": "hello-00001", "percent": -50}],
        None,
        [
            "spec.traffic[0].percent: must be between 0 and 100",
            "spec.traffic[1].percent: must be between 0 and 100",
        ],
    ),
]


@pytest.mark.parametrize(
    ("annotations", "traffic", "revision_name", "expected"),
    [c[1:] for c in META_CASES],
    ids=[c[0] for c in META_CASES],
)
def test_service_metadata_and_traffic_validation(
    annotations: dict[str, str],
    traffic: list[dict[str, Any]] | None,
    revision_name: str | None,
    expected: list[str],
) -> None:
    obj = _ksvc_with(annotations, traffic, revision_name)
    assert [str(e) for e in validate_service(default_service(Service.from_dict(obj)))] == expected


def _ksvc_with(
    annotations: dict[str, str], traffic: list[dict[str, Any]] | None, revision_name: str | None
) -> dict[str, Any]:
    obj = _ksvc()
    metadata: dict[str, Any] = {"annotations": annotations}
    if revision_name:
        metadata["name"] = revision_name
    obj["spec"]["template"]["metadata"] = metadata
    if traffic is not None:
        obj["spec"]["traffic"] = traffic
    return obj


def test_service_metadata_and_traffic_inputs_are_accepted_by_knative_crd(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    for name, written, traffic, revision_name, _ in META_CASES:
        with subtests.test(msg=name):
            assert reference_schema["Service"](_ksvc_with(written, traffic, revision_name)) == []


def test_route_configuration_and_revision_validation() -> None:
    route = Route.from_dict({"metadata": {"name": "hello"}, "spec": {}})
    assert [str(e) for e in validate_route(route)] == ["spec.traffic: is required"]
    with_config = Route.from_dict(
        {"metadata": {"name": "hello"}, "spec": {"traffic": [{"configurationName": "hello", "percent": 100}]}}
    )
    assert validate_route(with_config) == []
    configuration = Configuration.from_dict(
        {"metadata": {"name": "hello"}, "spec": {"template": {"spec": {}}}}
    )
    assert [str(e) for e in validate_configuration(configuration)] == [
        "spec.template.spec.containers: is required"
    ]
    revision = default_revision(
        Revision.from_dict(
            {
                "metadata": {
                    "name": "hello-00001",
                    "annotations": {"autoscaling.knative.dev/max-scale": "-1"},
                },
                "spec": {"containers": [{"image": "x"}]},
            }
        )
    )
    assert [str(e) for e in validate_revision(revision)] == [
        "metadata.annotations[autoscaling.knative.dev/max-scale]: must be a non-negative integer"
    ]


def _ready_service() -> tuple[Configuration, Route, Service]:
    """A Configuration and Route made ready through their lifecycle, and a Service propagating both."""
    configuration = Configuration.from_dict({"metadata": {"name": "hello"}, "spec": {}})
    serving.mark_configuration_latest_created(configuration, "hello-00001", _now)
    assert configuration.status is not None and not configuration.status.is_ready()
    serving.mark_configuration_latest_ready(configuration, "hello-00001", _now)
    assert configuration.status.is_ready()

    route = Route.from_dict({"metadata": {"name": "hello"}, "spec": {}})
    serving.mark_route_traffic_assigned(route, _now)
    serving.mark_route_tls_not_enabled(route, _now)
    serving.mark_route_ingress_not_ready(route, "Configuring", "gateway not ready", _now)
    assert route.status is not None and not route.status.is_ready()
    serving.mark_route_ingress_ready(
        route, "http://hello.default.example.com", "http://hello.default.svc.cluster.local", _now
    )
    assert route.status.is_ready()
    route.status.traffic = default_route(Route.from_dict({"metadata": {"name": "x"}})).spec.traffic
    assert route.status.traffic is not None
    route.status.traffic[0].revision_name = "hello-00001"

    service = Service.from_dict(_ksvc())
    serving.propagate_configuration_status(service, configuration.status, _now)
    assert service.status is not None and not service.status.is_ready()
    serving.propagate_route_status(service, route.status, _now)
    assert service.status.is_ready()
    return configuration, route, service


def test_service_lifecycle_propagates_configuration_and_route() -> None:
    configuration, route, service = _ready_service()
    assert configuration.status is not None and route.status is not None and service.status is not None
    assert (service.status.url, service.status.latest_ready_revision_name) == (
        "http://hello.default.example.com",
        "hello-00001",
    )

    serving.mark_configuration_latest_created(configuration, "hello-00002", _now)
    serving.mark_configuration_latest_failed(configuration, "hello-00002", "exit code 1", _now)
    serving.propagate_configuration_status(service, configuration.status, _now)
    ready = service.status.get_condition("Ready")
    assert ready is not None and (ready.status, ready.reason, ready.message) == (
        "False",
        "RevisionFailed",
        "Revision 'hello-00002' failed with message: exit code 1.",
    )

    serving.mark_route_missing_target(route, "Revision", "hello-00009", _now)
    assigned = route.status.get_condition("AllTrafficAssigned")
    assert assigned is not None and (assigned.reason, assigned.message) == (
        "RevisionMissing",
        "Revision 'hello-00009' referenced in traffic not found.",
    )
    serving.mark_route_configuration_not_ready(route, "hello", _now)
    ready = route.status.get_condition("Ready")
    assert ready is not None and (ready.status, ready.reason, ready.message) == (
        "Unknown",
        "RevisionMissing",
        "Configuration 'hello' is waiting for a Revision to become ready.",
    )
    serving.mark_route_configuration_failed(route, "hello", _now)
    ready = route.status.get_condition("Ready")
    assert ready is not None and (ready.status, ready.reason, ready.message) == (
        "False",
        "RevisionMissing",
        "Configuration 'hello' does not have any ready Revision.",
    )
    certificate = route.status.get_condition("CertificateProvisioned")
    assert certificate is not None and (certificate.status, certificate.reason) == ("True", "TLSNotEnabled")


def _failed_revision() -> Revision:
    """A Revision taken through ready, inactive, unhealthy and unavailable."""
    revision = Revision.from_dict(
        {"metadata": {"name": "hello-00001"}, "spec": {"containers": [{"image": "x"}]}}
    )
    serving.mark_revision_resources_available(revision, _now)
    serving.mark_revision_container_healthy(revision, _now)
    serving.mark_revision_active(revision, _now)
    assert revision.status is not None and revision.status.is_ready()
    serving.mark_revision_inactive(revision, now=_now)
    active = revision.status.get_condition("Active")
    assert active is not None and (active.status, active.reason, active.severity) == (
        "False",
        "NoTraffic",
        "Info",
    )
    assert revision.status.is_ready()
    revision.status.actual_replicas, revision.status.desired_replicas = 0, 0
    serving.mark_revision_container_unhealthy(revision, "ExitCode1", "Traceback ...", _now)
    assert not revision.status.is_ready()
    serving.mark_revision_resources_unavailable(revision, "ImageNotRunnable", "no local mapping", _now)
    return revision


def test_revision_lifecycle() -> None:
    revision = _failed_revision()
    assert revision.status is not None and not revision.status.is_ready()

    starting = Revision.from_dict(
        {"metadata": {"name": "hello-00002"}, "spec": {"containers": [{"image": "x"}]}}
    )
    serving.mark_revision_container_healthy(starting, _now)
    serving.mark_revision_resources_unknown(starting, "Deploying", "Instances are starting.", _now)
    serving.mark_revision_activating(starting, "Activating", "Instances are starting.", _now)
    assert starting.status is not None
    ready = starting.status.get_condition("Ready")
    assert ready is not None and (ready.status, ready.reason) == ("Unknown", "Deploying")
    active = starting.status.get_condition("Active")
    assert active is not None and (active.status, active.severity) == ("Unknown", "Info")
    serving.mark_revision_container_healthy_unknown(starting, "Pending", now=_now)
    assert not starting.status.is_ready()


def _ready_broker() -> Broker:
    broker = default_broker(Broker.from_dict({"metadata": {"name": "default", "namespace": "ns"}}))
    assert broker.annotations == {"eventing.knative.dev/broker.class": "MTChannelBasedBroker"}
    eventing.mark_broker_ready(
        broker, "http://broker-ingress.knative-eventing.svc.cluster.local/ns/default", _now
    )
    assert broker.status is not None and broker.status.is_ready()
    assert broker.status.address is not None and broker.status.address.url is not None
    return broker


def _ready_trigger(broker: Broker) -> Trigger:
    trigger = default_trigger(
        Trigger.from_dict(
            {
                "metadata": {"name": "t", "namespace": "ns"},
                "spec": {
                    "broker": "default",
                    "subscriber": {"ref": {"apiVersion": "v1", "kind": "Service", "name": "d"}},
                },
            }
        )
    )
    assert trigger.to_dict()["spec"]["filter"] == {"attributes": {}}
    assert trigger.spec.subscriber is not None and trigger.spec.subscriber.ref is not None
    assert trigger.spec.subscriber.ref.namespace == "ns"
    assert trigger.labels == {"eventing.knative.dev/broker": "default"}
    eventing.propagate_broker_status(trigger, None, _now)
    reason = trigger.status.get_condition("BrokerReady") if trigger.status else None
    assert reason is not None and reason.reason == "BrokerDoesNotExist"
    eventing.propagate_broker_status(trigger, broker.status, _now)
    eventing.mark_subscriber_resolved(trigger, "http://d.ns.svc.cluster.local", _now)
    eventing.mark_subscription_ready(trigger, _now)
    assert trigger.status is not None and trigger.status.is_ready()
    return trigger


def test_eventing_defaults_validation_and_lifecycle() -> None:
    trigger = _ready_trigger(_ready_broker())
    assert trigger.status is not None
    eventing.mark_subscription_not_ready(trigger, "DispatchFailed", "x", _now)
    assert not trigger.status.is_ready()


def test_lifecycle_states_are_in_knative_shape(
    reference_schema: dict[str, Validate], subtests: pytest.Subtests
) -> None:
    """The statuses the lifecycle helpers write are ones Knative's own CRDs accept."""
    broker = _ready_broker()
    objects = {
        "Service": _ready_service()[2].to_dict(),
        "Revision": _failed_revision().to_dict(),
        "Broker": broker.to_dict(),
        "Trigger": _ready_trigger(broker).to_dict(),
    }
    for kind, obj in objects.items():
        with subtests.test(msg=kind):
            assert reference_schema[kind](obj) == []


TRIGGER_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("broker-and-subscriber-missing", {}, ["spec.broker: is required", "spec.subscriber: is required"]),
    (
        "empty-subscriber",
        {"broker": "b", "subscriber": {}},
        ["spec.subscriber: expected at least one of [ref, uri]"],
    ),
    (
        "ref-incomplete",
        {"broker": "b", "subscriber": {"ref": {"name": "x"}}},
        ["spec.subscriber.ref.kind: is required", "spec.subscriber.ref.apiVersion: is required"],
    ),
    (
        "uri-relative",
        {"broker": "b", "subscriber": {"uri": "/path"}},
        ["spec.subscriber.uri: must be an absolute URL"],
    ),
    (
        "filter-attribute-name",
        {"broker": "b", "subscriber": {"uri": "http://x"}, "filter": {"attributes": {"Type": "x"}}},
        [
            "spec.filter.attributes[Type]: must be a CloudEvents attribute name "
            "(lower-case letters and digits)"
        ],
    ),
    (
        "delivery",
        {
            "broker": "b",
            "subscriber": {"uri": "http://x"},
            "delivery": {
                "retry": -1,
                "backoffPolicy": "random",
                "backoffDelay": "2s",
                "timeout": "PT",
                "deadLetterSink": {},
            },
        },
        [
            "spec.delivery.retry: must be >= 0",
            "spec.delivery.backoffPolicy: must be linear or exponential",
            "spec.delivery.backoffDelay: must be an ISO 8601 duration, e.g. PT0.2S",
            "spec.delivery.timeout: must be an ISO 8601 duration, e.g. PT10S",
            "spec.delivery.deadLetterSink: expected at least one of [ref, uri]",
        ],
    ),
]


@pytest.mark.parametrize(
    ("spec", "expected"), [c[1:] for c in TRIGGER_CASES], ids=[c[0] for c in TRIGGER_CASES]
)
def test_trigger_validation(spec: dict[str, Any], expected: list[str]) -> None:
    trigger = Trigger.from_dict({"metadata": {"name": "t"}, "spec": spec})
    assert [str(e) for e in validate_trigger(trigger)] == expected


def test_broker_validation() -> None:
    broker = Broker.from_dict({"metadata": {}, "spec": {"delivery": {"backoffPolicy": "x"}}})
    assert [str(e) for e in validate_broker(broker)] == [
        "metadata.name: is required",
        "spec.delivery.backoffPolicy: must be linear or exponential",
    ]


R = "spec.rules[0]"
ROUTE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid-default-match", {"backendRefs": [{"name": "s", "port": 80}]}, []),
    (
        "path-type",
        {"matches": [{"path": {"type": "Glob", "value": "/"}}]},
        [f"{R}.matches[0].path.type: must be one of Exact, PathPrefix, RegularExpression"],
    ),
    (
        "path-value",
        {"matches": [{"path": {"type": "Exact", "value": "v1"}}]},
        [f"{R}.matches[0].path.value: must start with '/'"],
    ),
    (
        "regex",
        {"matches": [{"path": {"type": "RegularExpression", "value": "("}}]},
        [
            f"{R}.matches[0].path.value: invalid regular expression: "
            "missing ), unterminated subpattern at position 0"
        ],
    ),
    (
        "header-type",
        {"matches": [{"headers": [{"type": "Prefix", "name": "a", "value": "b"}]}]},
        [f"{R}.matches[0].headers[0].type: must be one of Exact, RegularExpression"],
    ),
    (
        "filter-unsupported",
        {"filters": [{"type": "RequestMirror", "requestMirror": {}}]},
        [
            f"{R}.filters[0].type: filter type 'RequestMirror' is not supported "
            "(supported: URLRewrite, RequestHeaderModifier, ResponseHeaderModifier)"
        ],
    ),
    (
        "rewrite-missing",
        {"filters": [{"type": "URLRewrite"}]},
        [f"{R}.filters[0].urlRewrite: is required for type URLRewrite"],
    ),
    (
        "rewrite-path",
        {"filters": [{"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch"}}}]},
        [f"{R}.filters[0].urlRewrite.path.replacePrefixMatch: is required for ReplacePrefixMatch"],
    ),
    (
        "header-modifier-missing",
        {"filters": [{"type": "RequestHeaderModifier"}]},
        [f"{R}.filters[0].requestHeaderModifier: is required for type RequestHeaderModifier"],
    ),
    (
        "backend-port",
        {"backendRefs": [{"name": "s"}]},
        [f"{R}.backendRefs[0].port: is required for a Service backend"],
    ),
    (
        "backend-weight",
        {"backendRefs": [{"name": "s", "port": 80, "weight": -1}]},
        [f"{R}.backendRefs[0].weight: must be between 0 and 1000000"],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), [c[1:] for c in ROUTE_CASES], ids=[c[0] for c in ROUTE_CASES])
def test_http_route_validation(
    rule: dict[str, Any], expected: list[str], our_schema: dict[str, Validate]
) -> None:
    obj = {"metadata": {"name": "r"}, "spec": {"hostnames": ["r.default.example.com"], "rules": [rule]}}
    route = default_http_route(HTTPRoute.from_dict(obj))
    assert [str(e) for e in validate_http_route(route)] == expected


def test_http_route_hostnames_and_status() -> None:
    route = HTTPRoute.from_dict(
        {"metadata": {"name": "r", "generation": 2}, "spec": {"hostnames": ["Bad_Host", "*.example.com"]}}
    )
    assert [str(e) for e in validate_http_route(route)] == [
        "spec.hostnames[0]: must be a lower-case DNS name"
    ]
    moment = [datetime(2026, 1, 1, tzinfo=UTC)]
    set_parent_conditions(
        route, "zeroserve.io/gateway", accepted=None, resolved_refs=True, message="m", now=lambda: moment[0]
    )
    assert not is_accepted(route)
    assert route.status is not None and route.status.parents is not None
    pending = {c["type"]: c for c in route.status.parents[0].conditions or []}["Accepted"]
    assert (pending["status"], pending["reason"], pending["message"]) == ("Unknown", "Pending", "m")
    moment[0] = datetime(2026, 1, 2, tzinfo=UTC)
    set_parent_conditions(
        route, "zeroserve.io/gateway", accepted=True, resolved_refs=True, now=lambda: moment[0]
    )
    assert is_accepted(route)
    assert route.status is not None and route.status.parents is not None and len(route.status.parents) == 1
    conditions = {c["type"]: c for c in route.status.parents[0].conditions or []}
    assert conditions["Accepted"]["lastTransitionTime"] == "2026-01-02T00:00:00Z"
    assert conditions["ResolvedRefs"]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert conditions["Accepted"]["observedGeneration"] == 2
