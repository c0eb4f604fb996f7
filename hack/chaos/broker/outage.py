"""Issue #16's scenario against a real ``zeroserve up``: events through the broker while the sink is down.

Run from the repository root with the project venv::

    .venv/bin/python hack/chaos/broker/outage.py [--rate 40] [--duration 100] [--outage-start 10]
        [--outage 30] [--drain 120]

It starts ``zeroserve up`` with the broker component on a fresh state folder, applies a Broker and a
Trigger with **no** ``delivery`` (the platform's default delivery), and serves a CloudEvents sink that
answers 503 from ``--outage-start`` for ``--outage`` seconds. Events are POSTed at ``--rate`` per
second for ``--duration`` seconds with the kubeconfig token. It then waits up to ``--drain`` seconds
and prints: events accepted (202), delivered (distinct ids), lost (accepted, neither delivered nor in
the broker's dead-letter store), dead letters, duplicates, failed attempts and how long after the sink
came back the last event arrived. Exits 1 when an accepted event was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
import yaml
from cloudevents.core.bindings.http import to_binary_event
from cloudevents.core.v1.event import CloudEvent

from zeroserve.local.testing import platform_process
from zeroserve.logger.testing import EventSink, serve

BROKER = "zeroserve.local.eventing.component:BrokerComponent"


async def run(args: argparse.Namespace, state: Path) -> int:
    sink = EventSink()
    async with serve(sink) as subscriber:
        manager = platform_process(state, components=[BROKER])
        platform = await asyncio.to_thread(manager.__enter__)
        try:
            await asyncio.to_thread(
                platform.kubectl,
                "apply",
                "-f",
                "-",
                input=textwrap.dedent(f"""
                    apiVersion: eventing.knative.dev/v1
                    kind: Broker
                    metadata: {{name: default, namespace: default}}
                    ---
                    apiVersion: eventing.knative.dev/v1
                    kind: Trigger
                    metadata: {{name: to-sink, namespace: default}}
                    spec:
                      broker: default
                      filter: {{attributes: {{type: outage}}}}
                      subscriber: {{uri: "{subscriber.url}"}}
                """),
            )
            token = yaml.safe_load(platform.kubeconfig.read_text())["users"][0]["user"]["token"]
            base = str(platform.info["extra"]["broker_url"])
            url = f"{base}/default/default"
            headers = {"authorization": f"Bearer {token}"}
            loop = asyncio.get_running_loop()
            async with httpx.AsyncClient(headers=headers, timeout=30) as client:
                deadline = loop.time() + 30
                while (await client.get(f"{base}/readyz")).status_code != 200 or (
                    await _post(client, url, "probe")
                ) != 202:
                    if loop.time() > deadline:
                        print("broker never became ready", file=sys.stderr)
                        return 1
                    await asyncio.sleep(0.2)
                accepted: set[str] = set()
                refused = 0
                total = int(args.rate * args.duration)
                started = loop.time()
                back_at = started + args.outage_start + args.outage
                backlog = set(range(min(total, int((args.outage_start + args.outage) * args.rate))))
                watcher = asyncio.create_task(_drained(sink, backlog))
                pending: set[asyncio.Task[tuple[str, int]]] = set()
                for i in range(total):
                    now = loop.time() - started
                    sink.reject_all = args.outage_start <= now < args.outage_start + args.outage
                    await asyncio.sleep(max(0.0, started + i / args.rate - loop.time()))
                    pending.add(asyncio.create_task(_send(client, url, i)))
                    done = {t for t in pending if t.done()}
                    pending -= done
                    for task in done:
                        event_id, status = task.result()
                        if status == 202:
                            accepted.add(event_id)
                        else:
                            refused += 1
                for event_id, status in await asyncio.gather(*pending):
                    if status == 202:
                        accepted.add(event_id)
                    else:
                        refused += 1
                sink.reject_all = False
                drain_deadline = loop.time() + args.drain
                while loop.time() < drain_deadline:
                    if accepted <= {e.get_id() for e in sink.events}:
                        break
                    await asyncio.sleep(0.1)
                drained_at = watcher.result() if watcher.done() else None
                watcher.cancel()
                letters = (await client.get(f"{url}/deadletters")).json()["items"]
                metrics = (await client.get(f"{base}/metrics")).text
        finally:
            await asyncio.to_thread(manager.__exit__, None, None, None)
    delivered_ids = [e.get_id() for e in sink.events]
    delivered = set(delivered_ids) & accepted
    dead = {item["event"]["id"] for item in letters} & accepted
    lost = accepted - delivered - dead
    print(f"sent {total} at {args.rate}/s, sink down {args.outage}s from t={args.outage_start}s")
    print(f"accepted (202): {len(accepted)}, refused: {refused}")
    print(f"delivered: {len(delivered)}, dead letters: {len(dead)}, lost: {len(lost)}")
    duplicates = len(delivered_ids) - len(set(delivered_ids))
    print(f"duplicates: {duplicates}, failed attempts: {sink.attempts - len(delivered_ids)}")
    if drained_at is None:
        print("the events sent before the sink came back were not all delivered")
    else:
        print(f"every event sent before the sink came back arrived {drained_at - back_at:.1f}s after it did")
    stored = [line for line in metrics.splitlines() if line.startswith("zeroserve_broker_dead_letters_st")]
    print(*stored)
    return 1 if lost else 0


async def _drained(sink: EventSink, indices: set[int]) -> float:
    """When every event numbered in ``indices`` has arrived (event-loop time)."""
    loop = asyncio.get_running_loop()
    while True:
        if indices <= {int(e.get_data()["i"]) for e in sink.events}:
            return loop.time()
        await asyncio.sleep(0.05)


async def _send(client: httpx.AsyncClient, url: str, i: int) -> tuple[str, int]:
    event = CloudEvent(attributes={"type": "outage", "source": "chaos"}, data={"i": i, "sent": time.time()})
    message = to_binary_event(event)
    try:
        answer = await client.post(url, headers=message.headers, content=message.body)
    except httpx.HTTPError:
        return event.get_id(), 0
    return event.get_id(), answer.status_code


async def _post(client: httpx.AsyncClient, url: str, kind: str) -> int:
    message = to_binary_event(CloudEvent(attributes={"type": kind, "source": "chaos"}, data={}))
    return (await client.post(url, headers=message.headers, content=message.body)).status_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=40.0, help="events per second")
    parser.add_argument("--duration", type=float, default=100.0, help="seconds of sending")
    parser.add_argument("--outage-start", type=float, default=10.0, help="when the sink goes down (s)")
    parser.add_argument("--outage", type=float, default=30.0, help="how long the sink is down (s)")
    parser.add_argument("--drain", type=float, default=120.0, help="most seconds to wait for the rest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="broker-outage-") as folder:
        return asyncio.run(run(args, Path(folder) / "state"))


if __name__ == "__main__":
    sys.exit(main())
