"""``zeroserve logs NAME [-f]`` as a user runs it: a real process reading the engine's instance log files."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(text)


def _logs(state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "zeroserve", "logs", *args, "--state-dir", str(state)]


class _Lines:
    """Reads a process's stdout line by line with a deadline."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self.stream = process.stdout
        os.set_blocking(self.stream.fileno(), False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.stream, selectors.EVENT_READ)
        self.buffer = b""

    def until(self, wanted: str, timeout: float = 30.0) -> list[str]:
        deadline = time.monotonic() + timeout
        while wanted.encode() + b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line {wanted!r} within {timeout:.0f} s; got {self.buffer!r}")
            if self.selector.select(left):
                self.buffer += self.stream.read() or b""
        return self.buffer.decode().splitlines()


def test_logs_prints_each_file_with_a_header(tmp_path: Path) -> None:
    root = tmp_path / "engine" / "logs" / "default"
    _append(root / "iris-predictor-00001" / "instance-1.log", "one\ntwo\nthree\n")

    done = subprocess.run(_logs(tmp_path, "iris", "--tail", "2"), capture_output=True, text=True, check=False)

    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["==> iris-predictor-00001/instance-1.log <==", "two", "three"]
    missing = subprocess.run(_logs(tmp_path, "nope", "-f"), capture_output=True, text=True, check=False)
    assert missing.returncode == 1
    assert missing.stderr.startswith("zeroserve logs: no logs for default/nope under ")


@pytest.mark.parametrize("tail", [[], ["--tail", "1"]])
def test_follow_prints_new_lines_and_new_instances_until_ctrl_c(tmp_path: Path, tail: list[str]) -> None:
    root = tmp_path / "engine" / "logs" / "default"
    first = root / "iris-predictor-00001" / "instance-1.log"
    _append(first, "old\nstarted\n")
    process = subprocess.Popen(_logs(tmp_path, "iris", "-f", *tail), stdout=subprocess.PIPE)
    try:
        lines = _Lines(process)
        shown = ["old", "started"][-1:] if tail else ["old", "started"]
        assert lines.until("started") == ["==> iris-predictor-00001/instance-1.log <==", *shown]
        _append(first, "a request\n")
        lines.until("a request")
        second = root / "iris-predictor-00002" / "instance-1.log"
        _append(second, "canary up\n")
        assert lines.until("canary up")[-2:] == ["==> iris-predictor-00002/instance-1.log <==", "canary up"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0, "Ctrl-C ends a follow normally"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()
