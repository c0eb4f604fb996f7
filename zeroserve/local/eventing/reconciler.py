"""Makes ``eventing.knative.dev/v1`` Brokers and Triggers real: routing table in, status out.

Every ``interval`` seconds (and at start) the reconciler lists Brokers and Triggers through the
API server with the ``kubernetes`` client, parses them as :mod:`zeroserve.apis.knative.eventing.v1`
types, resolves each Trigger's subscriber (``ref`` to a Knative Service, InferenceService, Broker or
core Service; or ``uri``; a ``uri`` with a ``ref`` is resolved relative to it) and dead-letter sink
(its own, else its Broker's), installs the result in the :class:`TriggerTable` and patches status
with the API package's lifecycle helpers (Knative's condition sets; transition times from its
condition manager on this reconciler's clock). A Broker gets ``status.address.url``
(``http://broker-ingress.knative-eventing.svc.cluster.local/<ns>/<broker>``); a Trigger gets
``status.subscriberUri`` and ``Ready`` False with the failing condition's reason while unresolvable.
Listing keeps it simple and self-healing: a missed update is fixed by the next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urljoin

import pydantic

from zeroserve.apis.knative.eventing.v1 import lifecycle
from zeroserve.apis.knative.eventing.v1.types import Broker, BrokerStatus, Destination, Trigger
from zeroserve.apis.meta import KReference, KubeObject
from zeroserve.local.eventing.delivery import DeliveryPolicy
from zeroserve.local.eventing.triggers import (
    BrokerKey,
    FilterError,
    TriggerRule,
    TriggerTable,
    compile_filters,
)

__all__ = ["BROKER_INGRESS_HOST", "EventingReconciler", "broker_address"]

log = logging.getLogger(__name__)

GROUP, VERSION = "eventing.knative.dev", "v1"
BROKER_INGRESS_HOST = "broker-ingress.knative-eventing.svc.cluster.local"


def broker_address(namespace: str, name: str) -> str:
    """A Broker's ingress URL, Knative's multi-tenant broker address."""
    return f"http://{BROKER_INGRESS_HOST}/{namespace}/{name}"


class UnresolvedError(Exception):
    """A destination that cannot be turned into a URL yet."""


class EventingReconciler:
    """Polls Brokers and Triggers and keeps the table and their status current.

    Args:
        api: a ``kubernetes.client.CustomObjectsApi`` for the API server.
        table: the broker's routing table to fill.
        on_change: called after each pass (wakes the dispatcher).
        interval: seconds between passes.
        now: wall clock for condition transition times.
    """

    def __init__(
        self,
        api: Any,
        table: TriggerTable,
        *,
        on_change: Callable[[], None] = lambda: None,
        interval: float = 1.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.table = table
        self.on_change = on_change
        self.interval = interval
        self._now = now

    async def run(self) -> None:
        """Reconcile forever (cancel to stop); errors are logged and retried on the next pass."""
        while True:
            try:
                await asyncio.to_thread(self.sync_once)
                self.on_change()
            except Exception as exc:
                log.warning("eventing reconcile failed: %s", exc)
            await asyncio.sleep(self.interval)

    def sync_once(self) -> None:
        """One pass: list, resolve, fill the table, patch changed status."""
        broker_items = self.api.list_cluster_custom_object(GROUP, VERSION, "brokers").get("items", [])
        trigger_items = self.api.list_cluster_custom_object(GROUP, VERSION, "triggers").get("items", [])
        policies: dict[BrokerKey, DeliveryPolicy] = {}
        statuses: dict[BrokerKey, BrokerStatus] = {}
        for item in broker_items:
            broker = _parse(Broker, item)
            if broker is None:
                continue
            key = (broker.namespace, broker.name)
            policy = self._broker(broker)
            if policy is not None:
                policies[key] = policy
            assert broker.status is not None
            statuses[key] = broker.status
            self._patch_status("brokers", item, broker)
        rules = []
        for item in trigger_items:
            trigger = _parse(Trigger, item)
            if trigger is None:
                continue
            rule = self._trigger(trigger, statuses, policies)
            if rule is not None:
                rules.append(rule)
            self._patch_status("triggers", item, trigger)
        self.table.replace(policies.keys(), rules)

    def _broker(self, broker: Broker) -> DeliveryPolicy | None:
        """Mark a Broker's conditions; its delivery policy when it is ready, else ``None``."""
        now = self._now
        lifecycle.mark_broker_ready(broker, broker_address(broker.namespace, broker.name), now)
        delivery = broker.spec.delivery if broker.spec is not None else None
        dls: str | None = None
        if delivery is not None and delivery.dead_letter_sink is not None:
            try:
                dls = self._destination(broker.namespace, delivery.dead_letter_sink)
            except UnresolvedError as exc:
                reason = "DeadLetterSinkNotResolved"
                lifecycle.mark_broker_dead_letter_sink_failed(broker, reason, str(exc), now)
                return None
            lifecycle.mark_broker_dead_letter_sink_resolved(broker, dls, now)
        try:
            return DeliveryPolicy.from_spec(delivery, dead_letter_uri=dls)
        except ValueError as exc:
            message = f"spec.delivery: {_one_line(exc)}"
            lifecycle.mark_broker_not_ready(broker, "InvalidDelivery", message, now)
            return None

    def _trigger(
        self,
        trigger: Trigger,
        brokers: dict[BrokerKey, BrokerStatus],
        policies: dict[BrokerKey, DeliveryPolicy],
    ) -> TriggerRule | None:
        """Mark a Trigger's conditions; the rule the broker routes by when it is ready."""
        now = self._now
        spec = trigger.spec
        namespace, broker = trigger.namespace, spec.broker or "default"
        key = (namespace, broker)
        lifecycle.propagate_broker_status(trigger, brokers.get(key), now)
        try:
            if spec.subscriber is None:
                raise UnresolvedError("spec.subscriber needs a ref or a uri")
            subscriber = self._destination(namespace, spec.subscriber)
        except UnresolvedError as exc:
            lifecycle.mark_subscriber_resolve_failed(trigger, "SubscriberNotResolved", str(exc), now)
            return None
        lifecycle.mark_subscriber_resolved(trigger, subscriber, now)
        delivery = spec.delivery
        own_sink = delivery.dead_letter_sink if delivery is not None else None
        dls: str | None = None
        if own_sink is not None:
            try:
                dls = self._destination(namespace, own_sink)
            except UnresolvedError as exc:
                lifecycle.mark_dead_letter_sink_failed(trigger, "DeadLetterSinkNotResolved", str(exc), now)
                return None
        base = policies.get(key)
        dls = dls or (base.dead_letter_uri if base is not None else None)
        if dls:
            lifecycle.mark_dead_letter_sink_resolved(trigger, dls, now)
        else:
            lifecycle.mark_dead_letter_sink_not_configured(trigger, now)
        if base is None:
            return None  # BrokerReady is already False or Unknown with the Broker's reason
        try:
            filters = compile_filters(spec.filters) if spec.filters else None
            policy = DeliveryPolicy.from_spec(delivery, fallback=base, dead_letter_uri=dls)
        except FilterError as exc:
            lifecycle.mark_subscription_not_ready(trigger, "UnsupportedFilter", str(exc), now)
            return None
        except ValueError as exc:
            message = f"spec.delivery: {_one_line(exc)}"
            lifecycle.mark_subscription_not_ready(trigger, "InvalidDelivery", message, now)
            return None
        lifecycle.mark_subscription_ready(trigger, now)
        attributes = (spec.filter.attributes if spec.filter is not None else None) or {}
        return TriggerRule(
            namespace=namespace,
            name=trigger.name,
            broker=broker,
            subscriber_uri=subscriber,
            filter={str(k): str(v) for k, v in attributes.items()},
            delivery=policy,
            filters=filters,
        )

    def _destination(self, namespace: str, destination: Destination) -> str:
        """A Knative ``Destination`` (``ref`` and/or ``uri``) as a URL."""
        uri, ref = destination.uri, destination.ref
        if ref is None:
            if not uri:
                raise UnresolvedError("destination needs a ref or a uri")
            return str(uri)
        base = self._resolve_ref(namespace, ref)
        return urljoin(base.rstrip("/") + "/", str(uri).lstrip("/")) if uri else base

    def _resolve_ref(self, namespace: str, ref: KReference) -> str:
        kind, name = ref.kind or "", ref.name or ""
        ns = ref.namespace or namespace
        api_version = ref.api_version or "v1"
        if api_version == "v1" and kind == "Service":
            return f"http://{name}.{ns}.svc.cluster.local"
        if kind == "Broker":
            return broker_address(ns, name)
        group, _, version = api_version.rpartition("/")
        if not group:
            raise UnresolvedError(f"cannot resolve {api_version} {kind} {ns}/{name}")
        try:
            obj = self.api.get_namespaced_custom_object(group, version, ns, kind.lower() + "s", name)
        except Exception as exc:
            raise UnresolvedError(f"{kind} {ns}/{name} not found: {getattr(exc, 'reason', exc)}") from None
        status = obj.get("status") or {}
        url = (status.get("address") or {}).get("url") or status.get("url")
        if not url:
            raise UnresolvedError(f"{kind} {ns}/{name} has no address yet")
        return str(url)

    def _patch_status(self, plural: str, item: dict[str, Any], obj: Broker | Trigger) -> None:
        """Write ``obj.status`` when it differs from the stored one (``item``)."""
        assert obj.status is not None
        obj.status.observed_generation = obj.metadata.generation or 1
        status = obj.status.to_dict()
        if status == (item.get("status") or {}):
            return
        try:
            self.api.patch_namespaced_custom_object_status(
                GROUP, VERSION, obj.namespace, plural, obj.name, {"status": status}
            )
        except Exception as exc:
            log.warning("status update of %s %s/%s failed: %s", plural, obj.namespace, obj.name, exc)


_Object = TypeVar("_Object", bound=KubeObject)


def _parse(kind: type[_Object], item: dict[str, Any]) -> _Object | None:
    try:
        return kind.from_dict(item)
    except pydantic.ValidationError as exc:
        meta = item.get("metadata") or {}
        log.warning(
            "skipping %s %s/%s: %s",
            kind.KIND,
            meta.get("namespace"),
            meta.get("name"),
            _one_line(exc),
        )
        return None


def _one_line(exc: Exception) -> str:
    """An error's message on one line (pydantic's are multi-line)."""
    return " ".join(str(exc).split())
