"""knative's living condition set semantics, and field errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from zeroserve.apis.conditions import ConditionSet, rfc3339
from zeroserve.apis.field_errors import FieldError, InvalidObjectError, from_pydantic, join_path
from zeroserve.apis.meta import Status
from zeroserve.apis.serving.v1beta1.types import InferenceService


class Clock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: int) -> None:
        self.moment += timedelta(seconds=seconds)


SET = ConditionSet.living("A", "B")

# (id, marks applied in order as (method, type, reason), expected statuses of Ready, A, B)
CASES: list[tuple[str, list[tuple[str, str, str]], tuple[str, str, str]]] = [
    ("initialized-unknown", [], ("Unknown", "Unknown", "Unknown")),
    ("one-true-not-enough", [("true", "A", "")], ("Unknown", "True", "Unknown")),
    ("all-true-makes-ready", [("true", "A", ""), ("true", "B", "")], ("True", "True", "True")),
    ("false-makes-not-ready", [("true", "A", ""), ("false", "B", "Boom")], ("False", "True", "False")),
    (
        "unknown-after-ready",
        [("true", "A", ""), ("true", "B", ""), ("unknown", "A", "Deploying")],
        ("Unknown", "Unknown", "True"),
    ),
    (
        "false-trumps-unknown",
        [("false", "A", "Boom"), ("unknown", "B", "Deploying")],
        ("False", "False", "Unknown"),
    ),
    (
        "recovering",
        [("false", "A", "Boom"), ("true", "A", ""), ("true", "B", "")],
        ("True", "True", "True"),
    ),
    (
        "non-dependent-does-not-block",
        [("false", "Extra", "X"), ("true", "A", ""), ("true", "B", "")],
        ("True", "True", "True"),
    ),
]


@pytest.mark.parametrize(("marks", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_living_set(marks: list[tuple[str, str, str]], expected: tuple[str, str, str]) -> None:
    status = Status()
    manager = SET.manage(status, Clock())
    manager.initialize()
    for method, kind, reason in marks:
        if method == "true":
            manager.mark_true(kind)
        elif method == "false":
            manager.mark_false(kind, reason, f"{kind} failed")
        else:
            manager.mark_unknown(kind, reason, "")
    got = tuple(status.get_condition(t).status for t in ("Ready", "A", "B"))  # type: ignore[union-attr]
    assert got == expected
    assert manager.is_happy() is (expected[0] == "True")


def test_failure_reason_is_copied_to_ready() -> None:
    status = Status()
    manager = SET.manage(status, Clock())
    manager.mark_false("B", "ImagePullBackOff", "cannot pull")
    ready = status.get_condition("Ready")
    assert ready is not None and (ready.reason, ready.message) == ("ImagePullBackOff", "cannot pull")


def test_transition_time_changes_only_on_transition() -> None:
    clock = Clock()
    status = Status()
    manager = SET.manage(status, clock)
    manager.initialize()
    manager.mark_true("A")
    first = status.get_condition("A")
    assert first is not None and first.last_transition_time == "2026-01-01T00:00:00Z"
    clock.advance(30)
    manager.mark_true("A")
    again = status.get_condition("A")
    assert again is not None and again.last_transition_time == "2026-01-01T00:00:00Z"
    manager.mark_false("A", "Crash", "exit 1")
    moved = status.get_condition("A")
    assert moved is not None and moved.last_transition_time == "2026-01-01T00:00:30Z"


def test_non_dependent_conditions_are_info() -> None:
    status = Status()
    SET.manage(status, Clock()).mark_false("Active", "NoTraffic", "scaled to zero")
    active = status.get_condition("Active")
    assert active is not None and active.severity == "Info"
    assert status.get_condition("Ready") is None


def test_propagate_copies_a_child_condition() -> None:
    child = Status()
    child_manager = ConditionSet.living("X").manage(child, Clock())
    child_manager.mark_false("X", "RevisionFailed", "bad image")
    parent = Status()
    manager = SET.manage(parent, Clock())
    manager.propagate("A", child.get_condition("Ready"), "ChildNotReady")
    manager.propagate("B", None, "ChildMissing")
    a, b = parent.get_condition("A"), parent.get_condition("B")
    assert a is not None and (a.status, a.reason, a.message) == ("False", "RevisionFailed", "bad image")
    assert b is not None and (b.status, b.reason) == ("Unknown", "ChildMissing")


def test_rfc3339_naive_is_utc() -> None:
    assert rfc3339(datetime(2026, 5, 6, 7, 8, 9)) == "2026-05-06T07:08:09Z"


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("spec", "predictor", "minReplicas"), "spec.predictor.minReplicas"),
        (("spec.nodes", "[root]", "steps", 0, "name"), "spec.nodes[root].steps[0].name"),
        (("", "metadata.name"), "metadata.name"),
    ],
)
def test_join_path(parts: tuple[str | int, ...], expected: str) -> None:
    assert join_path(*parts) == expected


def test_pydantic_errors_have_wire_paths() -> None:
    with pytest.raises(ValidationError) as caught:
        InferenceService.from_dict(
            {
                "metadata": {"name": "x"},
                "spec": {"predictor": {"minReplicas": "many", "model": {"modelFormat": {}}}},
            }
        )
    paths = [error.path for error in from_pydantic(caught.value)]
    assert paths == ["spec.predictor.minReplicas", "spec.predictor.model.modelFormat.name"]


def test_invalid_object_error_lists_every_error() -> None:
    error = InvalidObjectError([FieldError("a", "x"), FieldError("", "y")])
    assert str(error) == "a: x; y"
    assert len(error.errors) == 2


def test_independent_conditions_have_no_summary_and_no_severity() -> None:
    from datetime import UTC, datetime

    from zeroserve.apis.conditions import ConditionSet
    from zeroserve.apis.meta import Status

    status = Status()
    manager = ConditionSet.independent("Accepted", "ResolvedRefs").manage(
        status, lambda: datetime(2026, 1, 1, tzinfo=UTC)
    )
    manager.initialize()
    manager.mark_false("ResolvedRefs", "BackendNotFound", "x")
    manager.mark_true("Accepted", "Accepted")
    by_type = {c.type: c for c in status.conditions or []}
    assert set(by_type) == {"Accepted", "ResolvedRefs"}
    assert by_type["Accepted"].is_true and by_type["ResolvedRefs"].is_false
    assert all(c.severity is None for c in by_type.values())
