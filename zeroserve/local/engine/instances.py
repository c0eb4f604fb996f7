"""One instance of a revision: a local process, started, probed until ready, and stopped.

An instance is started from a :class:`~zeroserve.local.engine.images.LaunchPlan`, forked from the
zygote when the plan is a ``zeroserve`` command (milliseconds) or started as a fresh process
otherwise; a plan with a container (``extra["container"]``) runs the engine's attached ``run`` client,
and is stopped, killed and removed through the engine. Readiness is the ready file our servers write
(which also names the port they bound), else an HTTP or TCP probe of the port. Output goes to a
per-instance log file in the state folder. An instance with a memory limit is watched: past it, it is
killed and :attr:`Instance.oom_killed` says so (see :mod:`.limits`). A process instance with a CPU
limit runs in its own cgroup, or under a throttle where no cgroup can be used (see :mod:`.cgroups`).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from zeroserve.local.engine.cgroups import CpuControl, CpuGroup, CpuStat
from zeroserve.local.engine.containers import ContainerHandle
from zeroserve.local.engine.cputhrottle import CpuThrottle
from zeroserve.local.engine.images import LaunchPlan
from zeroserve.local.engine.limits import tree_memory_bytes, tree_pids
from zeroserve.local.engine.processctl import join_cgroup, set_parent_death_signal
from zeroserve.local.engine.zygote import Zygote, ZygoteError
from zeroserve.process.private import FILE_MODE, private_folder

__all__ = ["Instance", "InstanceFailed", "InstanceState", "free_port", "log_tail", "rotate_log"]

_IDS = itertools.count(1)
_LOG = logging.getLogger(__name__)


class InstanceFailed(Exception):
    """An instance exited or timed out before becoming ready; the message says how."""


class InstanceState(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    STOPPING = "stopping"
    EXITED = "exited"


class _Process(Protocol):
    pid: int

    async def wait(self) -> int: ...


class _ForkedProcess:
    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.pid = pid
        self._zygote = zygote

    async def wait(self) -> int:
        return await self._zygote.wait(self.pid)


class _AdoptedProcess:
    """A process started by an earlier engine (not our child): its exit is seen through a pidfd."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    async def wait(self) -> int:
        loop = asyncio.get_running_loop()
        try:
            fd = os.pidfd_open(self.pid)
        except OSError:
            return 0
        exited: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(fd, readable)
        try:
            await exited
        finally:
            loop.remove_reader(fd)
            os.close(fd)
        return 0  # not our child: its exit status is its parent's to read


class _FreshProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.pid = proc.pid
        self._proc = proc

    async def wait(self) -> int:
        return await self._proc.wait()


def _preexec(cgroup: str | None, *, die_with_parent: bool) -> Callable[[], None] | None:
    """What a fresh process runs before ``exec``: join its cgroup; die with the engine unless it survives."""
    if cgroup is None and not die_with_parent:
        return None

    def preexec() -> None:
        join_cgroup(cgroup)
        if die_with_parent:
            set_parent_death_signal()

    return preexec


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rotate_log(path: Path, max_bytes: int) -> None:
    """Move a log past ``max_bytes`` to ``<name>.1`` (replacing an older one), so logs stay bounded.

    Args:
        path: the log file.
        max_bytes: the size that triggers rotation (0: never).
    """
    try:
        if max_bytes and path.stat().st_size > max_bytes:
            path.replace(path.with_name(path.name + ".1"))
    except OSError:
        pass


def log_tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for failure messages.

    Args:
        path: the file.
        lines: how many lines.

    Returns:
        The lines joined, or an empty string.
    """
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 8192))
            data = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])


class Instance:
    """A running (or starting) process serving one revision."""

    def __init__(
        self, plan: LaunchPlan, log_path: Path, *, zygote: Zygote | None = None, survive: bool = False
    ) -> None:
        """Describe an instance; :meth:`start` runs it.

        Args:
            plan: how to run it.
            log_path: its log file.
            zygote: fork from this zygote when the plan allows it.
            survive: keep running when the platform dies (to be adopted when it restarts); otherwise
                the kernel kills it with its parent.
        """
        self.id = next(_IDS)
        self.plan = plan
        self.log_path = log_path
        self.state = InstanceState.STARTING
        self.port = plan.port
        self.grpc_port: int | None = None
        """The gRPC port its ready file names (``None``: none reported)."""
        self.in_flight = 0
        self.started_at = 0.0
        self.ready_at = 0.0
        self.exit_code: int | None = None
        self._zygote = zygote
        self._proc: _Process | None = None
        self._exited: asyncio.Task[int] | None = None
        self.on_exit: Callable[[Instance], None] | None = None
        self.drained: asyncio.Event | None = None
        """Set by the activator when the last request finishes on an instance being drained."""
        self.log_max_bytes = 20 * 2**20
        """A log this large when the instance (re)starts is moved to ``<name>.1`` first."""
        self.gpu_owner: object | None = None
        """Who holds this instance's GPUs (released when it stops)."""
        self.survives = survive
        self.on_launch: Callable[[Instance], None] | None = None
        """Called once the process runs, before it is ready (the adoption record is written then)."""
        self.record_path: Path | None = None
        """The adoption record written while it serves (see :mod:`.adoption`)."""
        self.memory_limit: int | None = None
        """Bytes of resident memory (its whole process tree) past which it is killed (``None``: no limit)."""
        self.memory_text = ""
        """The limit as the revision wrote it (``64Mi``)."""
        self.memory_interval = 0.5
        """Seconds between memory checks."""
        self.oom_killed: str | None = None
        """Why it was killed for memory (by the watch or, for a container, the kernel), else ``None``."""
        self._memory_task: asyncio.Task[None] | None = None
        self._memory_pid: int | None = None
        self.cpu_limit: float | None = None
        """Cores a process instance may use (``None``: no limit; a container gets the engine's ``--cpus``)."""
        self.cpu_control: CpuControl | None = None
        """Makes its cgroup (``None``: the limit is not enforced)."""
        self.cpu_name = "instance"
        """What its cgroup is named after (``<namespace>.<revision>``)."""
        self.cpu_group: CpuGroup | None = None
        self.cpu_throttle: CpuThrottle | None = None
        self._signalled = False

    @classmethod
    def adopt(cls, pid: int, port: int, log_path: Path, ready_file: Path | None) -> Instance:
        """Take over a ready instance an earlier engine started (it keeps its port and log).

        Args:
            pid: its process.
            port: the port it serves on.
            log_path: its log file.
            ready_file: its ready file (removed when it stops).

        Returns:
            The instance, ready; call :meth:`watch` on the event loop to learn when it exits.
        """
        inst = cls(LaunchPlan(argv=["(adopted)"], env={}, ready_file=ready_file, port=port), log_path)
        inst.survives = True
        inst.state = InstanceState.READY
        inst.started_at = inst.ready_at = time.monotonic()
        inst._proc = _AdoptedProcess(pid)
        if ready_file is not None:
            with contextlib.suppress(OSError, ValueError, TypeError):
                grpc_port = int(json.loads(ready_file.read_bytes()).get("grpc_port", -1))
                inst.grpc_port = grpc_port if grpc_port > 0 else None
        return inst

    def watch(self) -> None:
        """Start watching an adopted instance's process for its exit (and its memory, given a limit)."""
        assert self._proc is not None
        control, pid = self.cpu_control, self._proc.pid
        if self.cpu_limit is not None and control is not None:
            with contextlib.suppress(OSError):  # an earlier run's throttle may have left it stopped
                os.killpg(pid, signal.SIGCONT)
            self.cpu_group = control.group_of(pid, self.cpu_limit)
            if self.cpu_group is None:  # an earlier run without a cgroup (or another limit): make one
                self._prepare_cpu()
                if self.cpu_group is not None:
                    for member in tree_pids(pid):
                        self.cpu_group.add(member)
            if self.cpu_throttle is not None:
                self.cpu_throttle.start(pid)
        self._exited = asyncio.create_task(self._watch(self._proc))
        if self.memory_limit is not None:
            self._memory_task = asyncio.create_task(self._watch_memory())

    @property
    def cpu_mechanism(self) -> str | None:
        """How its CPU limit is enforced (``cgroup1``, ``cgroup2``, ``throttle``), ``None``: it is not."""
        limiter = self.cpu_group or self.cpu_throttle
        return limiter.mechanism if limiter is not None else None

    def cpu_stat(self) -> CpuStat | None:
        """How often and how long its CPU limit held it back (``None``: no limit enforced)."""
        if self.cpu_group is not None:
            return self.cpu_group.stat()
        return self.cpu_throttle.stat() if self.cpu_throttle is not None else None

    def _prepare_cpu(self) -> None:
        """Make the instance's cgroup, or its throttle, before it starts (a process with a CPU limit)."""
        control, cpus = self.cpu_control, self.cpu_limit
        if control is None or cpus is None or self.container is not None:
            return
        mechanism = control.mechanism
        if mechanism == "throttle":
            self.cpu_throttle = CpuThrottle(cpus)
        elif mechanism != "none":
            self.cpu_group = control.group(self.cpu_name, cpus)

    async def _release_cpu(self) -> None:
        """Remove the instance's cgroup (killing what it left in it) or end its throttle."""
        group, self.cpu_group = self.cpu_group, None
        if group is not None:
            await asyncio.to_thread(group.remove)
        throttle, self.cpu_throttle = self.cpu_throttle, None
        if throttle is not None:
            await throttle.close()

    @property
    def container(self) -> ContainerHandle | None:
        """The container it runs in (``None``: a local process)."""
        handle = self.plan.extra.get("container")
        return handle if isinstance(handle, ContainerHandle) else None

    @property
    def pid(self) -> int | None:
        """The process id once started."""
        return self._proc.pid if self._proc is not None else None

    @property
    def address(self) -> tuple[str, int]:
        """Host and port to send requests to."""
        return ("127.0.0.1", self.port)

    async def start(self, *, ready_timeout: float, probe_interval: float) -> None:
        """Start the process and wait until it is ready.

        Args:
            ready_timeout: seconds it may take.
            probe_interval: seconds between readiness checks.

        Raises:
            InstanceFailed: it exited or did not become ready in time (the message has its log's tail).
        """
        await self.launch()
        if self.on_launch is not None:
            self.on_launch(self)
        assert self._exited is not None
        deadline = self.started_at + ready_timeout
        while True:
            if self._exited.done():
                raise InstanceFailed(self._exit_message())
            if await self._probe():
                if await self._enforce_memory():  # past its limit: never declared ready
                    await asyncio.wait([self._exited], timeout=30.0)
                    raise InstanceFailed(self._exit_message())
                break
            if time.monotonic() > deadline:
                await self.stop(grace=1.0)
                raise InstanceFailed(f"not ready after {ready_timeout:g}s\n{log_tail(self.log_path)}")
            await asyncio.wait([self._exited], timeout=probe_interval)
        self.ready_at = time.monotonic()
        if self.state is InstanceState.STARTING:
            self.state = InstanceState.READY

    async def launch(self) -> None:
        """Start the process without waiting for readiness (init containers use this directly).

        Raises:
            InstanceFailed: the program could not be started.
        """
        private_folder(self.log_path.parent)
        rotate_log(self.log_path, self.log_max_bytes)
        if self.plan.ready_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.plan.ready_file.unlink()
        self.started_at = time.monotonic()
        self._prepare_cpu()
        try:
            self._proc = await self._launch()
        except BaseException:
            await self._release_cpu()
            raise
        if self.cpu_group is not None:  # it joined first thing; this makes sure (and warns if not)
            self.cpu_group.add(self._proc.pid)
        if self.cpu_throttle is not None:
            self.cpu_throttle.start(self._proc.pid)
        self._exited = asyncio.create_task(self._watch(self._proc))
        if self.memory_limit is not None:
            self._memory_task = asyncio.create_task(self._watch_memory())

    async def _launch(self) -> _Process:
        plan = self.plan
        cgroup = self.cpu_group.procs_file if self.cpu_group is not None else None
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.write(fd, f"--- instance {self.id} starting: {' '.join(plan.argv)}\n".encode())
        finally:
            os.close(fd)
        if plan.cli_args is not None and self._zygote is not None and self._zygote.alive:
            try:
                pid = await self._zygote.spawn(
                    plan.cli_args, plan.env, self.log_path, plan.cwd, survive=self.survives, cgroup=cgroup
                )
                return _ForkedProcess(self._zygote, pid)
            except ZygoteError:
                pass
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            proc = await asyncio.create_subprocess_exec(
                *plan.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                env=plan.env,
                cwd=plan.cwd,
                start_new_session=True,
                preexec_fn=_preexec(cgroup, die_with_parent=not self.survives),
            )
        except OSError as err:
            raise InstanceFailed(f"cannot start {plan.argv[0]!r}: {err}") from err
        finally:
            os.close(fd)
        return _FreshProcess(proc)

    async def _watch(self, proc: _Process) -> int:
        code = await proc.wait()
        await self._release_cpu()
        handle = self.container
        if handle is not None:
            oom = await handle.finish()
            # the engine's cgroup killed it: reported as OOMKilled, or (cgroup v1, where podman may not
            # see the event) as SIGKILL (137) that nobody here sent to a container with a memory limit
            oom = oom or (code == 137 and self.memory_limit is not None and not self._signalled)
            if oom and self.oom_killed is None:
                self.oom_killed = f"the kernel killed it at its {self.memory_text or 'memory'} limit"
        self.exit_code = code
        previous = self.state
        self.state = InstanceState.EXITED
        if previous is not InstanceState.STOPPING and self.on_exit is not None:
            self.on_exit(self)
        return code

    def _exit_message(self) -> str:
        code = self.exit_code
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        if self.oom_killed is not None:
            how = f"was OOMKilled ({self.oom_killed})"
        return f"instance {how} before becoming ready\n{log_tail(self.log_path)}"

    async def _memory_used(self) -> int | None:
        if self._memory_pid is None:
            handle = self.container
            self._memory_pid = await handle.main_pid() if handle is not None else self.pid
        pid = self._memory_pid
        # ~0.1 ms: only its tree's statm files (smaps_rollup too, once past the limit)
        used = tree_memory_bytes(pid, self.memory_limit) if pid is not None else None
        if used is None:
            self._memory_pid = None
        return used

    async def _enforce_memory(self) -> bool:
        """Kill the instance when its process tree's resident memory is past its limit.

        Returns:
            Whether it was killed for memory (now or before).
        """
        limit = self.memory_limit
        if limit is None or self.oom_killed is not None:
            return self.oom_killed is not None
        used = await self._memory_used()
        if used is None or used <= limit:
            return False
        self.oom_killed = f"it used {used / 2**20:.0f} MiB, over its {self.memory_text} memory limit"
        await asyncio.to_thread(self.kill)
        return True

    async def _watch_memory(self) -> None:
        exited = self._exited
        assert exited is not None
        try:
            while not exited.done():
                if await self._enforce_memory():
                    return
                await asyncio.wait([exited], timeout=self.memory_interval)
        except OSError as err:  # the engine's client vanished: the instance's own exit still counts
            _LOG.warning("instance %d: memory no longer watched: %s", self.id, err)

    async def _probe(self) -> bool:
        plan = self.plan
        if plan.ready_file is not None:
            try:
                info = json.loads(plan.ready_file.read_bytes())
            except (OSError, ValueError):
                return False
            self.port = int(info["http_port"])
            grpc_port = int(info.get("grpc_port", -1))
            self.grpc_port = grpc_port if grpc_port > 0 else None
            return True
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 0.3)
        except (OSError, TimeoutError):
            return False
        try:
            if plan.probe_path is None:
                return True
            writer.write(
                f"GET {plan.probe_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
            )
            status = await asyncio.wait_for(reader.readline(), 0.3)
            parts = status.split()
            return len(parts) >= 2 and parts[1].startswith(b"2")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to the instance's process group (tests use it to simulate a crash).

        Args:
            sig: the signal.
        """
        pid = self.pid
        if pid is None or self.exit_code is not None:
            return
        self._signalled = True
        handle = self.container
        if handle is not None:
            handle.kill(signal.Signals(sig).name.removeprefix("SIG"))
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)

    async def stop(self, grace: float = 5.0) -> None:
        """Stop the instance: SIGTERM, then SIGKILL after ``grace`` seconds. Safe to call twice.

        Args:
            grace: seconds to wait for a clean exit.
        """
        if self._exited is None:
            self.state = InstanceState.EXITED
            return
        if self.state is not InstanceState.EXITED:
            self.state = InstanceState.STOPPING
        handle = self.container
        if not self._exited.done() and handle is not None:
            self._signalled = True
            await handle.stop(grace)
            done, _ = await asyncio.wait([self._exited], timeout=30.0)
            if not done and self.pid is not None:  # the client outlived its container: end it
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.pid, signal.SIGKILL)
                await asyncio.wait([self._exited], timeout=30.0)
        elif not self._exited.done():
            self.kill(signal.SIGTERM)
            done, _ = await asyncio.wait([self._exited], timeout=grace)
            if not done:
                self.kill(signal.SIGKILL)
                await asyncio.wait([self._exited], timeout=5.0)
        if self._memory_task is not None:
            self._memory_task.cancel()
        if self.plan.ready_file is not None:
            with contextlib.suppress(OSError):
                self.plan.ready_file.unlink()

    async def wait_exit(self) -> int | None:
        """Wait until the process has exited.

        Returns:
            Its exit code.
        """
        if self._exited is not None:
            await asyncio.wait([self._exited])
        return self.exit_code
