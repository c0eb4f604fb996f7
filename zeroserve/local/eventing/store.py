"""The broker's durable log: accepted events and their pending deliveries, in SQLite.

An event and one delivery row per matching Trigger are written in one transaction, committed with
``synchronous=FULL`` before the ingress answers 202; events that arrive together share a commit.
A delivery row stays ``pending`` until its subscriber (or dead-letter sink) accepted it, so a
broker that stops at any point resumes every unfinished delivery on restart. All calls run on
one private thread, so SQLite never blocks the event loop and the connection is never shared
between threads.

Delivery states: ``pending``; ``done`` (accepted); ``forwarded`` (failed, handed to the dead-letter
sink as a new ``deadletter`` delivery); ``dead`` (given up: retries spent or a final answer, with no
dead-letter sink or a failing one); ``dropped`` (its Trigger was deleted). ``dead`` deliveries are the
broker's own dead-letter store: their events stay (with the last status and error) for
:meth:`EventStore.dead_letters` until ``dead_before`` in :meth:`EventStore.purge`. The folder is
0700 and the database files 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from zeroserve.cloudevents import CloudEvent
from zeroserve.process.private import FILE_MODE, create_private_file, private_folder

__all__ = ["DeadLetter", "Delivery", "EventStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    broker TEXT NOT NULL,
    attributes TEXT NOT NULL,
    datacontenttype TEXT,
    data BLOB NOT NULL,
    accepted_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_seq INTEGER NOT NULL REFERENCES events(seq),
    trigger TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT 'subscriber',
    attempt INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_status INTEGER,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_at);
"""


@dataclass(frozen=True)
class Delivery:
    """One event on its way to one Trigger's subscriber (``target="subscriber"``) or dead-letter sink."""

    id: int
    event_seq: int
    trigger: str
    target: str
    attempt: int
    namespace: str
    broker: str
    event: CloudEvent
    last_status: int | None
    last_error: str | None


@dataclass(frozen=True)
class DeadLetter:
    """An event the broker gave up delivering to one Trigger, kept in the store."""

    delivery_id: int
    namespace: str
    broker: str
    trigger: str
    event: CloudEvent
    attempts: int
    last_status: int | None
    last_error: str | None
    accepted_at: float


class EventStore:
    """SQLite-backed event log with async methods.

    Args:
        path: the database file (created when missing).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="broker-store")
        self._db: sqlite3.Connection | None = None
        self._waiting: list[tuple[tuple[str, str, CloudEvent, list[str], float], asyncio.Future[int]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    async def open(self) -> None:
        """Open (and create) the database."""
        await self._run(self._open)

    def _open(self) -> None:
        private_folder(self.path.parent)
        create_private_file(self.path)  # SQLite gives WAL and SHM its mode
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(_SCHEMA)
        for suffix in ("-wal", "-shm"):  # repair files a looser older version left
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{self.path}{suffix}", FILE_MODE)
        self._db = db

    async def close(self) -> None:
        """Close the database; safe to call twice."""
        if self._db is not None:
            await self._run(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("event store is not open")
        return self._db

    async def accept(
        self, namespace: str, broker: str, event: CloudEvent, triggers: list[str], now: float
    ) -> int:
        """Durably store an event with one pending delivery per matching Trigger.

        Concurrent calls are committed together (group commit: one transaction and one sync for
        every event waiting), and each returns only once its event is on disk.

        Args:
            namespace: the Broker's namespace.
            broker: the Broker's name.
            event: the event as it will be delivered.
            triggers: keys (``<ns>/<name>``) of the Triggers whose filter passed.
            now: the clock's time; deliveries are due at once.

        Returns:
            The event's sequence number.
        """
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append(((namespace, broker, event, triggers, now), future))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_waiting())
        return await future

    async def _commit_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                seqs: list[int] = await self._run(self._accept_many, [item for item, _ in batch])
            except BaseException as exc:
                for _, future in batch:
                    if not future.done():
                        error = exc if isinstance(exc, Exception) else RuntimeError("store commit cancelled")
                        future.set_exception(error)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), seq in zip(batch, seqs, strict=True):
                if not future.done():
                    future.set_result(seq)

    def _accept_many(self, items: list[tuple[str, str, CloudEvent, list[str], float]]) -> list[int]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            seqs = []
            for namespace, broker, event, triggers, now in items:
                cursor = db.execute(
                    "INSERT INTO events (namespace, broker, attributes, datacontenttype, data, accepted_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        namespace,
                        broker,
                        orjson.dumps(event.attributes),
                        event.datacontenttype,
                        event.data,
                        now,
                    ),
                )
                seq = int(cursor.lastrowid or 0)
                db.executemany(
                    "INSERT INTO deliveries (event_seq, trigger, next_at) VALUES (?, ?, ?)",
                    [(seq, trigger, now) for trigger in triggers],
                )
                seqs.append(seq)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return seqs

    async def due(self, now: float, limit: int, exclude: set[int]) -> list[Delivery]:
        """Pending deliveries whose time has come, oldest first.

        Args:
            now: the clock's time.
            limit: most rows returned.
            exclude: delivery ids already in flight.

        Returns:
            The deliveries.
        """
        result: list[Delivery] = await self._run(self._due, now, limit, frozenset(exclude))
        return result

    def _due(self, now: float, limit: int, exclude: frozenset[int]) -> list[Delivery]:
        rows = self.db.execute(
            "SELECT d.id, d.event_seq, d.trigger, d.target, d.attempt, e.namespace, e.broker,"
            " e.attributes, e.datacontenttype, e.data, d.last_status, d.last_error"
            " FROM deliveries d JOIN events e ON e.seq = d.event_seq"
            " WHERE d.state = 'pending' AND d.next_at <= ? ORDER BY d.next_at, d.id LIMIT ?",
            (now, limit + len(exclude)),
        ).fetchall()
        out = []
        for row in rows:
            if row[0] in exclude:
                continue
            event = CloudEvent(attributes=orjson.loads(row[7]), data=bytes(row[9]), datacontenttype=row[8])
            out.append(
                Delivery(row[0], row[1], row[2], row[3], row[4], row[5], row[6], event, row[10], row[11])
            )
        return out[:limit]

    async def next_due(self, exclude: set[int]) -> float | None:
        """When the earliest pending delivery not in ``exclude`` is due; ``None`` when there is none."""
        result: float | None = await self._run(self._next_due, frozenset(exclude))
        return result

    def _next_due(self, exclude: frozenset[int]) -> float | None:
        marks = ",".join("?" * len(exclude))
        where = f" AND id NOT IN ({marks})" if exclude else ""
        row = self.db.execute(
            f"SELECT MIN(next_at) FROM deliveries WHERE state = 'pending'{where}", tuple(exclude)
        ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    async def finish(
        self, delivery_id: int, state: str, status: int | None, error: str | None = None
    ) -> None:
        """Close a delivery: ``done`` (accepted), ``dead`` (given up, kept) or ``dropped`` (Trigger gone)."""
        await self._run(self._finish, delivery_id, state, status, error)

    def _finish(self, delivery_id: int, state: str, status: int | None, error: str | None) -> None:
        self.db.execute(
            "UPDATE deliveries SET state = ?, last_status = ?, last_error = ? WHERE id = ?",
            (state, status, error, delivery_id),
        )

    async def retry_later(
        self, delivery_id: int, attempt: int, next_at: float, status: int | None, error: str
    ) -> None:
        """Record a failed attempt and when to try again."""
        await self._run(self._retry_later, delivery_id, attempt, next_at, status, error)

    def _retry_later(
        self, delivery_id: int, attempt: int, next_at: float, status: int | None, error: str
    ) -> None:
        self.db.execute(
            "UPDATE deliveries SET attempt = ?, next_at = ?, last_status = ?, last_error = ? WHERE id = ?",
            (attempt, next_at, status, error, delivery_id),
        )

    async def dead_letter(self, delivery_id: int, status: int | None, error: str, now: float) -> None:
        """Close a failed subscriber delivery and open one to the Trigger's dead-letter sink, atomically."""
        await self._run(self._dead_letter, delivery_id, status, error, now)

    def _dead_letter(self, delivery_id: int, status: int | None, error: str, now: float) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "UPDATE deliveries SET state = 'forwarded', last_status = ?, last_error = ? WHERE id = ?",
                (status, error, delivery_id),
            )
            db.execute(
                "INSERT INTO deliveries (event_seq, trigger, target, next_at, last_status, last_error)"
                " SELECT event_seq, trigger, 'deadletter', ?, ?, ? FROM deliveries WHERE id = ?",
                (now, status, error, delivery_id),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def counts(self) -> dict[str, int]:
        """Deliveries by ``<target>:<state>``, for metrics and tests."""
        result: dict[str, int] = await self._run(self._counts)
        return result

    def _counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT target, state, COUNT(*) FROM deliveries GROUP BY target, state")
        return {f"{target}:{state}": int(n) for target, state, n in rows}

    async def purge(self, before: float, dead_before: float | None = None) -> int:
        """Forget events accepted before ``before`` whose deliveries are all finished.

        Args:
            before: a time on the store's clock; newer events are kept for inspection.
            dead_before: events with a ``dead`` delivery (the dead-letter store) go only when
                accepted before this time; ``before`` when omitted.

        Returns:
            How many events were removed.
        """
        result: int = await self._run(self._purge, before, before if dead_before is None else dead_before)
        return result

    def _purge(self, before: float, dead_before: float) -> int:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            done = (
                "SELECT seq FROM events WHERE accepted_at < ? AND NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq AND d.state = 'pending')"
                " AND (accepted_at < ? OR NOT EXISTS"
                " (SELECT 1 FROM deliveries d WHERE d.event_seq = events.seq AND d.state = 'dead'))"
            )
            args = (before, dead_before)
            db.execute(f"DELETE FROM deliveries WHERE event_seq IN ({done})", args)
            removed = db.execute(f"DELETE FROM events WHERE seq IN ({done})", args).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return int(removed)

    async def dead_letters(
        self, namespace: str | None = None, broker: str | None = None, limit: int = 1000
    ) -> list[DeadLetter]:
        """Events given up on (the broker's dead-letter store), newest first.

        Args:
            namespace: only this Broker namespace, when given.
            broker: only this Broker, when given.
            limit: most rows returned.

        Returns:
            The dead letters.
        """
        result: list[DeadLetter] = await self._run(self._dead_letters, namespace, broker, limit)
        return result

    def _dead_letters(self, namespace: str | None, broker: str | None, limit: int) -> list[DeadLetter]:
        rows = self.db.execute(
            "SELECT d.id, e.namespace, e.broker, d.trigger, e.attributes, e.datacontenttype, e.data,"
            " d.attempt, d.last_status, d.last_error, e.accepted_at"
            " FROM deliveries d JOIN events e ON e.seq = d.event_seq"
            " WHERE d.state = 'dead' AND (? IS NULL OR e.namespace = ?) AND (? IS NULL OR e.broker = ?)"
            " ORDER BY d.id DESC LIMIT ?",
            (namespace, namespace, broker, broker, limit),
        ).fetchall()
        return [
            DeadLetter(
                delivery_id=row[0],
                namespace=row[1],
                broker=row[2],
                trigger=row[3],
                event=CloudEvent(attributes=orjson.loads(row[4]), data=bytes(row[6]), datacontenttype=row[5]),
                attempts=int(row[7]) + 1,
                last_status=row[8],
                last_error=row[9],
                accepted_at=float(row[10]),
            )
            for row in rows
        ]
