"""Instances outlive a crashed platform and are adopted when it restarts.

A serving instance (without GPUs) does not die with the platform: from its launch on, the engine
keeps an :class:`InstanceRecord` beside its ready file (pid, the process's start time, revision,
log, and its port once it serves), and removes it when it stops the instance. After ``kill -9`` of
``zeroserve up`` the instances keep running; the restarted engine adopts the ones whose revision it
runs again (:func:`adoptable`: same process, still listening) before its gateway answers, and stops
the others (:func:`reap`), those that were still starting included.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from zeroserve.process.private import FILE_MODE

__all__ = ["InstanceRecord", "adoptable", "process_start_time", "read_records", "reap"]

_SUFFIX = ".instance.json"


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat``), ``None`` when gone.

    Args:
        pid: the process.

    Returns:
        The start time: with the pid, it names one process even after pids are reused.
    """
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    if fields[0] == "Z":  # a zombie has exited
        return None
    return int(fields[19])


@dataclass(frozen=True)
class InstanceRecord:
    """What a restarted engine needs to adopt a running instance."""

    namespace: str
    revision: str
    pid: int
    start_time: int
    port: int
    log: str
    ready_file: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """``(namespace, revision)``."""
        return (self.namespace, self.revision)

    def path(self, run_dir: Path) -> Path:
        """Where the record lives."""
        return run_dir / f"{self.namespace}.{self.revision}.{self.pid}{_SUFFIX}"

    def write(self, run_dir: Path) -> Path:
        """Write the record (0600, atomically).

        Args:
            run_dir: the engine's run folder.

        Returns:
            Its path.
        """
        path = self.path(run_dir)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
        with os.fdopen(fd, "w") as out:
            json.dump(asdict(self), out)
        tmp.replace(path)
        return path

    def remove(self, run_dir: Path) -> None:
        """Delete the record (the instance stopped)."""
        with contextlib.suppress(OSError):
            self.path(run_dir).unlink()


def read_records(run_dir: Path) -> list[InstanceRecord]:
    """Every record in the run folder (unreadable ones are deleted).

    Args:
        run_dir: the engine's run folder.

    Returns:
        The records.
    """
    records = []
    for path in sorted(run_dir.glob(f"*{_SUFFIX}")) if run_dir.is_dir() else []:
        try:
            records.append(InstanceRecord(**json.loads(path.read_text())))
        except (OSError, ValueError, TypeError):
            with contextlib.suppress(OSError):
                path.unlink()
    return records


def _running(record: InstanceRecord) -> bool:
    return process_start_time(record.pid) == record.start_time


def adoptable(record: InstanceRecord, timeout: float = 0.3) -> bool:
    """Whether the recorded process still runs and accepts connections on its port.

    Args:
        record: the record.
        timeout: seconds to wait for the connection (loopback).

    Returns:
        True when it can serve requests now.
    """
    if not _running(record) or not record.port:  # port 0: it had not started serving
        return False
    try:
        with socket.create_connection(("127.0.0.1", record.port), timeout=timeout):
            return True
    except OSError:
        return False


def reap(record: InstanceRecord, run_dir: Path) -> None:
    """Stop a recorded instance nobody adopted (SIGKILL to its process group) and delete its record.

    Args:
        record: the record.
        run_dir: the engine's run folder.
    """
    if _running(record):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(record.pid, signal.SIGKILL)
    if record.ready_file:
        with contextlib.suppress(OSError):
            Path(record.ready_file).unlink()
    record.remove(run_dir)
