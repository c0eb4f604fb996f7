"""Test helpers other components use: a real model server in a subprocess, and small trained models.

``serve_in_subprocess`` runs ``python -m zeroserve serve ...`` on port 0, learns the bound ports
from the ready file (docs/contracts.md), and terminates the process on exit; when the server fails
to start, the error carries its stderr::

    folder = train_iris_sklearn(tmp_path / "iris")
    with serve_in_subprocess(["sklearn", "--model-name", "iris", "--model-dir", str(folder)]) as srv:
        httpx.post(f"{srv.http_url}/v1/models/iris:predict", json={"instances": [[6.8, 2.8, 4.8, 1.4]]})

The training helpers import scikit-learn / XGBoost only when called.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from zeroserve.servers.model import Model
    from zeroserve.servers.model_server import ServerHandle
    from zeroserve.servers.settings import ServerSettings

__all__ = [
    "ServedProcess",
    "ServerStartError",
    "ThreadedServer",
    "iris_data",
    "serve_in_subprocess",
    "serve_in_thread",
    "train_iris_sklearn",
    "train_iris_xgboost",
]


class ServerStartError(RuntimeError):
    """The server process exited or did not become ready in time; the message ends with its stderr."""


@dataclass
class ServedProcess:
    """A server process started by :func:`serve_in_subprocess`."""

    process: subprocess.Popen[bytes]
    """The running process."""
    http_port: int
    """The bound HTTP port."""
    grpc_port: int | None
    """The bound gRPC port, ``None`` when gRPC is disabled."""
    stderr_path: Path
    """File collecting the process's stderr (its JSON log lines)."""
    host: str = "127.0.0.1"

    @property
    def pid(self) -> int:
        """The server's process id."""
        return self.process.pid

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP server, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        """``host:port`` of the gRPC server (for ``grpc.insecure_channel`` or tritonclient)."""
        if self.grpc_port is None:
            raise RuntimeError("this server runs without gRPC")
        return f"{self.host}:{self.grpc_port}"

    def stderr_text(self) -> str:
        """Everything the process wrote to stderr so far."""
        return self.stderr_path.read_text(errors="replace")


def _has_flag(args: Sequence[str], *names: str) -> bool:
    return any(a == n or a.startswith(n + "=") for a in args for n in names)


def _tail(path: Path, limit: int = 8000) -> str:
    text = path.read_text(errors="replace") if path.exists() else ""
    return text[-limit:] if len(text) > limit else text


def _stop(process: subprocess.Popen[bytes], grace: float) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


@contextlib.contextmanager
def serve_in_subprocess(
    args: Sequence[str],
    *,
    command: str = "serve",
    env: Mapping[str, str] | None = None,
    timeout: float = 90.0,
    python: str | None = None,
    cwd: str | Path | None = None,
    stop_grace: float = 15.0,
) -> Iterator[ServedProcess]:
    """Run ``python -m zeroserve <command> <args>`` until the block exits.

    ``--http-port 0``, ``--grpc-port 0``, ``--host 127.0.0.1`` and ``--ready-file`` are added unless
    ``args`` already sets them (in either spelling).

    Args:
        args: the sub-command's arguments, e.g. ``["sklearn", "--model-name", "iris", "--model-dir", d]``.
        command: the ``zeroserve`` sub-command (``serve``, or another that follows the ready-file contract).
        env: extra environment variables (added to this process's environment).
        timeout: seconds to wait for the ready file.
        python: the interpreter; this one by default.
        cwd: working directory of the process.
        stop_grace: seconds between SIGTERM and SIGKILL when stopping.

    Yields:
        The :class:`ServedProcess` with its ports.

    Raises:
        ServerStartError: the process exited, or was not ready within ``timeout``; includes its stderr.
    """
    with tempfile.TemporaryDirectory(prefix="zeroserve-serve-") as tmp:
        ready = Path(tmp) / "ready.json"
        stderr_path = Path(tmp) / "stderr.log"
        argv = [python or sys.executable, "-m", "zeroserve", command, *args]
        if not _has_flag(args, "--http-port", "--http_port"):
            argv += ["--http-port", "0"]
        if not _has_flag(args, "--grpc-port", "--grpc_port"):
            argv += ["--grpc-port", "0"]
        if not _has_flag(args, "--host"):
            argv += ["--host", "127.0.0.1"]
        if not _has_flag(args, "--ready-file", "--ready_file"):
            argv += ["--ready-file", str(ready)]
        else:
            ready = Path(_flag_value(args, "--ready-file", "--ready_file"))
        ready.unlink(missing_ok=True)  # a stale file from an earlier run must not pass for readiness
        full_env = {**os.environ, **(env or {})}
        with stderr_path.open("wb") as stderr:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, env=full_env, cwd=cwd
            )
            try:
                info = _wait_ready(process, ready, stderr_path, timeout, argv)
                yield ServedProcess(
                    process=process,
                    http_port=int(info["http_port"]),
                    grpc_port=info.get("grpc_port"),
                    stderr_path=stderr_path,
                )
            finally:
                _stop(process, stop_grace)


def _flag_value(args: Sequence[str], *names: str) -> str:
    for i, arg in enumerate(args):
        for name in names:
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
            if arg == name and i + 1 < len(args):
                return args[i + 1]
    raise ValueError(f"none of {names} has a value in {list(args)}")


def _wait_ready(
    process: subprocess.Popen[bytes], ready: Path, stderr_path: Path, timeout: float, argv: list[str]
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        if ready.exists():
            info: dict[str, Any] = json.loads(ready.read_text())
            return info
        code = process.poll()
        if code is not None:
            raise ServerStartError(
                f"server exited with code {code} before it was ready: {' '.join(argv)}\n"
                f"--- stderr ---\n{_tail(stderr_path)}"
            )
        if time.monotonic() > deadline:
            _stop(process, 5.0)
            raise ServerStartError(
                f"server was not ready within {timeout:.0f}s: {' '.join(argv)}\n"
                f"--- stderr ---\n{_tail(stderr_path)}"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


@dataclass
class ThreadedServer:
    """A :class:`~zeroserve.servers.model_server.ModelServer` running in a background thread."""

    handle: ServerHandle
    """The running server's handle (ports, data plane, metrics)."""

    @property
    def http_url(self) -> str:
        """Base URL of the HTTP server."""
        return self.handle.url

    @property
    def http_port(self) -> int:
        """The bound HTTP port."""
        return self.handle.http_port

    @property
    def grpc_port(self) -> int | None:
        """The bound gRPC port, ``None`` when gRPC is disabled."""
        return self.handle.grpc_port

    @property
    def grpc_target(self) -> str:
        """``host:port`` of the gRPC server."""
        return self.handle.grpc_target


@contextlib.contextmanager
def serve_in_thread(
    models: Sequence[Model], settings: ServerSettings | None = None, *, timeout: float = 60.0
) -> Iterator[ThreadedServer]:
    """Serve ``models`` in-process, on a background thread with its own event loop, until the block exits.

    For synchronous tests that want real sockets without a subprocess. ``settings`` defaults to
    ports 0 on 127.0.0.1 with logging left alone.

    Args:
        models: the models (loaded by the server when not ready).
        settings: server settings.
        timeout: seconds to wait for start-up.

    Yields:
        The :class:`ThreadedServer`.

    Raises:
        ServerStartError: loading a model or binding a port failed (the cause is chained).
    """
    import asyncio

    from zeroserve.servers.model_server import ModelServer
    from zeroserve.servers.settings import ServerSettings

    if settings is None:
        settings = ServerSettings(host="127.0.0.1", http_port=0, grpc_port=0, configure_logging=False)
    server = ModelServer(settings)
    started = threading.Event()
    state: dict[str, Any] = {}

    async def run() -> None:
        state["loop"] = asyncio.get_running_loop()
        state["stop"] = stop = asyncio.Event()
        try:
            async with server.running(models) as handle:
                state["handle"] = handle
                started.set()
                await stop.wait()
        except BaseException as exc:
            state["error"] = exc
            raise
        finally:
            started.set()

    thread = threading.Thread(target=lambda: _run_quietly(run), name="zeroserve-test-server", daemon=True)
    thread.start()
    if not started.wait(timeout):
        raise ServerStartError(f"in-process server did not start within {timeout:.0f}s")
    if "handle" not in state:
        thread.join(timeout)
        raise ServerStartError(f"in-process server failed to start: {state.get('error')!r}") from state.get(
            "error"
        )
    try:
        yield ThreadedServer(state["handle"])
    finally:
        state["loop"].call_soon_threadsafe(state["stop"].set)
        thread.join(timeout)


def _run_quietly(factory: Any) -> None:
    import asyncio

    with contextlib.suppress(Exception):
        asyncio.run(factory())


def iris_data() -> tuple[Any, Any]:
    """The iris data set as ``(X, y)``: 150 rows of 4 float64 features, int64 classes 0..2."""
    from sklearn.datasets import load_iris

    data = load_iris()
    return data.data, data.target


def train_iris_sklearn(folder: Path | str, *, filename: str = "model.joblib") -> Path:
    """Train a logistic-regression iris classifier and save it with joblib.

    Args:
        folder: the model folder (created when missing).
        filename: the model file's name.

    Returns:
        The folder, ready for ``zeroserve serve sklearn --model-dir``.
    """
    import joblib
    from sklearn.linear_model import LogisticRegression

    X, y = iris_data()
    model = LogisticRegression(max_iter=1000).fit(X, y)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / filename)
    return out


def train_iris_xgboost(folder: Path | str, *, filename: str = "model.json") -> Path:
    """Train a small multi-class XGBoost booster on iris (``multi:softprob``) and save it.

    Args:
        folder: the model folder (created when missing).
        filename: the model file's name (``.json``, ``.ubj`` or ``.bst``).

    Returns:
        The folder, ready for ``zeroserve serve xgboost --model-dir``.
    """
    import xgboost

    X, y = iris_data()
    dtrain = xgboost.DMatrix(X, label=y)
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1, "seed": 0}
    booster = xgboost.train(params, dtrain, num_boost_round=10)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out / filename))
    return out
