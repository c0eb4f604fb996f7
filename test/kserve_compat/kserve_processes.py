"""Start KServe's examples as real processes, with the real KServe or with zeroserve's package.

``Side`` names the interpreter: ``kserve`` is ``.venv-kserve`` (``hack/clients/kserve.sh``),
``zeroserve`` is the interpreter running the tests, where ``compat/kserve`` is installed. Every
server binds the ports given on its command line (``--http_port`` / ``--grpc_port``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from support.reference import ROOT
from support.waiting import wait_until

EXAMPLES = Path(__file__).resolve().parent / "examples"
KSERVE_PYTHON = ROOT / ".venv-kserve" / "bin" / "python"
SIDES = ("kserve", "zeroserve")


def python_of(side: str) -> str:
    """The interpreter of ``side``."""
    return str(KSERVE_PYTHON) if side == "kserve" else sys.executable


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports that were free a moment ago (KServe cannot report a port it picked)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Server:
    """One example running as a process."""

    side: str
    name: str
    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.side} {self.name} exited with {self.process.returncode}:\n{self.output()}"
            )
        return httpx.get(f"{self.url}/v2/health/ready", timeout=2).status_code == 200

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(side: str, script: str, name: str, folder: Path, *args: str) -> Server:
    """Run ``examples/<script>`` with ``side``'s interpreter on two fresh ports (not waiting)."""
    http_port, grpc_port = free_ports(2)
    log = folder / f"{side}-{name}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PORT", None)
    if side == "zeroserve":
        env["ZEROSERVE_HOST"] = "127.0.0.1"
    command = [
        python_of(side),
        str(EXAMPLES / script),
        "--model_name",
        "m",
        "--http_port",
        str(http_port),
        "--grpc_port",
        str(grpc_port),
        *args,
    ]
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=folder)
    return Server(side, name, process, http_port, grpc_port, log)


def wait_all(servers: list[Server], timeout: float = 60.0) -> None:
    """Wait until every server answers ready (a server that exits fails at once, with its log)."""
    for server in servers:
        wait_until(server.ready, timeout, what=f"{server.side} {server.name} ready", interval=0.05)
