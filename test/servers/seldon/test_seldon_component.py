"""Seldon's operations on user objects in-process (no server): hooks, SeldonResponse, metadata."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from zeroserve.servers.seldon import SeldonComponent, SeldonError, SeldonResponse
from zeroserve.servers.seldon.custom_metrics import CustomMetrics
from zeroserve.servers.seldon.metadata import metadata_or_error


class Runtime:
    def predict(self, X: Any, names: Any, meta: Any = None) -> Any:
        seen = (meta or {}).get("tags", {}).get("seen")
        return SeldonResponse(
            np.asarray(X) + 1,
            tags={"source": "runtime", "seen": seen},
            metrics=[{"type": "GAUGE", "key": "rt", "value": 3}],
        )

    def tags(self) -> dict[str, Any]:
        return {"source": "tags()", "static": True}


def test_seldon_response_tags_win_and_metrics_append() -> None:
    registry = CollectorRegistry()
    component = SeldonComponent(Runtime(), metrics=CustomMetrics(registry))
    out = component.call("predict", {"data": {"ndarray": [[1, 2]]}, "meta": {"tags": {"seen": "yes"}}})
    assert out["data"] == {"names": ["t:0", "t:1"], "ndarray": [[2, 3]]}
    assert out["meta"]["tags"] == {"seen": "yes", "source": "runtime", "static": True}
    assert out["meta"]["metrics"] == [{"key": "rt", "type": "GAUGE", "value": 3, "tags": {}}]
    assert registry.get_sample_value("rt", {"method": "predict"}) == 3.0


class Raw:
    def route_raw(self, msg: Any) -> Any:
        return {"data": {"ndarray": [[1]]}, "meta": {"tags": {"raw": "route"}}}

    def aggregate_raw(self, msgs: Any) -> Any:
        return {"jsonData": {"n": len(msgs["seldonMessages"])}}

    def transform_input_raw(self, msg: Any) -> Any:
        return {"strData": "raw"}

    def send_feedback_raw(self, feedback: Any) -> Any:
        return {"jsonData": {"reward": feedback["reward"]}}

    def health_status_raw(self) -> Any:
        return {"jsonData": {"ok": True}}


def test_every_raw_variant() -> None:
    c = SeldonComponent(Raw())
    assert c.call("route", {"data": {"ndarray": [1]}})["meta"]["tags"] == {"raw": "route"}
    assert c.call("aggregate", {"seldonMessages": [{}, {}]}) == {"jsonData": {"n": 2}}
    assert c.call("transform_input", {}) == {"strData": "raw"}
    assert c.call("send_feedback", {"reward": 0.5}) == {"jsonData": {"reward": 0.5}}
    assert c.call("health_status", {}) == {"jsonData": {"ok": True}}


class BadRouter:
    def route(self, X: Any, names: Any) -> Any:
        return "left"


def test_route_must_return_an_int() -> None:
    with pytest.raises(SeldonError) as err:
        SeldonComponent(BadRouter()).call("route", {"data": {"ndarray": [1]}})
    assert err.value.status_code == 500 and err.value.seldon_reason == "MICROSERVICE_BAD_ROUTING"


class Meta:
    def init_metadata(self) -> Any:
        return {"name": "m", "versions": ["1"], "custom": {"a": "b"}}


def test_metadata_env_overlay_and_bad_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_METADATA", "platform: sklearn\ncustom:\n  a: env\n")
    c = SeldonComponent(Meta(), name="fallback")
    c.load()
    assert metadata_or_error(c) == {
        "name": "m",
        "versions": ["1"],
        "platform": "sklearn",
        "inputs": [],
        "outputs": [],
        "custom": {"a": "env"},
    }
    monkeypatch.setenv("MODEL_METADATA", '{"versions": "v1"}')
    c.load()
    with pytest.raises(SeldonError) as err:
        metadata_or_error(c)
    assert err.value.status_code == 500 and err.value.seldon_reason == "MICROSERVICE_BAD_METADATA"
    assert "versions must be a list of strings" in err.value.reason
    assert c.call("predict", {"data": {"ndarray": [1]}})["data"]["ndarray"] == []  # predictions still work
