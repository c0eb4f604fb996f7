"""Knative Eventing conditions for Broker and Trigger, with mark/propagate helpers.

- Broker: ``Ready`` over ``Ingress``, ``Filter`` and ``Addressable`` (the local broker is one process
  that receives and dispatches, so it marks all three when it serves the broker).
- Trigger: ``Ready`` over ``BrokerReady``, ``SubscriberResolved`` and ``SubscriptionReady``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from zeroserve.apis.conditions import ConditionManager, ConditionSet
from zeroserve.apis.knative.eventing.v1.types import Broker, BrokerStatus, Trigger, TriggerStatus
from zeroserve.apis.meta import Addressable

__all__ = [
    "BROKER_CONDITIONS",
    "TRIGGER_CONDITIONS",
    "broker_conditions",
    "mark_broker_not_ready",
    "mark_broker_ready",
    "mark_subscriber_resolve_failed",
    "mark_subscriber_resolved",
    "mark_subscription_not_ready",
    "mark_subscription_ready",
    "propagate_broker_status",
    "trigger_conditions",
]

Clock = Callable[[], datetime] | None

BROKER_CONDITIONS = ConditionSet.living("Ingress", "Filter", "Addressable")
TRIGGER_CONDITIONS = ConditionSet.living("BrokerReady", "SubscriberResolved", "SubscriptionReady")


def broker_conditions(broker: Broker, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Broker's status (created when missing)."""
    if broker.status is None:
        broker.status = BrokerStatus()
    manager = BROKER_CONDITIONS.manage(broker.status, now)
    manager.initialize()
    return manager


def trigger_conditions(trigger: Trigger, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Trigger's status (created when missing)."""
    if trigger.status is None:
        trigger.status = TriggerStatus()
    manager = TRIGGER_CONDITIONS.manage(trigger.status, now)
    manager.initialize()
    return manager


def mark_broker_ready(broker: Broker, url: str, now: Clock = None) -> None:
    """Set ``status.address.url`` and mark the Broker ready.

    Args:
        broker: The Broker.
        url: Its ingress, e.g. ``http://broker-ingress.knative-eventing.svc.cluster.local/<ns>/<name>``.
        now: The clock for transition times.
    """
    manager = broker_conditions(broker, now)
    assert broker.status is not None
    broker.status.address = Addressable(name="http", url=url)
    for condition in ("Ingress", "Filter", "Addressable"):
        manager.mark_true(condition)


def mark_broker_not_ready(broker: Broker, reason: str, message: str, now: Clock = None) -> None:
    """Mark the Broker's ingress failed (and so the Broker not ready)."""
    broker_conditions(broker, now).mark_false("Ingress", reason, message)


def propagate_broker_status(trigger: Trigger, broker: BrokerStatus | None, now: Clock = None) -> None:
    """``BrokerReady`` follows the Broker's ``Ready``; a missing Broker is ``BrokerDoesNotExist``.

    Args:
        trigger: The Trigger.
        broker: The Broker's status, or ``None`` when the Broker does not exist.
        now: The clock for transition times.
    """
    manager = trigger_conditions(trigger, now)
    if broker is None:
        message = f"Broker {trigger.spec.broker!r} does not exist"
        manager.mark_false("BrokerReady", "BrokerDoesNotExist", message)
        return
    manager.propagate("BrokerReady", broker.get_condition("Ready"), "BrokerNotReady")


def mark_subscriber_resolved(trigger: Trigger, uri: str, now: Clock = None) -> None:
    """Record the subscriber's resolved URI and mark ``SubscriberResolved``."""
    manager = trigger_conditions(trigger, now)
    assert trigger.status is not None
    trigger.status.subscriber_uri = uri
    manager.mark_true("SubscriberResolved")


def mark_subscriber_resolve_failed(trigger: Trigger, reason: str, message: str, now: Clock = None) -> None:
    """``SubscriberResolved=False``, e.g. the referenced Service does not exist."""
    trigger_conditions(trigger, now).mark_false("SubscriberResolved", reason, message)


def mark_subscription_ready(trigger: Trigger, now: Clock = None) -> None:
    """``SubscriptionReady=True``: the broker dispatches matching events to the subscriber."""
    trigger_conditions(trigger, now).mark_true("SubscriptionReady")


def mark_subscription_not_ready(trigger: Trigger, reason: str, message: str, now: Clock = None) -> None:
    """``SubscriptionReady=False``."""
    trigger_conditions(trigger, now).mark_false("SubscriptionReady", reason, message)
