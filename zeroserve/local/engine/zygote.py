"""A pre-warmed interpreter that forks instances of our own images.

Starting Python and importing the model server and its framework takes seconds; forking a process
that already did takes milliseconds. The engine starts one zygote (``python -m
zeroserve.local.engine.zygote``), which imports the configured modules and then waits on stdin for
JSON-line requests ``{"id", "argv", "env", "cwd", "log", "cgroup"}``. For each it forks a child that
joins the instance's cgroup (when one is named) before anything else, then calls
``zeroserve.cli.main(argv)`` with its own environment, output going to the instance's log file, and
answers ``{"id", "pid"}``. When a child exits it reports ``{"exit": pid, "code": n}``. The zygote never
serves anything itself, so it stays fresh for the next fork; it exits when its stdin closes.

:class:`Zygote` is the engine's side of that conversation.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import json
import logging
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from zeroserve.local.engine.processctl import join_cgroup, set_parent_death_signal, set_process_name
from zeroserve.process.private import private_folder

__all__ = ["Zygote", "ZygoteError", "main"]

_LOG = logging.getLogger(__name__)


class ZygoteError(Exception):
    """The zygote is not running or could not fork."""


class Zygote:
    """The engine's handle on a zygote process."""

    def __init__(self, preload: Sequence[str], log_path: Path, python: str = "") -> None:
        """Create a handle; :meth:`start` launches the process.

        Args:
            preload: modules to import before the first fork.
            log_path: the zygote's own log (stderr).
            python: the interpreter (empty: this one).
        """
        self._preload = list(preload)
        self._log_path = log_path
        self._python = python or sys.executable
        self._proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._next_id = 0
        self._ready: asyncio.Future[None] | None = None

    @property
    def alive(self) -> bool:
        """Whether the zygote process is running."""
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        """Launch the zygote and wait until it has imported its modules."""
        private_folder(self._log_path.parent)
        loop = asyncio.get_running_loop()
        self._ready = loop.create_future()
        log = os.open(self._log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                self._python,
                "-m",
                "zeroserve.local.engine.zygote",
                json.dumps(self._preload),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                start_new_session=True,
            )
        finally:
            os.close(log)
        self._reader = asyncio.create_task(self._read(self._proc))
        await self._ready

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        try:
            while line := await proc.stdout.readline():
                msg = json.loads(line)
                if "ready" in msg and self._ready is not None and not self._ready.done():
                    self._ready.set_result(None)
                elif "exit" in msg:
                    fut = self._exits.setdefault(msg["exit"], asyncio.get_running_loop().create_future())
                    if not fut.done():
                        fut.set_result(int(msg["code"]))
                elif "id" in msg:
                    pending = self._pending.pop(msg["id"], None)
                    if pending is not None and not pending.done():
                        if "pid" in msg:
                            pending.set_result(int(msg["pid"]))
                        else:
                            pending.set_exception(ZygoteError(msg.get("error", "fork failed")))
        finally:
            err = ZygoteError("the zygote exited")
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(err)
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(err)
            self._pending.clear()

    async def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        log: Path,
        cwd: str | None = None,
        *,
        survive: bool = False,
        cgroup: str | None = None,
    ) -> int:
        """Fork a child that runs ``zeroserve.cli.main(argv)``.

        Args:
            argv: the CLI arguments (after ``zeroserve``).
            env: the child's whole environment.
            log: the file the child's stdout and stderr append to.
            cwd: the child's working directory (default: the zygote's).
            survive: keep running when the zygote (and the platform) dies, to be adopted on restart.
            cgroup: the ``cgroup.procs`` file of the group the child joins first thing.

        Returns:
            The child's pid.

        Raises:
            ZygoteError: when the zygote is gone or the fork failed.
        """
        proc = self._proc
        if proc is None or proc.returncode is not None or proc.stdin is None:
            raise ZygoteError("the zygote is not running")
        self._next_id += 1
        req_id = self._next_id
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        msg = {"id": req_id, "argv": list(argv), "env": dict(env), "cwd": cwd, "log": str(log)}
        msg["survive"] = survive
        msg["cgroup"] = cgroup
        proc.stdin.write(json.dumps(msg).encode() + b"\n")
        await proc.stdin.drain()
        pid = await fut
        self._exits.setdefault(pid, asyncio.get_running_loop().create_future())
        return pid

    async def wait(self, pid: int) -> int:
        """Wait for a forked child to exit.

        Args:
            pid: a pid returned by :meth:`spawn`.

        Returns:
            Its exit code (negative: killed by that signal).
        """
        fut = self._exits.setdefault(pid, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.shield(fut)
        finally:
            if fut.done():
                self._exits.pop(pid, None)

    async def wait_closed(self) -> None:
        """Wait until the zygote process has exited (or its output closed)."""
        if self._reader is not None:
            await asyncio.shield(self._reader)
        if self._proc is not None:
            await self._proc.wait()

    async def stop(self) -> None:
        """Stop the zygote (its running children are stopped by their owners)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 2.0)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._reader is not None:  # a child that still holds the pipe must not hold the stop
            done, _ = await asyncio.wait([self._reader], timeout=5.0)
            if not done:
                _LOG.warning("the zygote's output stayed open after it exited; stopped reading it")
                self._reader.cancel()


# ----------------------------------------------------------------------------- the zygote process


def _write(msg: dict[str, object]) -> None:
    os.write(1, json.dumps(msg).encode() + b"\n")


def _reap(_signum: int, _frame: object) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        _write({"exit": pid, "code": code})


def _child(request: dict[str, object]) -> None:
    code = 1
    try:
        cgroup = request.get("cgroup")
        join_cgroup(cgroup if isinstance(cgroup, str) else None)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.setsid()
        if not request.get("survive"):
            set_parent_death_signal()
        env_in = request.get("env")
        if isinstance(env_in, dict):
            set_process_name(f"zs:{env_in.get('K_REVISION') or 'instance'}")
        log_fd = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        null_fd = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null_fd, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        os.close(null_fd)
        env = request["env"]
        assert isinstance(env, dict)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in env.items()})
        if request.get("cwd"):
            os.chdir(str(request["cwd"]))
        argv = [str(a) for a in request["argv"]]  # type: ignore[attr-defined]
        sys.argv = ["zeroserve", *argv]
        import random

        random.seed()
        from zeroserve.cli import main as cli_main

        code = int(cli_main(argv) or 0)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def main(argv: list[str]) -> int:
    """Run the zygote: import, announce readiness, fork on request until stdin closes.

    Args:
        argv: ``[json list of modules to preload]``.

    Returns:
        The exit code.
    """
    warnings.simplefilter("ignore", DeprecationWarning)
    started = time.monotonic()
    for name in json.loads(argv[0]) if argv else []:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a runtime that is not installed is simply not pre-warmed
            print(f"zygote: preload {name} skipped: {exc}", file=sys.stderr)
    # Move everything imported so far out of the collector's reach: a child's gc.collect() (the model
    # server collects after loading its models) then walks only its own objects, and the pages of
    # the shared heap are not dirtied by the collector (copy-on-write stays shared).
    gc.collect()
    gc.freeze()
    print(f"zygote: ready in {time.monotonic() - started:.2f}s", file=sys.stderr, flush=True)
    signal.signal(signal.SIGCHLD, _reap)
    _write({"ready": True})
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return 0
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            _write({"id": request["id"], "error": str(exc)})
            continue
        if pid == 0:
            _child(request)
        _write({"id": request["id"], "pid": pid})


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
