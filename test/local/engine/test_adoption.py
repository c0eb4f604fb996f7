"""Records of instances that outlive the platform: adopted when alive and listening, else reaped."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

from zeroserve.local.engine.adoption import InstanceRecord, adoptable, process_start_time, read_records
from zeroserve.local.engine.engine import Engine

from .conftest import fast_settings, standin_images


def _orphan() -> subprocess.Popen[bytes]:
    """A process in a session of its own, as a surviving instance is."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


def _record(proc: subprocess.Popen[bytes], port: int, revision: str = "gone-00001") -> InstanceRecord:
    started = process_start_time(proc.pid)
    assert started is not None
    return InstanceRecord("default", revision, proc.pid, started, port, "/dev/null")


def test_records_round_trip_and_say_whether_the_process_serves(tmp_path: Path) -> None:
    proc = _orphan()
    try:
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            record = _record(proc, listener.getsockname()[1])
            path = record.write(tmp_path)
            assert oct(path.stat().st_mode & 0o777) == "0o600"
            assert read_records(tmp_path) == [record]
            assert adoptable(record)
        assert not adoptable(record)  # nothing listens any more
        stale = InstanceRecord("default", "x-00001", proc.pid, record.start_time + 1, 1, "/dev/null")
        assert not adoptable(stale)  # same pid, another process
    finally:
        proc.kill()
        proc.wait()


async def test_the_engine_reaps_instances_no_revision_adopts(tmp_path: Path) -> None:
    proc = _orphan()
    engine = Engine(fast_settings(), tmp_path, images=standin_images(), resolve_model=lambda uri: Path(uri))
    try:
        run_dir = engine.ctx.run_dir()
        run_dir.mkdir(parents=True)
        _record(proc, 1).write(run_dir)
        assert engine.reap_unadopted() == 1
        deadline = time.monotonic() + 10
        while proc.poll() is None:
            assert time.monotonic() < deadline, "the orphan was not stopped"
            await asyncio.sleep(0.02)
        assert read_records(run_dir) == []
    finally:
        proc.kill()
        proc.wait()
        await engine.stop()
