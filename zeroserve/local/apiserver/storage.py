"""Durable state: every object and a bounded event log in one SQLite database.

Each write is one transaction (object row, event row, resource-version counter) committed before the
API server answers, so a SIGKILL loses nothing that was acknowledged. The event log lets a watch resume
from any ``resourceVersion`` newer than the compaction point, also across restarts.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeroserve.process.private import create_private_file, private_folder

__all__ = ["ObjectKey", "Storage", "StoredEvent"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    grp TEXT NOT NULL, resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    rv INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (grp, resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, type TEXT NOT NULL, grp TEXT NOT NULL, resource TEXT NOT NULL, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_resource ON events (grp, resource, rv);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class ObjectKey:
    """Where an object lives; ``namespace`` is empty for cluster-scoped objects."""

    group: str
    resource: str
    namespace: str
    name: str


@dataclass(frozen=True)
class StoredEvent:
    """One entry of the event log."""

    rv: int
    type: str
    """``ADDED``, ``MODIFIED`` or ``DELETED``."""
    object: dict[str, Any]


class Storage:
    """The SQLite database behind the API server.

    Args:
        path: the database file; ``None`` keeps everything in memory (tests, ephemeral servers).
        event_retention: how many events the log keeps; watches from older versions get ``410 Gone``.
    """

    def __init__(self, path: Path | None, *, event_retention: int = 20000) -> None:
        if path is not None:
            private_folder(path.parent)
            create_private_file(path)
        self._db = sqlite3.connect(
            str(path) if path else ":memory:", isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._retention = event_retention
        self._writes = 0

    def close(self) -> None:
        """Close the database; safe to call twice."""
        self._db.close()

    def _counter(self, name: str) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    @property
    def resource_version(self) -> int:
        """The newest resource version ever handed out."""
        return self._counter("rv")

    @property
    def compacted(self) -> int:
        """Events up to and including this version have been dropped from the log."""
        return self._counter("compacted")

    def load(self) -> list[tuple[ObjectKey, dict[str, Any]]]:
        """Returns: every stored object with its key."""
        rows = self._db.execute("SELECT grp, resource, namespace, name, data FROM objects ORDER BY rv")
        return [(ObjectKey(g, r, ns, n), json.loads(data)) for g, r, ns, n, data in rows]

    def write(self, key: ObjectKey, rv: int, event_type: str, obj: dict[str, Any]) -> None:
        """Store one change atomically: the object (or its removal), its event and the new version.

        Args:
            key: the object's key.
            rv: the version this change was given (must exceed every earlier one).
            event_type: ``ADDED``, ``MODIFIED`` or ``DELETED``.
            obj: the object as stored (for ``DELETED``, its last state).
        """
        data = json.dumps(obj, separators=(",", ":"))
        cursor = self._db.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            if event_type == "DELETED":
                cursor.execute(
                    "DELETE FROM objects WHERE grp=? AND resource=? AND namespace=? AND name=?",
                    (key.group, key.resource, key.namespace, key.name),
                )
            else:
                cursor.execute(
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)",
                    (key.group, key.resource, key.namespace, key.name, rv, data),
                )
            cursor.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?)", (rv, event_type, key.group, key.resource, data)
            )
            cursor.execute("INSERT OR REPLACE INTO counters VALUES ('rv', ?)", (rv,))
            self._writes += 1
            if self._writes % max(1, min(500, self._retention // 2)) == 0:
                horizon = rv - self._retention
                if horizon > 0:
                    cursor.execute("DELETE FROM events WHERE rv <= ?", (horizon,))
                    cursor.execute("INSERT OR REPLACE INTO counters VALUES ('compacted', ?)", (horizon,))
            cursor.execute("COMMIT")
        except BaseException:
            cursor.execute("ROLLBACK")
            raise

    def events_since(self, group: str, resource: str, rv: int) -> list[StoredEvent] | None:
        """The logged events of one resource after a version.

        Args:
            group: the API group.
            resource: the plural resource name.
            rv: the version the caller has seen.

        Returns:
            The events with a newer version, oldest first; ``None`` when ``rv`` is older than the log.
        """
        if rv < self.compacted:
            return None
        rows = self._db.execute(
            "SELECT rv, type, data FROM events WHERE grp=? AND resource=? AND rv > ? ORDER BY rv",
            (group, resource, rv),
        )
        return [StoredEvent(r, t, json.loads(data)) for r, t, data in rows]
