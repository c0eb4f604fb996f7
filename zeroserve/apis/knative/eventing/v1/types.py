"""``eventing.knative.dev/v1``: Broker and Trigger.

A Broker receives CloudEvents at ``status.address.url``; a Trigger delivers the events of its broker
whose attributes match ``filter.attributes`` (exact match, ``""`` matching any value) to its
``subscriber`` (an object reference or a URI), with the retry policy in ``delivery``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zeroserve.apis.meta import Addressable, KReference, KubeModel, KubeObject, Status, int_field

__all__ = [
    "API_VERSION",
    "BROKER_CLASS_ANNOTATION",
    "Broker",
    "BrokerSpec",
    "BrokerStatus",
    "DeliverySpec",
    "Destination",
    "Trigger",
    "TriggerFilter",
    "TriggerSpec",
    "TriggerStatus",
]

API_VERSION = "eventing.knative.dev/v1"
BROKER_CLASS_ANNOTATION = "eventing.knative.dev/broker.class"


class Destination(KubeModel):
    """knative's duck ``Destination``: an addressable object reference, a URI, or a ref plus a path."""

    ref: KReference | None = None
    uri: str | None = None
    ca_certs: str | None = Field(default=None, alias="CACerts")
    audience: str | None = None


class DeliverySpec(KubeModel):
    """``delivery``: retries, backoff and the dead-letter sink for events that cannot be delivered."""

    dead_letter_sink: Destination | None = None
    retry: int | None = int_field("int32")
    backoff_policy: str | None = None
    """``linear`` or ``exponential``."""
    backoff_delay: str | None = None
    """An ISO 8601 duration, e.g. ``PT0.2S``."""
    timeout: str | None = None
    format: str | None = None


class BrokerSpec(KubeModel):
    """A Broker's spec: its class config and delivery defaults for its Triggers."""

    config: KReference | None = None
    delivery: DeliverySpec | None = None


class BrokerStatus(Status):
    """A Broker's status: ``address.url`` is where events are POSTed."""

    address: Addressable | None = None
    addresses: list[Addressable] | None = None
    dead_letter_sink_uri: str | None = None
    dead_letter_sink_ca_certs: str | None = Field(default=None, alias="deadLetterSinkCACerts")
    dead_letter_sink_audience: str | None = None
    policies: list[dict[str, Any]] | None = None


class TriggerFilter(KubeModel):
    """``filter``: exact-match CloudEvent attributes."""

    attributes: dict[str, str] | None = None


class TriggerSpec(KubeModel):
    """A Trigger's spec: the broker it listens on, the filter, and the subscriber."""

    broker: str | None = None
    broker_ref: KReference | None = None
    filter: TriggerFilter | None = None
    filters: list[dict[str, Any]] | None = None
    """Knative's SQL-like filters (accepted and kept, not acted on by the local broker)."""
    subscriber: Destination | None = None
    delivery: DeliverySpec | None = None


class TriggerStatus(Status):
    """A Trigger's status: the resolved subscriber URI."""

    subscriber_uri: str | None = None
    subscriber_ca_certs: str | None = Field(default=None, alias="subscriberCACerts")
    subscriber_audience: str | None = None
    dead_letter_sink_uri: str | None = None
    dead_letter_sink_ca_certs: str | None = Field(default=None, alias="deadLetterSinkCACerts")
    dead_letter_sink_audience: str | None = None
    auth: dict[str, Any] | None = None


class Broker(KubeObject):
    """A Knative ``Broker``."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Broker"

    api_version: str | None = API_VERSION
    kind: str | None = "Broker"
    spec: BrokerSpec | None = None
    status: BrokerStatus | None = None


class Trigger(KubeObject):
    """A Knative ``Trigger``."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "Trigger"

    api_version: str | None = API_VERSION
    kind: str | None = "Trigger"
    spec: TriggerSpec = Field(default_factory=TriggerSpec)
    status: TriggerStatus | None = None
