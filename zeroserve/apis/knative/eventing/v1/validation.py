"""Knative Eventing's validation of Broker and Trigger, returning every error with its path.

- Trigger: ``broker`` is required; the subscriber has a ``ref`` (with ``kind``, ``name``,
  ``apiVersion``) or an absolute ``uri``; filter attribute names are CloudEvents attribute names
  (lower-case letters and digits); ``delivery`` is valid.
- Broker and Trigger ``delivery``: ``retry`` >= 0, ``backoffPolicy`` ``linear`` or ``exponential``,
  ``backoffDelay`` an ISO 8601 duration, a dead-letter sink with a ref or a URI.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from zeroserve.apis.field_errors import FieldError, join_path
from zeroserve.apis.knative.eventing.v1.types import (
    BROKER_CLASS_ANNOTATION,
    Broker,
    DeliverySpec,
    Destination,
    Trigger,
)

__all__ = [
    "validate_broker",
    "validate_broker_update",
    "validate_delivery",
    "validate_destination",
    "validate_trigger",
    "validate_trigger_update",
]

_ATTRIBUTE_NAME = re.compile(r"^[a-z0-9]+$")
_ISO8601_DURATION = re.compile(
    r"^P(?!$)(\d+(?:\.\d+)?Y)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?W)?(\d+(?:\.\d+)?D)?"
    r"(T(?=\d)(\d+(?:\.\d+)?H)?(\d+(?:\.\d+)?M)?(\d+(?:\.\d+)?S)?)?$"
)
_BACKOFF_POLICIES = ("linear", "exponential")


def validate_broker(broker: Broker) -> list[FieldError]:
    """Check a Broker.

    Args:
        broker: The Broker.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    if not broker.name:
        errors.append(FieldError("metadata.name", "is required"))
    if broker.spec is not None and broker.spec.delivery is not None:
        errors += validate_delivery("spec.delivery", broker.spec.delivery)
    return errors


def validate_trigger(trigger: Trigger) -> list[FieldError]:
    """Check a Trigger.

    Args:
        trigger: The Trigger.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    if not trigger.name:
        errors.append(FieldError("metadata.name", "is required"))
    spec = trigger.spec
    if not spec.broker and spec.broker_ref is None:
        errors.append(FieldError("spec.broker", "is required"))
    if spec.subscriber is None:
        errors.append(FieldError("spec.subscriber", "is required"))
    else:
        errors += validate_destination("spec.subscriber", spec.subscriber)
    if spec.filter is not None:
        for name in sorted(spec.filter.attributes or {}):
            if not _ATTRIBUTE_NAME.match(name):
                message = "must be a CloudEvents attribute name (lower-case letters and digits)"
                errors.append(FieldError(join_path("spec.filter.attributes", f"[{name}]"), message))
    if spec.delivery is not None:
        errors += validate_delivery("spec.delivery", spec.delivery)
    return errors


def validate_destination(path: str, destination: Destination) -> list[FieldError]:
    """Check a Destination: a ref, a URI, or a ref plus a relative URI.

    Args:
        path: e.g. ``"spec.subscriber"``.
        destination: The destination.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    if destination.ref is None and not destination.uri:
        errors.append(FieldError(path, "expected at least one of [ref, uri]"))
    if destination.ref is not None:
        for field, value in (
            ("kind", destination.ref.kind),
            ("name", destination.ref.name),
            ("apiVersion", destination.ref.api_version),
        ):
            if not value:
                errors.append(FieldError(join_path(path, "ref", field), "is required"))
    if destination.uri and destination.ref is None:
        parsed = urlparse(destination.uri)
        if not parsed.scheme or not parsed.netloc:
            errors.append(FieldError(join_path(path, "uri"), "must be an absolute URL"))
    return errors


def validate_delivery(path: str, delivery: DeliverySpec) -> list[FieldError]:
    """Check a delivery spec.

    Args:
        path: e.g. ``"spec.delivery"``.
        delivery: The delivery spec.

    Returns:
        Every broken rule.
    """
    errors: list[FieldError] = []
    if delivery.retry is not None and delivery.retry < 0:
        errors.append(FieldError(join_path(path, "retry"), "must be >= 0"))
    if delivery.backoff_policy is not None and delivery.backoff_policy not in _BACKOFF_POLICIES:
        errors.append(FieldError(join_path(path, "backoffPolicy"), "must be linear or exponential"))
    if delivery.backoff_delay is not None and not _ISO8601_DURATION.match(delivery.backoff_delay):
        errors.append(
            FieldError(join_path(path, "backoffDelay"), "must be an ISO 8601 duration, e.g. PT0.2S")
        )
    if delivery.timeout is not None and not _ISO8601_DURATION.match(delivery.timeout):
        errors.append(FieldError(join_path(path, "timeout"), "must be an ISO 8601 duration, e.g. PT10S"))
    if delivery.dead_letter_sink is not None:
        errors += validate_destination(join_path(path, "deadLetterSink"), delivery.dead_letter_sink)
    return errors


def validate_trigger_update(old: Trigger, new: Trigger) -> list[FieldError]:
    """A Trigger's ``spec.broker`` is immutable.

    Args:
        old: The stored Trigger.
        new: The updated one.

    Returns:
        Every broken rule.
    """
    if old.spec.broker != new.spec.broker:
        return [FieldError("spec.broker", f"is immutable (was {old.spec.broker})")]
    return []


def validate_broker_update(old: Broker, new: Broker) -> list[FieldError]:
    """A Broker's class annotation is immutable.

    Args:
        old: The stored Broker.
        new: The updated one.

    Returns:
        Every broken rule.
    """
    key = BROKER_CLASS_ANNOTATION
    before, after = old.annotations.get(key), new.annotations.get(key)
    if before is not None and before != after:
        return [FieldError(f"metadata.annotations[{key}]", f"is immutable (was {before})")]
    return []
