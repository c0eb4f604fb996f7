"""An invalid object's status: Ready False with every message, marked through the shared ConditionManager
(transition times move only on a change), everything else as stored."""

from __future__ import annotations

from datetime import UTC, datetime

from zeroserve.controller.reconcilers.invalid import INVALID_SPEC, invalid_status

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 2, tzinfo=UTC)


def test_ready_false_with_every_message_and_other_fields_kept() -> None:
    stored = {
        "url": "http://x.default.example.com",
        "conditions": [
            {"type": "PredictorReady", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"},
            {"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"},
            "not a condition",
        ],
    }
    status = invalid_status(stored, ["spec.a: bad", "spec.b: worse"], 3, T0)
    assert status["url"] == stored["url"] and status["observedGeneration"] == 3
    ready = next(c for c in status["conditions"] if c["type"] == "Ready")
    assert ready == {
        "type": "Ready",
        "status": "False",
        "reason": INVALID_SPEC,
        "message": "spec.a: bad; spec.b: worse",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    predictor = next(c for c in status["conditions"] if c["type"] == "PredictorReady")
    assert predictor["lastTransitionTime"] == "2025-01-01T00:00:00Z"
    assert [c["type"] for c in status["conditions"]] == ["PredictorReady", "Ready"]


def test_the_same_problem_keeps_its_transition_time_and_a_new_one_moves_it() -> None:
    first = invalid_status(None, ["spec.a: bad"], 1, T0)
    same = invalid_status(first, ["spec.a: bad"], 1, T1)
    other = invalid_status(first, ["spec.b: bad"], 2, T1)
    assert same["conditions"] == first["conditions"]
    assert other["conditions"][0]["lastTransitionTime"] == "2026-01-02T00:00:00Z"
