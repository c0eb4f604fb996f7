"""The broker's routing table: which Brokers exist and which Triggers subscribe to them.

The reconciler fills it from the API server; tests may fill it directly. Filters follow
Knative's ``spec.filter.attributes``: every listed attribute must equal the event's attribute
exactly (case-sensitive), and the value ``""`` only requires the attribute to be present.
The newer ``spec.filters`` (Subscriptions API dialects ``exact``, ``prefix``, ``suffix``, ``all``,
``any``, ``not``) override ``filter`` when given; ``cesql`` is not supported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from zeroserve.local.eventing.delivery import DeliveryPolicy

__all__ = ["BrokerKey", "FilterError", "TriggerRule", "TriggerTable", "compile_filters", "matches"]

BrokerKey = tuple[str, str]
"""``(namespace, broker name)``."""


def matches(filter_attributes: Mapping[str, str], event_attributes: Mapping[str, str]) -> bool:
    """Knative's exact-match attribute filter.

    Args:
        filter_attributes: the Trigger's ``spec.filter.attributes``.
        event_attributes: the event's attributes, extensions and ``datacontenttype`` included.

    Returns:
        Whether the event passes (an empty filter passes everything).
    """
    for name, wanted in filter_attributes.items():
        if name not in event_attributes:
            return False
        if wanted != "" and event_attributes[name] != wanted:
            return False
    return True


class FilterError(ValueError):
    """A ``spec.filters`` expression the broker cannot evaluate; the message names the problem."""


Predicate = Callable[[Mapping[str, str]], bool]


def compile_filters(filters: Sequence[Mapping[str, Any]]) -> Predicate:
    """Turn ``spec.filters`` into a predicate over event attributes (all filters must pass).

    Args:
        filters: the Trigger's ``spec.filters`` list.

    Returns:
        The predicate.

    Raises:
        FilterError: for an unknown or unsupported dialect, or a malformed one.
    """
    compiled = [_compile(f, f"filters[{i}]") for i, f in enumerate(filters)]
    return lambda attrs: all(p(attrs) for p in compiled)


def _compile(spec: Mapping[str, Any], path: str) -> Predicate:
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise FilterError(
            f"{path}: a filter needs exactly one dialect (exact, prefix, suffix, all, any, not)"
        )
    ((dialect, value),) = spec.items()
    if dialect in ("exact", "prefix", "suffix"):
        if not isinstance(value, Mapping) or not value:
            raise FilterError(f"{path}.{dialect}: expected a non-empty map of attribute to value")
        pairs = [(str(k), str(v)) for k, v in value.items()]
        test: Callable[[str, str], bool] = {
            "exact": lambda got, want: got == want,
            "prefix": lambda got, want: got.startswith(want),
            "suffix": lambda got, want: got.endswith(want),
        }[dialect]
        return lambda attrs: all(name in attrs and test(attrs[name], want) for name, want in pairs)
    if dialect in ("all", "any"):
        if not isinstance(value, list) or not value:
            raise FilterError(f"{path}.{dialect}: expected a non-empty list of filters")
        parts = [_compile(f, f"{path}.{dialect}[{i}]") for i, f in enumerate(value)]
        if dialect == "all":
            return lambda attrs: all(p(attrs) for p in parts)
        return lambda attrs: any(p(attrs) for p in parts)
    if dialect == "not":
        inner = _compile(value, f"{path}.not")
        return lambda attrs: not inner(attrs)
    if dialect == "cesql":
        raise FilterError(f"{path}.cesql: CloudEvents SQL filters are not supported by the local broker")
    raise FilterError(f"{path}: unknown filter dialect {dialect!r}")


@dataclass(frozen=True)
class TriggerRule:
    """A Trigger as the broker uses it: its filter, where to send, and the delivery policy."""

    namespace: str
    name: str
    broker: str
    subscriber_uri: str
    filter: Mapping[str, str] = field(default_factory=dict)
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    filters: Predicate | None = None
    """Compiled ``spec.filters``; when set it replaces ``filter``."""

    def passes(self, attributes: Mapping[str, str]) -> bool:
        """Whether an event with these attributes goes to this Trigger."""
        if self.filters is not None:
            return self.filters(attributes)
        return matches(self.filter, attributes)

    @property
    def key(self) -> str:
        """``<namespace>/<name>``: how deliveries in the store refer to the Trigger."""
        return f"{self.namespace}/{self.name}"


class TriggerTable:
    """The current Brokers and Triggers, replaced wholesale on each resync."""

    def __init__(self) -> None:
        self._brokers: set[BrokerKey] = set()
        self._triggers: dict[str, TriggerRule] = {}
        self.synced = False
        """Set once the first full list is in; the ingress refuses events before that."""

    def replace(self, brokers: Iterable[BrokerKey], triggers: Iterable[TriggerRule]) -> None:
        """Install a fresh view of every ready Broker and resolved Trigger."""
        self._brokers = set(brokers)
        self._triggers = {rule.key: rule for rule in triggers}
        self.synced = True

    def add_broker(self, namespace: str, name: str) -> None:
        self._brokers.add((namespace, name))
        self.synced = True

    def add_trigger(self, rule: TriggerRule) -> None:
        self._triggers[rule.key] = rule

    def has_broker(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._brokers

    def trigger(self, key: str) -> TriggerRule | None:
        """The Trigger ``<namespace>/<name>``, or ``None`` once deleted."""
        return self._triggers.get(key)

    def matching(self, namespace: str, broker: str, attributes: Mapping[str, str]) -> list[TriggerRule]:
        """Triggers of a Broker whose filter passes the event."""
        return [
            rule
            for rule in self._triggers.values()
            if rule.namespace == namespace and rule.broker == broker and rule.passes(attributes)
        ]
