"""Makes ``eventing.knative.dev/v1`` Brokers and Triggers real: routing table in, status out.

Every ``interval`` seconds (and at start) the reconciler lists Brokers and Triggers through the
API server with the ``kubernetes`` client, resolves each Trigger's subscriber (``ref`` to a Knative
Service, InferenceService, Broker or core Service; or ``uri``; a ``uri`` with a ``ref`` is
resolved relative to it) and its ``deadLetterSink``, installs the result in the
:class:`TriggerTable` and patches status: a Broker gets ``status.address.url``
(``http://broker-ingress.knative-eventing.svc.cluster.local/<ns>/<broker>``) and Ready conditions;
a Trigger gets ``status.subscriberUri`` and Ready (False with a reason while unresolvable).
Listing keeps it simple and self-healing: a missed update is fixed by the next pass.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from zeroserve.local.eventing.delivery import DeliveryPolicy
from zeroserve.local.eventing.triggers import (
    BrokerKey,
    FilterError,
    TriggerRule,
    TriggerTable,
    compile_filters,
)

__all__ = ["BROKER_INGRESS_HOST", "EventingReconciler", "broker_address"]

log = logging.getLogger("zeroserve.eventing.reconciler")

GROUP, VERSION = "eventing.knative.dev", "v1"
BROKER_INGRESS_HOST = "broker-ingress.knative-eventing.svc.cluster.local"


def broker_address(namespace: str, name: str) -> str:
    """A Broker's ingress URL, Knative's multi-tenant broker address."""
    return f"http://{BROKER_INGRESS_HOST}/{namespace}/{name}"


class UnresolvedError(Exception):
    """A destination that cannot be turned into a URL yet."""


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> dict[str, str]:
    cond = {"type": kind, "status": "True" if ok else "False"}
    if reason:
        cond["reason"] = reason
    if message:
        cond["message"] = message
    return cond


class EventingReconciler:
    """Polls Brokers and Triggers and keeps the table and their status current.

    Args:
        api: a ``kubernetes.client.CustomObjectsApi`` for the API server.
        table: the broker's routing table to fill.
        on_change: called after each pass (wakes the dispatcher).
        interval: seconds between passes.
        now: wall clock for condition timestamps.
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
        brokers = self.api.list_cluster_custom_object(GROUP, VERSION, "brokers").get("items", [])
        triggers = self.api.list_cluster_custom_object(GROUP, VERSION, "triggers").get("items", [])
        ready: dict[BrokerKey, DeliveryPolicy] = {}
        for broker in brokers:
            meta = broker["metadata"]
            key = (meta["namespace"], meta["name"])
            spec = broker.get("spec") or {}
            conditions = [_condition(k, True) for k in ("IngressReady", "TriggerChannelReady", "FilterReady")]
            conditions.append(_condition("Addressable", True))
            try:
                dls = self._destination(meta["namespace"], (spec.get("delivery") or {}).get("deadLetterSink"))
                ready[key] = DeliveryPolicy.from_spec(spec.get("delivery"), dead_letter_uri=dls)
                conditions.append(_condition("DeadLetterSinkResolved", True))
                conditions.append(_condition("Ready", True))
            except (UnresolvedError, ValueError) as exc:
                conditions.append(_condition("DeadLetterSinkResolved", False, "Unresolved", str(exc)))
                conditions.append(_condition("Ready", False, "DeadLetterSinkUnresolved", str(exc)))
            status = {"address": {"url": broker_address(*key)}}
            if key in ready:
                status["address"]["name"] = "http"
            self._patch_status("brokers", broker, {**status, "conditions": conditions})
        rules = []
        for trigger in triggers:
            rule, status = self._trigger(trigger, ready)
            if rule is not None:
                rules.append(rule)
            self._patch_status("triggers", trigger, status)
        self.table.replace(ready.keys(), rules)

    def _trigger(
        self, trigger: dict[str, Any], brokers: dict[BrokerKey, DeliveryPolicy]
    ) -> tuple[TriggerRule | None, dict[str, Any]]:
        meta, spec = trigger["metadata"], trigger.get("spec") or {}
        namespace, broker = meta["namespace"], spec.get("broker", "default")
        if (namespace, broker) not in brokers:
            message = f"broker {namespace}/{broker} does not exist or is not ready"
            return None, {
                "conditions": [
                    _condition("BrokerReady", False, "BrokerDoesNotExist", message),
                    _condition("Ready", False, "BrokerDoesNotExist", message),
                ]
            }
        try:
            subscriber = self._destination(namespace, spec.get("subscriber"))
            if subscriber is None:
                raise UnresolvedError("spec.subscriber needs a ref or a uri")
            delivery = spec.get("delivery") or {}
            dls = self._destination(namespace, delivery.get("deadLetterSink"))
            policy = DeliveryPolicy.from_spec(
                delivery, fallback=brokers[(namespace, broker)], dead_letter_uri=dls
            )
        except (UnresolvedError, ValueError) as exc:
            return None, {
                "conditions": [
                    _condition("BrokerReady", True),
                    _condition("SubscriberResolved", False, "Unresolved", str(exc)),
                    _condition("Ready", False, "SubscriberNotResolved", str(exc)),
                ]
            }
        attributes = (spec.get("filter") or {}).get("attributes") or {}
        try:
            filters = compile_filters(spec["filters"]) if spec.get("filters") else None
        except FilterError as exc:
            return None, {
                "conditions": [
                    _condition("BrokerReady", True),
                    _condition("SubscriptionReady", False, "UnsupportedFilter", str(exc)),
                    _condition("Ready", False, "UnsupportedFilter", str(exc)),
                ]
            }
        rule = TriggerRule(
            namespace=namespace,
            name=meta["name"],
            broker=broker,
            subscriber_uri=subscriber,
            filter={str(k): str(v) for k, v in attributes.items()},
            delivery=policy,
            filters=filters,
        )
        status: dict[str, Any] = {
            "subscriberUri": subscriber,
            "conditions": [
                _condition(kind, True)
                for kind in (
                    "BrokerReady",
                    "DependencyReady",
                    "SubscriberResolved",
                    "SubscriptionReady",
                    "DeadLetterSinkResolved",
                    "Ready",
                )
            ],
        }
        if dls:
            status["deadLetterSinkUri"] = dls
        return rule, status

    def _destination(self, namespace: str, destination: dict[str, Any] | None) -> str | None:
        """A Knative ``Destination`` (``ref`` and/or ``uri``) as a URL; ``None`` when not given."""
        if not destination:
            return None
        uri = destination.get("uri")
        ref = destination.get("ref")
        if not ref:
            if not uri:
                raise UnresolvedError("destination needs a ref or a uri")
            return str(uri)
        base = self._resolve_ref(namespace, ref)
        return urljoin(base.rstrip("/") + "/", str(uri).lstrip("/")) if uri else base

    def _resolve_ref(self, namespace: str, ref: dict[str, Any]) -> str:
        kind, name = ref.get("kind", ""), ref.get("name", "")
        ns = ref.get("namespace") or namespace
        api_version = ref.get("apiVersion", "v1")
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

    def _patch_status(self, plural: str, obj: dict[str, Any], status: dict[str, Any]) -> None:
        meta = obj["metadata"]
        status["observedGeneration"] = meta.get("generation", 1)
        current = obj.get("status") or {}
        if _same(current, status):
            return
        stamp = self._now().strftime("%Y-%m-%dT%H:%M:%SZ")
        old = {c.get("type"): c for c in current.get("conditions") or []}
        for cond in status.get("conditions", []):
            before = old.get(cond["type"])
            same = before is not None and before.get("status") == cond["status"]
            cond["lastTransitionTime"] = before.get("lastTransitionTime", stamp) if same and before else stamp
        try:
            self.api.patch_namespaced_custom_object_status(
                GROUP, VERSION, meta["namespace"], plural, meta["name"], {"status": status}
            )
        except Exception as exc:
            log.warning("status update of %s %s/%s failed: %s", plural, meta["namespace"], meta["name"], exc)


def _same(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    def strip(status: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in status.items() if k != "conditions"}
        out["conditions"] = sorted(
            (c.get("type"), c.get("status"), c.get("reason", ""), c.get("message", ""))
            for c in status.get("conditions") or []
        )
        return out

    return strip(current) == strip(desired)
