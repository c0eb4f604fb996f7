"""Knative Eventing's defaulting of Broker and Trigger, as pure functions.

- Broker: the class annotation ``eventing.knative.dev/broker.class`` defaults to
  ``MTChannelBasedBroker`` (Knative's default class).
- Trigger: ``filter`` defaults to an empty attribute map (match everything); a subscriber ``ref``
  without a namespace gets the Trigger's; the label ``eventing.knative.dev/broker`` names the broker.
"""

from __future__ import annotations

from zeroserve.apis.knative.eventing.v1.types import (
    BROKER_CLASS_ANNOTATION,
    Broker,
    Trigger,
    TriggerFilter,
)

__all__ = ["BROKER_LABEL", "DEFAULT_BROKER_CLASS", "default_broker", "default_trigger"]

DEFAULT_BROKER_CLASS = "MTChannelBasedBroker"
BROKER_LABEL = "eventing.knative.dev/broker"


def default_broker(broker: Broker) -> Broker:
    """Default a Broker.

    Args:
        broker: The Broker.

    Returns:
        A defaulted copy.
    """
    result = broker.model_copy(deep=True)
    annotations = dict(result.metadata.annotations or {})
    annotations.setdefault(BROKER_CLASS_ANNOTATION, DEFAULT_BROKER_CLASS)
    result.metadata.annotations = annotations
    return result


def default_trigger(trigger: Trigger) -> Trigger:
    """Default a Trigger.

    Args:
        trigger: The Trigger.

    Returns:
        A defaulted copy.
    """
    result = trigger.model_copy(deep=True)
    spec = result.spec
    if spec.filter is None:
        spec.filter = TriggerFilter(attributes={})
    elif spec.filter.attributes is None:
        spec.filter.attributes = {}
    if spec.subscriber is not None and spec.subscriber.ref is not None and not spec.subscriber.ref.namespace:
        spec.subscriber.ref.namespace = result.namespace or None
    if spec.broker:
        labels = dict(result.metadata.labels or {})
        labels.setdefault(BROKER_LABEL, spec.broker)
        result.metadata.labels = labels
    return result
