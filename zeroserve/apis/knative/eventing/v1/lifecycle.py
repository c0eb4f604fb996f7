"""Knative Eventing conditions for Broker and Trigger, with mark/propagate helpers.

The condition sets are Knative's (``pkg/apis/eventing/v1/{broker,trigger}_lifecycle.go``):

- Broker: ``Ready`` over ``IngressReady``, ``TriggerChannelReady``, ``FilterReady``, ``Addressable``
  and ``DeadLetterSinkResolved``. The local broker is one process that receives, stores and
  dispatches, so it marks the first four together when it serves the Broker.
- Trigger: ``Ready`` over ``BrokerReady``, ``SubscriptionReady``, ``DependencyReady``,
  ``SubscriberResolved`` and ``DeadLetterSinkResolved``.

Conditions that do not apply to an object's spec are satisfied when its conditions are initialized,
as Knative's reconcilers mark them: ``DeadLetterSinkResolved`` is ``True`` with reason
``DeadLetterSinkNotConfigured`` when ``spec.delivery.deadLetterSink`` is unset, and a Trigger without
the ``knative.dev/dependency`` annotation has ``DependencyReady=True``. A reconciler that knows better
(e.g. a Trigger using its Broker's dead-letter sink) marks them again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from zeroserve.apis.conditions import ConditionManager, ConditionSet
from zeroserve.apis.knative.eventing.v1.types import Broker, BrokerStatus, Trigger, TriggerStatus
from zeroserve.apis.meta import Addressable

__all__ = [
    "BROKER_ADDRESSABLE",
    "BROKER_CONDITIONS",
    "BROKER_DEAD_LETTER_SINK_RESOLVED",
    "BROKER_FILTER",
    "BROKER_INGRESS",
    "BROKER_TRIGGER_CHANNEL",
    "DEPENDENCY_ANNOTATION",
    "TRIGGER_BROKER",
    "TRIGGER_CONDITIONS",
    "TRIGGER_DEAD_LETTER_SINK_RESOLVED",
    "TRIGGER_DEPENDENCY",
    "TRIGGER_SUBSCRIBED",
    "TRIGGER_SUBSCRIBER_RESOLVED",
    "broker_conditions",
    "mark_broker_dead_letter_sink_failed",
    "mark_broker_dead_letter_sink_resolved",
    "mark_broker_not_ready",
    "mark_broker_ready",
    "mark_dead_letter_sink_failed",
    "mark_dead_letter_sink_not_configured",
    "mark_dead_letter_sink_resolved",
    "mark_subscriber_resolve_failed",
    "mark_subscriber_resolved",
    "mark_subscription_not_ready",
    "mark_subscription_ready",
    "propagate_broker_status",
    "trigger_conditions",
]

Clock = Callable[[], datetime] | None

BROKER_INGRESS = "IngressReady"
BROKER_TRIGGER_CHANNEL = "TriggerChannelReady"
BROKER_FILTER = "FilterReady"
BROKER_ADDRESSABLE = "Addressable"
BROKER_DEAD_LETTER_SINK_RESOLVED = "DeadLetterSinkResolved"

TRIGGER_BROKER = "BrokerReady"
TRIGGER_SUBSCRIBED = "SubscriptionReady"
TRIGGER_DEPENDENCY = "DependencyReady"
TRIGGER_SUBSCRIBER_RESOLVED = "SubscriberResolved"
TRIGGER_DEAD_LETTER_SINK_RESOLVED = "DeadLetterSinkResolved"

DEPENDENCY_ANNOTATION = "knative.dev/dependency"
"""A Trigger annotation naming an event source it depends on (``DependencyReady`` follows it)."""

_NOT_CONFIGURED = ("DeadLetterSinkNotConfigured", "No dead letter sink is configured.")

BROKER_CONDITIONS = ConditionSet.living(
    BROKER_INGRESS,
    BROKER_TRIGGER_CHANNEL,
    BROKER_FILTER,
    BROKER_ADDRESSABLE,
    BROKER_DEAD_LETTER_SINK_RESOLVED,
)
TRIGGER_CONDITIONS = ConditionSet.living(
    TRIGGER_BROKER,
    TRIGGER_SUBSCRIBED,
    TRIGGER_DEPENDENCY,
    TRIGGER_SUBSCRIBER_RESOLVED,
    TRIGGER_DEAD_LETTER_SINK_RESOLVED,
)


def broker_conditions(broker: Broker, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Broker's status (created when missing).

    ``DeadLetterSinkResolved`` is marked ``DeadLetterSinkNotConfigured`` when the Broker has no
    dead-letter sink.
    """
    if broker.status is None:
        broker.status = BrokerStatus()
    manager = BROKER_CONDITIONS.manage(broker.status, now)
    manager.initialize()
    delivery = broker.spec.delivery if broker.spec is not None else None
    if delivery is None or delivery.dead_letter_sink is None:
        manager.mark_true(BROKER_DEAD_LETTER_SINK_RESOLVED, *_NOT_CONFIGURED)
        broker.status.dead_letter_sink_uri = None
    return manager


def trigger_conditions(trigger: Trigger, now: Clock = None) -> ConditionManager:
    """The initialized condition manager of a Trigger's status (created when missing).

    ``DependencyReady`` is ``True`` without a ``knative.dev/dependency`` annotation, and
    ``DeadLetterSinkResolved`` is ``DeadLetterSinkNotConfigured`` without ``spec.delivery.deadLetterSink``.
    """
    if trigger.status is None:
        trigger.status = TriggerStatus()
    manager = TRIGGER_CONDITIONS.manage(trigger.status, now)
    manager.initialize()
    if DEPENDENCY_ANNOTATION not in trigger.annotations:
        manager.mark_true(TRIGGER_DEPENDENCY)
    delivery = trigger.spec.delivery
    if delivery is None or delivery.dead_letter_sink is None:
        dependent = manager.get(TRIGGER_DEAD_LETTER_SINK_RESOLVED)
        if dependent is None or not dependent.is_true:
            manager.mark_true(TRIGGER_DEAD_LETTER_SINK_RESOLVED, *_NOT_CONFIGURED)
    return manager


def mark_broker_ready(broker: Broker, url: str, now: Clock = None) -> None:
    """Set ``status.address.url`` and mark ingress, trigger channel, filter and address ready.

    Args:
        broker: The Broker.
        url: Its ingress, e.g. ``http://broker-ingress.knative-eventing.svc.cluster.local/<ns>/<name>``.
        now: The clock for transition times.
    """
    manager = broker_conditions(broker, now)
    assert broker.status is not None
    broker.status.address = Addressable(name="http", url=url)
    for condition in (BROKER_INGRESS, BROKER_TRIGGER_CHANNEL, BROKER_FILTER, BROKER_ADDRESSABLE):
        manager.mark_true(condition)


def mark_broker_not_ready(broker: Broker, reason: str, message: str, now: Clock = None) -> None:
    """Mark the Broker's ingress failed (and so the Broker not ready)."""
    broker_conditions(broker, now).mark_false(BROKER_INGRESS, reason, message)


def mark_broker_dead_letter_sink_resolved(broker: Broker, uri: str, now: Clock = None) -> None:
    """Record the Broker's resolved dead-letter sink (``status.deadLetterSinkUri``)."""
    manager = broker_conditions(broker, now)
    assert broker.status is not None
    broker.status.dead_letter_sink_uri = uri
    manager.mark_true(BROKER_DEAD_LETTER_SINK_RESOLVED)


def mark_broker_dead_letter_sink_failed(broker: Broker, reason: str, message: str, now: Clock = None) -> None:
    """``DeadLetterSinkResolved=False`` on a Broker, e.g. its sink's Service does not exist."""
    manager = broker_conditions(broker, now)
    assert broker.status is not None
    broker.status.dead_letter_sink_uri = None
    manager.mark_false(BROKER_DEAD_LETTER_SINK_RESOLVED, reason, message)


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
        manager.mark_false(TRIGGER_BROKER, "BrokerDoesNotExist", message)
        return
    manager.propagate(TRIGGER_BROKER, broker.get_condition("Ready"), "BrokerNotConfigured")


def mark_subscriber_resolved(trigger: Trigger, uri: str, now: Clock = None) -> None:
    """Record the subscriber's resolved URI and mark ``SubscriberResolved``."""
    manager = trigger_conditions(trigger, now)
    assert trigger.status is not None
    trigger.status.subscriber_uri = uri
    manager.mark_true(TRIGGER_SUBSCRIBER_RESOLVED)


def mark_subscriber_resolve_failed(trigger: Trigger, reason: str, message: str, now: Clock = None) -> None:
    """``SubscriberResolved=False``, e.g. the referenced Service does not exist."""
    manager = trigger_conditions(trigger, now)
    assert trigger.status is not None
    trigger.status.subscriber_uri = None
    manager.mark_false(TRIGGER_SUBSCRIBER_RESOLVED, reason, message)


def mark_dead_letter_sink_resolved(trigger: Trigger, uri: str, now: Clock = None) -> None:
    """Record the Trigger's resolved dead-letter sink (its own or its Broker's)."""
    manager = trigger_conditions(trigger, now)
    assert trigger.status is not None
    trigger.status.dead_letter_sink_uri = uri
    manager.mark_true(TRIGGER_DEAD_LETTER_SINK_RESOLVED)


def mark_dead_letter_sink_not_configured(trigger: Trigger, now: Clock = None) -> None:
    """``DeadLetterSinkResolved=True`` with reason ``DeadLetterSinkNotConfigured``."""
    manager = trigger_conditions(trigger, now)
    assert trigger.status is not None
    trigger.status.dead_letter_sink_uri = None
    manager.mark_true(TRIGGER_DEAD_LETTER_SINK_RESOLVED, *_NOT_CONFIGURED)


def mark_dead_letter_sink_failed(trigger: Trigger, reason: str, message: str, now: Clock = None) -> None:
    """``DeadLetterSinkResolved=False`` on a Trigger."""
    manager = trigger_conditions(trigger, now)
    assert trigger.status is not None
    trigger.status.dead_letter_sink_uri = None
    manager.mark_false(TRIGGER_DEAD_LETTER_SINK_RESOLVED, reason, message)


def mark_subscription_ready(trigger: Trigger, now: Clock = None) -> None:
    """``SubscriptionReady=True``: the broker dispatches matching events to the subscriber."""
    trigger_conditions(trigger, now).mark_true(TRIGGER_SUBSCRIBED)


def mark_subscription_not_ready(trigger: Trigger, reason: str, message: str, now: Clock = None) -> None:
    """``SubscriptionReady=False``."""
    trigger_conditions(trigger, now).mark_false(TRIGGER_SUBSCRIBED, reason, message)
