"""The broker's routing table: which Brokers exist and which Triggers subscribe to them.

The reconciler fills it from the API server; tests may fill it directly. Filters follow
Knative's ``spec.filter.attributes``: every listed attribute must equal the event's attribute
exactly (case-sensitive), and the value ``""`` only requires the attribute to be present.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from zeroserve.local.eventing.delivery import DeliveryPolicy

__all__ = ["BrokerKey", "TriggerRule", "TriggerTable", "matches"]

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


@dataclass(frozen=True)
class TriggerRule:
    """A Trigger as the broker uses it: its filter, where to send, and the delivery policy."""

    namespace: str
    name: str
    broker: str
    subscriber_uri: str
    filter: Mapping[str, str] = field(default_factory=dict)
    delivery: DeliveryPolicy = field(default_factory=DeliveryPolicy)

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
            if rule.namespace == namespace and rule.broker == broker and matches(rule.filter, attributes)
        ]
