"""Condition sets and their manager, with knative's semantics (``pkg/apis/condition_set.go``).

A :class:`ConditionSet` names one *happy* condition (``Ready``) and the *dependent* conditions it is
made of (a "living" set). :meth:`ConditionSet.manage` wraps an object's status in a
:class:`ConditionManager` whose ``mark_*`` methods keep the happy condition in step:

- marking a dependent ``True`` makes the happy condition ``True`` once every dependent is ``True``;
- marking a dependent ``False`` makes the happy condition ``False`` with the same reason and message;
- marking a dependent ``Unknown`` makes the happy condition ``Unknown`` unless another dependent is
  ``False`` (failures trump unknowns).

Conditions that are not dependents get severity ``Info`` and never affect the happy condition.
:meth:`ConditionSet.independent` is a set with no happy condition and no severities, for Gateway API's
``metav1.Condition`` lists (``Accepted``, ``ResolvedRefs``), where each condition stands alone.
``lastTransitionTime`` changes only when a condition's status, reason or message changes; the clock is
an argument so tests control it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from zeroserve.apis.meta import Condition, Status

__all__ = ["ConditionManager", "ConditionSet", "rfc3339"]

TRUE = "True"
FALSE = "False"
UNKNOWN = "Unknown"


def rfc3339(moment: datetime) -> str:
    """Format a time the way Kubernetes writes ``lastTransitionTime`` (seconds, UTC, ``Z``).

    Args:
        moment: An aware or naive (taken as UTC) datetime.

    Returns:
        e.g. ``"2024-01-02T03:04:05Z"``.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ConditionSet:
    """A happy condition and the dependent conditions it summarises.

    Args:
        happy: The summary condition's type, normally ``"Ready"``.
        dependents: The condition types that must all be ``True`` for ``happy`` to be ``True``.
    """

    happy: str
    dependents: tuple[str, ...]
    summarised: bool = True
    """Whether ``happy`` summarises the dependents (False: every condition stands alone)."""

    @classmethod
    def living(cls, *dependents: str) -> ConditionSet:
        """A set whose happy condition is ``Ready``.

        Args:
            *dependents: The dependent condition types.

        Returns:
            The condition set.
        """
        return cls(happy="Ready", dependents=tuple(dependents))

    @classmethod
    def independent(cls, *types: str) -> ConditionSet:
        """A set of conditions that stand alone: no happy condition, no severities (``metav1.Condition``).

        Args:
            *types: The condition types.

        Returns:
            The condition set.
        """
        return cls(happy="", dependents=tuple(types), summarised=False)

    def manage(self, status: Status, now: Callable[[], datetime] | None = None) -> ConditionManager:
        """Wrap a status so its conditions can be marked.

        Args:
            status: The status whose ``conditions`` list is changed in place.
            now: The clock for ``lastTransitionTime``; the real UTC clock when omitted.

        Returns:
            A manager bound to ``status``.
        """
        return ConditionManager(self, status, now or _utc_now)


class ConditionManager:
    """Marks conditions on one status, keeping the happy condition consistent."""

    def __init__(self, condition_set: ConditionSet, status: Status, now: Callable[[], datetime]) -> None:
        self._set = condition_set
        self._status = status
        self._now = now

    def get(self, condition_type: str) -> Condition | None:
        """The condition of that type, or ``None``."""
        return self._status.get_condition(condition_type)

    def happy(self) -> Condition | None:
        """The happy condition, or ``None`` before :meth:`initialize`."""
        return self.get(self._set.happy)

    def is_happy(self) -> bool:
        """Whether the happy condition is ``True``."""
        happy = self.happy()
        return happy is not None and happy.is_true

    def initialize(self) -> None:
        """Add the happy condition and every dependent as ``Unknown`` where they are missing.

        When the happy condition is already ``True``, missing dependents are added as ``True``.
        """
        if not self._set.summarised:
            for condition_type in self._set.dependents:
                if self.get(condition_type) is None:
                    self.set(Condition(type=condition_type, status=UNKNOWN))
            return
        happy = self.happy()
        if happy is None:
            happy = Condition(type=self._set.happy, status=UNKNOWN)
            self.set(happy)
        initial = TRUE if happy.is_true else UNKNOWN
        for dependent in self._set.dependents:
            if self.get(dependent) is None:
                self.set(Condition(type=dependent, status=initial))

    def set(self, condition: Condition) -> None:
        """Put a condition in place of any of its type.

        An equal condition (ignoring the time) is left untouched, so ``lastTransitionTime`` records
        real transitions only. Severity is ``Info`` for conditions outside the set.

        Args:
            condition: The new condition.
        """
        outside = condition.type != self._set.happy and condition.type not in self._set.dependents
        if outside and self._set.summarised:
            condition.severity = condition.severity or "Info"
        conditions = list(self._status.conditions or [])
        for index, existing in enumerate(conditions):
            if existing.type != condition.type:
                continue
            if _same(existing, condition):
                return
            condition.last_transition_time = rfc3339(self._now())
            conditions[index] = condition
            break
        else:
            condition.last_transition_time = rfc3339(self._now())
            conditions.append(condition)
        conditions.sort(key=lambda c: c.type)
        self._status.conditions = conditions

    def mark_true(self, condition_type: str, reason: str | None = None, message: str | None = None) -> None:
        """Mark a condition ``True``; the happy condition follows when every dependent is ``True``.

        Args:
            condition_type: The condition to mark.
            reason: Optional CamelCase reason.
            message: Optional human-readable message.
        """
        self.set(Condition(type=condition_type, status=TRUE, reason=reason, message=message))
        if condition_type == self._set.happy or not self._set.summarised:
            return
        if all(self._is(dep, TRUE) for dep in self._set.dependents):
            self.set(Condition(type=self._set.happy, status=TRUE))

    def mark_false(self, condition_type: str, reason: str, message: str = "") -> None:
        """Mark a condition ``False``; a dependent takes the happy condition with it.

        Args:
            condition_type: The condition to mark.
            reason: CamelCase reason.
            message: Human-readable message.
        """
        self.set(Condition(type=condition_type, status=FALSE, reason=reason, message=message or None))
        if condition_type in self._set.dependents and self._set.summarised:
            self.set(Condition(type=self._set.happy, status=FALSE, reason=reason, message=message or None))

    def mark_unknown(self, condition_type: str, reason: str, message: str = "") -> None:
        """Mark a condition ``Unknown``; the happy condition follows unless a dependent failed.

        Args:
            condition_type: The condition to mark.
            reason: CamelCase reason.
            message: Human-readable message.
        """
        self.set(Condition(type=condition_type, status=UNKNOWN, reason=reason, message=message or None))
        if condition_type not in self._set.dependents or not self._set.summarised:
            return
        for dependent in self._set.dependents:
            failed = self.get(dependent)
            if failed is not None and failed.is_false:
                happy = self.happy()
                if happy is None or not happy.is_false:
                    self.set(
                        Condition(
                            type=self._set.happy,
                            status=FALSE,
                            reason=failed.reason,
                            message=failed.message,
                        )
                    )
                return
        self.set(Condition(type=self._set.happy, status=UNKNOWN, reason=reason, message=message or None))

    def propagate(self, condition_type: str, source: Condition | None, default_reason: str) -> None:
        """Copy a child's condition (e.g. a Knative Service's ``Ready``) onto one of ours.

        Args:
            condition_type: Our condition to set.
            source: The child's condition; ``None`` marks ours ``Unknown``.
            default_reason: The reason used when the source has none.
        """
        if source is None:
            self.mark_unknown(condition_type, default_reason, "")
        elif source.is_true:
            self.mark_true(condition_type, source.reason, source.message)
        elif source.is_false:
            self.mark_false(condition_type, source.reason or default_reason, source.message or "")
        else:
            self.mark_unknown(condition_type, source.reason or default_reason, source.message or "")

    def types(self) -> Sequence[str]:
        """The happy condition followed by the dependents, in declaration order."""
        return (self._set.happy, *self._set.dependents)

    def _is(self, condition_type: str, status: str) -> bool:
        condition = self.get(condition_type)
        return condition is not None and condition.status == status


def _same(left: Condition, right: Condition) -> bool:
    return (
        left.status == right.status
        and (left.reason or None) == (right.reason or None)
        and (left.message or None) == (right.message or None)
        and (left.severity or None) == (right.severity or None)
    )
