"""Leader election through a Lease: two candidates, one fake clock, no sleeping."""

from __future__ import annotations

from collections.abc import Callable

from zeroserve.controller.kinds import LEASE, Kind
from zeroserve.controller.leader import LeaderElector, LeaseConfig
from zeroserve.controller.store import Obj

from .conftest import FakeClock
from .memstore import MemStore

CFG = LeaseConfig(namespace="zs", name="leader", lease_duration=15, renew_deadline=10, retry_period=2)


def _pair(store: MemStore, clock: FakeClock) -> tuple[LeaderElector, LeaderElector]:
    return (
        LeaderElector(store, "a", CFG, clock.now),
        LeaderElector(store, "b", CFG, clock.now),
    )


def test_first_candidate_creates_the_lease_and_the_second_waits(store: MemStore, clock: FakeClock) -> None:
    a, b = _pair(store, clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    lease = store.get(LEASE, "zs", "leader")
    assert lease["spec"]["holderIdentity"] == "a"
    assert lease["spec"]["leaseDurationSeconds"] == 15
    assert lease["spec"]["renewTime"].endswith("Z")
    assert a.is_leader and not b.is_leader


def test_renewing_keeps_the_lease_across_many_durations(store: MemStore, clock: FakeClock) -> None:
    a, b = _pair(store, clock)
    a.try_acquire_or_renew()
    for _ in range(30):
        clock.advance(2)
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew()
    assert store.get(LEASE, "zs", "leader")["spec"]["leaseTransitions"] == 0


def test_a_silent_holder_loses_the_lease_after_its_duration(store: MemStore, clock: FakeClock) -> None:
    a, b = _pair(store, clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b observes the record now
    clock.advance(14)
    assert not b.try_acquire_or_renew()
    clock.advance(2)
    assert b.try_acquire_or_renew()
    spec = store.get(LEASE, "zs", "leader")["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    # a comes back: it must see b's record as fresh and step down
    assert not a.try_acquire_or_renew()
    assert not a.is_leader


def test_holder_stops_being_leader_after_renew_deadline(store: MemStore, clock: FakeClock) -> None:
    a, _ = _pair(store, clock)
    a.try_acquire_or_renew()
    clock.advance(9)
    assert a.is_leader
    clock.advance(2)
    assert not a.is_leader, "without a renew inside renew_deadline a leader must stop reconciling"


def test_release_lets_the_other_take_over_at_once(store: MemStore, clock: FakeClock) -> None:
    a, b = _pair(store, clock)
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    a.release()
    assert store.get(LEASE, "zs", "leader")["spec"]["holderIdentity"] == ""
    assert b.try_acquire_or_renew()


class _InterleavingStore(MemStore):
    """Runs ``between`` once, right after the next read: another candidate acting in that window."""

    between: Callable[[], object] | None = None

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = super().get(kind, namespace, name)
        hook, self.between = self.between, None
        if hook is not None:
            hook()
        return obj


def test_racing_candidates_cannot_both_win(clock: FakeClock) -> None:
    store = _InterleavingStore()
    a, b = _pair(store, clock)
    a.try_acquire_or_renew()
    a.release()
    # b reads the released lease; before b writes, a takes it again; b's write is then stale
    store.between = a.try_acquire_or_renew
    assert not b.try_acquire_or_renew()
    assert a.is_leader and not b.is_leader
    assert store.get(LEASE, "zs", "leader")["spec"]["holderIdentity"] == "a"
