"""``zeroserve serve`` on a busy port: one line naming the port and the flag to change, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 held by a listening socket for the test."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _serve(sklearn_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "zeroserve",
            "serve",
            "sklearn",
            "--model_name=iris",
            f"--model_dir={sklearn_dir}",
            "--host=127.0.0.1",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("which", "flag"),
    [("http", "--http_port"), ("grpc", "--grpc_port")],
)
def test_busy_port_is_one_line_naming_the_flag(
    sklearn_dir: Path, busy_port: int, which: str, flag: str
) -> None:
    ports = (
        [f"--http_port={busy_port}", "--grpc_port=0"]
        if which == "http"
        else ["--http_port=0", f"--grpc_port={busy_port}"]
    )
    done = _serve(sklearn_dir, *ports)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("zeroserve serve:")]
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{busy_port}" in lines[0]
    assert f"choose another port with {flag}" in lines[0]
