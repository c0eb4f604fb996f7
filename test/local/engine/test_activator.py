"""The activator in-process: FIFO hand-out, containerConcurrency, a full queue and the deadline."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from zeroserve.local.engine.activator import Activator, ActivatorRejected
from zeroserve.local.engine.images import LaunchPlan
from zeroserve.local.engine.instances import Instance, InstanceState


def _instance(tmp_path: Path) -> Instance:
    inst = Instance(LaunchPlan(argv=["unused"], env={}), tmp_path / "i.log")
    inst.state = InstanceState.READY
    return inst


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_requests_wait_for_a_ready_instance_in_order_and_ask_for_scale_up(tmp_path: Path) -> None:
    demands: list[int] = []
    act = Activator("ns/rev", on_demand=lambda: demands.append(1))
    first = asyncio.create_task(act.acquire(5))
    second = asyncio.create_task(act.acquire(5))
    await asyncio.sleep(0)
    assert act.pending == 2
    assert demands  # scale from zero requested
    inst = _instance(tmp_path)
    act.add(inst)
    got = await asyncio.gather(first, second)
    assert got == [inst, inst]
    assert inst.in_flight == 2
    act.release(inst)
    act.release(inst)
    assert inst.in_flight == 0


async def test_container_concurrency_queues_excess_requests(tmp_path: Path) -> None:
    act = Activator("ns/rev", container_concurrency=1)
    inst = _instance(tmp_path)
    act.add(inst)
    held = await act.acquire(1)
    waiting = asyncio.create_task(act.acquire(5))
    await asyncio.sleep(0)
    assert not waiting.done() and act.pending == 1
    act.release(held)
    assert await waiting is inst
    act.release(inst)


async def test_least_loaded_instance_is_chosen(tmp_path: Path) -> None:
    act = Activator("ns/rev")
    a, b = _instance(tmp_path), _instance(tmp_path)
    act.add(a)
    act.add(b)
    first = await act.acquire(1)
    second = await act.acquire(1)
    assert {first, second} == {a, b}


async def test_full_queue_and_deadline_answer_with_a_reason() -> None:
    act = Activator("ns/rev", queue_depth=1)
    waiting = asyncio.create_task(act.acquire(5))
    await asyncio.sleep(0)
    with pytest.raises(ActivatorRejected, match="pending request queue full"):
        await act.acquire(5)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    with pytest.raises(
        ActivatorRejected, match=r"timed out after 0\.05s waiting for an instance of revision ns/rev"
    ):
        await act.acquire(0.05)
    assert act.pending == 0


async def test_traffic_is_integrated_for_the_autoscaler(tmp_path: Path) -> None:
    clock = FakeClock()
    act = Activator("ns/rev", clock=clock)
    inst = _instance(tmp_path)
    act.add(inst)
    got = await act.acquire(1)
    clock.now = 1.0
    act.release(got)
    clock.now = 2.0
    sample = act.traffic.sample(2.0)
    assert sample.concurrency == pytest.approx(0.5)
    assert sample.rps == pytest.approx(0.5)


async def test_a_failed_instance_is_avoided_when_another_is_ready(tmp_path: Path) -> None:
    act = Activator("ns/rev")
    a, b = _instance(tmp_path), _instance(tmp_path)
    act.add(a)
    act.add(b)
    for _ in range(4):
        got = await act.acquire(1, avoid=a)
        assert got is b
        act.release(got)
    act.remove(b)
    assert await act.acquire(1, avoid=a) is a  # the only one left is still tried
