"""Leader election through a ``coordination.k8s.io/v1`` Lease, as client-go's ``leaderelection``.

Two controller replicas may run; only the holder of the Lease reconciles. A candidate takes the
Lease when it is absent, released (empty holder) or expired. Expiry is judged against the local
clock at which this candidate last *saw the record change* (not against the holder's ``renewTime``),
so clocks that disagree between machines do not matter. Writes carry ``resourceVersion``, so two
candidates that race for an expired Lease cannot both win: the API server answers one of them 409.

Every decision reads time from an injected clock; tests drive :meth:`LeaderElector.try_acquire_or_renew`
with a fake clock and never sleep.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from zeroserve.controller.errors import Conflict, NotFound, StoreError
from zeroserve.controller.kinds import LEASE
from zeroserve.controller.store import Store

__all__ = ["LeaderElector", "LeaseConfig", "format_micro_time"]

log = logging.getLogger(__name__)


def format_micro_time(when: datetime) -> str:
    """Render a Kubernetes ``MicroTime`` (RFC 3339, microseconds, UTC)."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class LeaseConfig:
    """Which Lease to hold and how (client-go's defaults)."""

    namespace: str = "zeroserve-system"
    name: str = "zeroserve-controller-leader"
    lease_duration: float = 15.0
    """Seconds a non-holder waits after the last observed change before taking the Lease."""
    renew_deadline: float = 10.0
    """Seconds the holder keeps trying to renew before it gives up leadership."""
    retry_period: float = 2.0
    """Seconds between attempts."""


class LeaderElector:
    """One candidate for the Lease.

    Args:
        store: the API.
        identity: this candidate's unique name (``holderIdentity``), e.g. the pod name.
        config: which Lease and the timings.
        clock: the current time (UTC); injected so tests advance it.
    """

    def __init__(
        self,
        store: Store,
        identity: str,
        config: LeaseConfig | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self.identity = identity
        self.config = config or LeaseConfig()
        self._clock = clock
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at: datetime | None = None
        self._last_renew: datetime | None = None

    @property
    def is_leader(self) -> bool:
        """Whether the last attempt left this candidate holding a Lease it renewed within the deadline."""
        if self._last_renew is None:
            return False
        return (self._clock() - self._last_renew).total_seconds() <= self.config.renew_deadline

    def try_acquire_or_renew(self) -> bool:
        """Make one attempt to take or renew the Lease.

        Returns:
            True when this candidate holds the Lease after the attempt.
        """
        now = self._clock()
        cfg = self.config
        try:
            lease = self._store.get(LEASE, cfg.namespace, cfg.name)
        except NotFound:
            return self._create(now)
        except StoreError as exc:
            log.warning("reading lease %s/%s failed: %s", cfg.namespace, cfg.name, exc)
            return False
        spec = dict(lease.get("spec") or {})
        if spec != self._observed_spec:
            self._observed_spec = spec
            self._observed_at = now
        holder = spec.get("holderIdentity") or ""
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        observed_at = self._observed_at or now
        if holder and holder != self.identity and (now - observed_at).total_seconds() < duration:
            self._last_renew = None
            return False
        new_spec = dict(spec)
        if holder != self.identity:
            new_spec["acquireTime"] = format_micro_time(now)
            new_spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        new_spec["holderIdentity"] = self.identity
        new_spec["leaseDurationSeconds"] = int(cfg.lease_duration)
        new_spec["renewTime"] = format_micro_time(now)
        lease["spec"] = new_spec
        try:
            stored = self._store.update(LEASE, lease)
        except Conflict:
            return False
        except StoreError as exc:
            log.warning("updating lease %s/%s failed: %s", cfg.namespace, cfg.name, exc)
            return False
        self._observe_own(stored, now)
        return True

    def release(self) -> None:
        """Give the Lease up (empty holder) so another candidate need not wait for it to expire."""
        if self._last_renew is None:
            return
        cfg = self.config
        try:
            lease = self._store.get(LEASE, cfg.namespace, cfg.name)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec["holderIdentity"] = ""
            spec["leaseDurationSeconds"] = 1
            lease["spec"] = spec
            self._store.update(LEASE, lease)
        except StoreError as exc:
            log.warning("releasing lease %s/%s failed: %s", cfg.namespace, cfg.name, exc)
        finally:
            self._last_renew = None

    def run(
        self,
        stop: threading.Event,
        on_started_leading: Callable[[], None],
        on_stopped_leading: Callable[[], None],
    ) -> bool:
        """Campaign until leader, lead until ``stop`` or a missed renew deadline, then release.

        Args:
            stop: set to end the campaign or leadership.
            on_started_leading: called once this candidate holds the Lease.
            on_stopped_leading: called when leadership ends (either way).

        Returns:
            True when leadership was lost (the caller should exit), False when ``stop`` ended it.
        """
        while not self.try_acquire_or_renew():
            if stop.wait(self.config.retry_period):
                return False
        log.info("%s became leader of lease %s/%s", self.identity, self.config.namespace, self.config.name)
        on_started_leading()
        lost = False
        try:
            while not stop.wait(self.config.retry_period):
                self.try_acquire_or_renew()
                if not self.is_leader:
                    lost = True
                    log.error("%s lost the lease %s", self.identity, self.config.name)
                    break
        finally:
            on_stopped_leading()
            if not lost:
                self.release()
        return lost

    def _create(self, now: datetime) -> bool:
        cfg = self.config
        lease = {
            "apiVersion": LEASE.api_version,
            "kind": LEASE.kind,
            "metadata": {"name": cfg.name, "namespace": cfg.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(cfg.lease_duration),
                "acquireTime": format_micro_time(now),
                "renewTime": format_micro_time(now),
                "leaseTransitions": 0,
            },
        }
        try:
            stored = self._store.create(LEASE, lease)
        except StoreError:
            return False
        self._observe_own(stored, now)
        return True

    def _observe_own(self, stored: dict[str, Any], now: datetime) -> None:
        self._observed_spec = dict(stored.get("spec") or {})
        self._observed_at = now
        self._last_renew = now
