"""InferenceService status: conditions and KServe's rollout bookkeeping, walked through a canary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from zeroserve.apis.knative.serving.v1.types import ServiceStatus
from zeroserve.apis.serving.v1beta1 import lifecycle
from zeroserve.apis.serving.v1beta1.types import InferenceService


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def _isvc(**spec: Any) -> InferenceService:
    body: dict[str, Any] = {"predictor": {"model": {"modelFormat": {"name": "sklearn"}}}, **spec}
    return InferenceService.from_dict({"metadata": {"name": "iris", "namespace": "default"}, "spec": body})


def _ksvc(
    latest_ready: str, traffic: list[dict[str, Any]], ready: str = "True", **extra: Any
) -> ServiceStatus:
    return ServiceStatus.from_dict(
        {
            "latestReadyRevisionName": latest_ready,
            "latestCreatedRevisionName": extra.pop("latest_created", latest_ready),
            "url": "http://iris-predictor.default.example.com",
            "address": {"url": "http://iris-predictor.default.svc.cluster.local"},
            "traffic": traffic,
            "conditions": [
                {"type": "Ready", "status": ready, **extra},
                {"type": "RoutesReady", "status": ready},
                {"type": "ConfigurationsReady", "status": ready},
            ],
        }
    )


V1, V2 = "iris-predictor-00001", "iris-predictor-00002"


def _condition(isvc: InferenceService, kind: str) -> str:
    assert isvc.status is not None
    condition = isvc.status.get_condition(kind)
    return condition.status if condition is not None else "absent"


def _rollout(isvc: InferenceService) -> tuple[str | None, str | None, str | None]:
    assert isvc.status is not None and isvc.status.components is not None
    entry = isvc.status.components["predictor"]
    return entry.latest_ready_revision, entry.latest_rolledout_revision, entry.previous_rolledout_revision


def _split(isvc: InferenceService) -> dict[str, int]:
    assert isvc.status is not None and isvc.status.components is not None
    traffic = isvc.status.components["predictor"].traffic or []
    return {
        (t.tag or ("latest" if t.latest_revision else t.revision_name) or ""): t.percent or 0 for t in traffic
    }


def test_canary_walk_deploy_canary_promote() -> None:
    isvc = _isvc()
    lifecycle.propagate_component_status(isvc, "predictor", None, _now)
    assert (_condition(isvc, "PredictorReady"), _condition(isvc, "Ready")) == ("Unknown", "Unknown")

    # v1 deployed: all traffic to the latest revision
    lifecycle.propagate_component_status(
        isvc, "predictor", _ksvc(V1, [{"revisionName": V1, "latestRevision": True, "percent": 100}]), _now
    )
    assert _rollout(isvc) == (V1, V1, None)
    assert _condition(isvc, "PredictorReady") == "True"
    assert _condition(isvc, "Ready") == "Unknown"  # IngressReady still pending
    lifecycle.mark_ingress_ready(
        isvc, "http://iris.default.example.com", "http://iris.default.svc.cluster.local", _now
    )
    assert _condition(isvc, "Ready") == "True"
    assert isvc.status is not None and isvc.status.url == "http://iris.default.example.com"

    # the model changes with canaryTrafficPercent 10: 90 to the rolled-out revision, tagged prev
    canary = [
        {"revisionName": V2, "latestRevision": True, "percent": 10},
        {"revisionName": V1, "latestRevision": False, "percent": 90, "tag": "prev"},
    ]
    lifecycle.propagate_component_status(isvc, "predictor", _ksvc(V2, canary), _now)
    assert _rollout(isvc) == (V2, V1, None)
    assert _split(isvc) == {"latest": 10, "prev": 90}

    # promotion: the field is removed and the latest revision gets everything
    lifecycle.propagate_component_status(
        isvc, "predictor", _ksvc(V2, [{"revisionName": V2, "latestRevision": True, "percent": 100}]), _now
    )
    assert _rollout(isvc) == (V2, V2, V1)
    assert _split(isvc) == {"latest": 100}


def test_canary_zero_pins_the_rolled_out_revision() -> None:
    isvc = _isvc()
    lifecycle.propagate_component_status(
        isvc, "predictor", _ksvc(V1, [{"revisionName": V1, "latestRevision": True, "percent": 100}]), _now
    )
    pinned = [
        {"revisionName": V2, "latestRevision": True, "percent": 0},
        {"revisionName": V1, "latestRevision": False, "percent": 100, "tag": "prev"},
    ]
    lifecycle.propagate_component_status(isvc, "predictor", _ksvc(V2, pinned), _now)
    assert _rollout(isvc) == (V2, V1, None)
    assert _split(isvc) == {"latest": 0, "prev": 100}


def test_rolled_out_revision_falls_back_when_it_loses_traffic() -> None:
    isvc = _isvc()
    for latest, traffic in (
        (V1, [{"revisionName": V1, "latestRevision": True, "percent": 100}]),
        (V2, [{"revisionName": V2, "latestRevision": True, "percent": 100}]),
        (
            V2,
            [
                {"revisionName": V2, "latestRevision": True, "percent": 50},
                {"revisionName": V1, "latestRevision": False, "percent": 50, "tag": "prev"},
            ],
        ),
    ):
        lifecycle.propagate_component_status(isvc, "predictor", _ksvc(latest, traffic), _now)
    assert _rollout(isvc) == (V2, V1, V1)


def test_failed_ksvc_makes_the_isvc_not_ready_with_its_reason() -> None:
    isvc = _isvc()
    status = _ksvc(V1, [], ready="False", reason="RevisionFailed", message="image not runnable")
    lifecycle.propagate_component_status(isvc, "predictor", status, _now)
    assert isvc.status is not None
    ready = isvc.status.get_condition("Ready")
    assert ready is not None and (ready.status, ready.reason, ready.message) == (
        "False",
        "RevisionFailed",
        "image not runnable",
    )
    assert isvc.status.components is not None and isvc.status.components["predictor"].url is None
    assert _condition(isvc, "PredictorRouteReady") == "False"


def test_every_present_component_gates_ready() -> None:
    isvc = _isvc(transformer={"containers": [{"name": "kserve-container", "image": "t"}]})
    ok = [{"revisionName": V1, "latestRevision": True, "percent": 100}]
    lifecycle.propagate_component_status(isvc, "predictor", _ksvc(V1, ok), _now)
    lifecycle.mark_ingress_ready(
        isvc, "http://iris.default.example.com", "http://iris.default.svc.cluster.local", _now
    )
    assert (_condition(isvc, "TransformerReady"), _condition(isvc, "Ready")) == ("Unknown", "Unknown")
    lifecycle.propagate_component_status(isvc, "transformer", _ksvc("iris-transformer-00001", ok), _now)
    assert _condition(isvc, "Ready") == "True"
    assert _condition(isvc, "ExplainerReady") == "absent"


def test_ingress_not_ready_and_ignored_fields() -> None:
    isvc = _isvc()
    lifecycle.mark_ingress_not_ready(
        isvc, "PredictorIngressNotCreated", "Predictor ingress not created", _now
    )
    assert (_condition(isvc, "IngressReady"), _condition(isvc, "Ready")) == ("False", "False")
    lifecycle.mark_ignored_fields(isvc, ["spec.predictor.workerSpec"], _now)
    assert isvc.status is not None
    ignored = isvc.status.get_condition("IgnoredFields")
    assert ignored is not None and ignored.severity == "Info"
    assert ignored.message == "accepted but not acted on: spec.predictor.workerSpec"
    lifecycle.mark_ignored_fields(isvc, [], _now)
    assert _condition(isvc, "IgnoredFields") == "absent"


def _ready_isvc() -> dict[str, Any]:
    isvc = _isvc()
    lifecycle.propagate_component_status(
        isvc, "predictor", _ksvc(V1, [{"revisionName": V1, "latestRevision": True, "percent": 100}]), _now
    )
    lifecycle.mark_ingress_ready(
        isvc, "http://iris.default.example.com", "http://iris.default.svc.cluster.local", _now
    )
    return isvc.to_dict()


def test_status_round_trips() -> None:
    obj = _ready_isvc()
    assert InferenceService.from_dict(obj).to_dict() == obj


def test_status_is_in_kserve_shape(reference_schema: dict[str, Any]) -> None:
    assert reference_schema["InferenceService"](_ready_isvc()) == []
