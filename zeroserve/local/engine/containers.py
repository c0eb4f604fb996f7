"""Any OCI image on this machine: revisions whose image is not in the image table run in podman or docker.

:class:`ContainerRuntime` finds a working engine once (podman first, then docker; ``<engine> info``
must succeed, so a docker client without a daemon does not count), removes containers an earlier run
of the same platform left behind (by label: at the platform's next start after a crash, else when
first used), and plans ``<engine> run`` for one instance:

- the name ``zeroserve-<namespace>-<revision>-<n>`` and labels naming the platform's state folder and
  the revision;
- networking: by default the container keeps its own network namespace and its port is published on
  loopback only (``-p 127.0.0.1:<free port>:<containerPort>``), with ``PORT`` set to the container port
  as Knative does. Images that ignore ``PORT`` and listen on a fixed port (most do) work, and two
  instances of one image never collide. The gateway's loopback is out of its reach, so its
  ``HTTP_PROXY`` is the gateway's listener on the engine's bridge (:attr:`ContainerRuntime.reach_platform`,
  see :mod:`.bridge`); Knative names (``<svc>.<ns>``, ``*.svc.cluster.local``, the external domain)
  and the broker ingress go through it. ``container_network: host`` gives ``--network host`` instead:
  ``PORT`` is the free port, and the gateway on loopback is its ``HTTP_PROXY`` as for process instances;
- the model folder mounted at ``/mnt/models`` (read-only), the revision's ConfigMap, Secret and emptyDir
  folders at their ``mountPath`` (:func:`~zeroserve.local.engine.volumes.bind_mounts`), ``env``
  (``$(VAR)`` references expanded), ``command`` as the entrypoint, ``args``, ``workingDir``;
- ``resources.limits``: ``--memory``/``--memory-swap`` (no swap, as on Kubernetes) and ``--cpus``.

The ``run`` client stays attached, so the container's output goes to the instance log that
``zeroserve logs`` reads, and its exit is the container's. :class:`ContainerHandle` stops, kills,
inspects (``OOMKilled``) and removes the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from zeroserve.local.engine.images import MODEL_MOUNT, ImageNotRunnable, LaunchPlan
from zeroserve.local.engine.limits import Limits
from zeroserve.local.engine.volumes import BindMount

__all__ = [
    "ENGINES",
    "INSTALL_HINT",
    "LABEL_REVISION",
    "LABEL_STATE",
    "ContainerEngine",
    "ContainerHandle",
    "ContainerRuntime",
    "detect_engine",
]

_LOG = logging.getLogger(__name__)

ENGINES = ("podman", "docker")
INSTALL_HINT = "install podman (apt-get install podman runc) or docker"
LABEL_STATE = "io.zeroserve.state"
"""Label naming the platform (a hash of its state folder) that started a container."""
LABEL_REVISION = "io.zeroserve.revision"
"""Label naming the revision (``<namespace>/<name>``) a container serves."""
_DEFAULT_PORT = 8080
_VAR = re.compile(r"\$(\$?)\(([A-Za-z_][A-Za-z0-9_]*)\)")
_PROXY_VARS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")
_NO_PROXY = "127.0.0.1,localhost"
_PLATFORM_VARS = ("ZEROSERVE_BROKER_TOKEN",)
"""What a container gets of the platform's own instance environment (the broker ingress wants the token)."""


def _security_flags(context: object) -> list[str]:
    """A container's ``securityContext`` as run flags: the user and group it runs as, a read-only root."""
    if not isinstance(context, Mapping):
        return []
    flags: list[str] = []
    user, group = context.get("runAsUser"), context.get("runAsGroup")
    if isinstance(user, int) and not isinstance(user, bool):
        flags += [
            "--user",
            f"{user}:{group}" if isinstance(group, int) and not isinstance(group, bool) else str(user),
        ]
    if context.get("readOnlyRootFilesystem") is True:
        flags.append("--read-only")
    return flags


class ContainerEngine:
    """A container engine's command line (``podman`` or ``docker``)."""

    def __init__(self, name: str, path: str, controllers: frozenset[str] | None = None) -> None:
        """Name an engine.

        Args:
            name: ``podman`` or ``docker``.
            path: its executable.
            controllers: the cgroup controllers its containers can use (``None``: not known, assume all);
                rootless podman on cgroup v1 has none and refuses ``--memory``/``--cpus``.
        """
        self.name = name
        self.path = path
        self.controllers = controllers

    def limits(self, controller: str) -> bool:
        """Whether containers can be limited through a cgroup controller (``memory``, ``cpu``)."""
        return self.controllers is None or controller in self.controllers

    def __repr__(self) -> str:
        return f"ContainerEngine({self.name!r}, {self.path!r})"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def detect_engine(choice: str = "", *, timeout: float = 30.0) -> tuple[ContainerEngine | None, str]:
    """Find a container engine that works (its ``info`` succeeds).

    Args:
        choice: ``""`` tries podman then docker; ``"none"`` turns containers off; else an engine's
            name or path.
        timeout: seconds ``info`` may take.

    Returns:
        The engine, or ``None`` and why none could be used.
    """
    if choice == "none":
        return None, "container engines are turned off (ZEROSERVE_ENGINE_CONTAINER_ENGINE=none)"
    notes: list[str] = []
    for candidate in [choice] if choice else list(ENGINES):
        path = shutil.which(candidate)
        if path is None:
            continue
        name = "docker" if "docker" in os.path.basename(path) else "podman"
        argv = [path, "info", *(["--format", "json"] if name == "podman" else [])]
        try:
            proc = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            notes.append(f"{candidate} info failed: {err}")
            continue
        if proc.returncode == 0:
            return ContainerEngine(name, path, _controllers(proc.stdout) if name == "podman" else None), ""
        notes.append(f"{candidate} info failed: {_last_line(proc.stderr) or f'exit code {proc.returncode}'}")
    return None, "; ".join(notes) or "no container engine was found"


def _controllers(info: str) -> frozenset[str] | None:
    try:
        listed = json.loads(info)["host"]["cgroupControllers"]
    except (ValueError, KeyError, TypeError):
        return None
    return frozenset(str(c) for c in listed or ())


async def _run(argv: list[str], seconds: float) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), seconds)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return -1, "", f"{argv[1]} took longer than {seconds:g}s"
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


class ContainerHandle:
    """One container of an instance: stop, kill, its main process, and its end (inspect, remove)."""

    def __init__(self, engine: ContainerEngine, name: str) -> None:
        """Name a container.

        Args:
            engine: the engine that runs it.
            name: its name.
        """
        self.engine = engine
        self.name = name

    def kill(self, sig: str = "KILL") -> None:
        """Send a signal to the container (synchronously; the ``run`` client then exits).

        Args:
            sig: the signal's name.
        """
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(
                [self.engine.path, "kill", "--signal", sig, self.name],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
            )

    async def stop(self, grace: float) -> None:
        """Stop the container: SIGTERM, SIGKILL after ``grace`` seconds.

        Args:
            grace: seconds for a clean exit.
        """
        seconds = str(max(0, math.ceil(grace)))
        await _run([self.engine.path, "stop", "-t", seconds, self.name], grace + 30)

    async def main_pid(self) -> int | None:
        """The container's main process as this machine sees it (``None`` until it runs)."""
        code, out, _ = await _run([self.engine.path, "inspect", "--format", "{{.State.Pid}}", self.name], 30)
        with contextlib.suppress(ValueError):
            pid = int(out.strip() or 0) if code == 0 else 0
            return pid if pid > 0 else None
        return None

    async def finish(self) -> bool:
        """After the container exited: whether the kernel killed it for memory; then remove it.

        Returns:
            ``True`` when the engine reports ``OOMKilled``.
        """
        code, out, _ = await _run(
            [self.engine.path, "inspect", "--format", "{{.State.OOMKilled}}", self.name], 30
        )
        await _run([self.engine.path, "rm", "-f", self.name], 60)
        return code == 0 and out.strip().lower() == "true"


class ContainerRuntime:
    """The container engine of one platform: found once, cleaned up by label, and planning instances."""

    def __init__(
        self, choice: str, state_dir: Path, *, network: str = "bridge", engine: ContainerEngine | None = None
    ) -> None:
        """Describe the runtime; the engine is looked for on first use.

        Args:
            choice: the ``container_engine`` setting (``""``: podman, then docker; ``"none"``: off).
            state_dir: the platform's state folder (its hash labels the platform's containers).
            network: ``bridge`` (published on loopback) or ``host``.
            engine: use this engine as it is (no ``info``, no clean-up) instead of looking for one.
        """
        self._choice = choice
        self.network = network
        self.label = hashlib.sha256(str(Path(state_dir).resolve()).encode()).hexdigest()[:16]
        self._engine: ContainerEngine | None = engine
        self._why = ""
        self._detected = engine is not None
        self._lock = threading.Lock()
        self._numbers: dict[str, itertools.count[int]] = {}
        self._present: set[str] = set()
        self._marker = Path(state_dir) / "engine" / "run" / "containers"
        """Exists while this platform may have containers: the next start removes what a crash left."""
        self.reach_platform: Callable[[ContainerEngine], str] | None = None
        """Opens (the engine calls it once) a way into the gateway from the engine's bridge network and
        returns the ``HTTP_PROXY`` URL for containers there; ``None`` or an error: they get no proxy."""
        self._proxy: str | None = None
        self._proxy_tried = False
        if engine is None and self._marker.exists():
            self.engine  # noqa: B018 - looks for the engine, which removes the leftovers
            self._marker.unlink(missing_ok=True)

    @property
    def engine(self) -> ContainerEngine | None:
        """The engine (detected on first use, when the platform's leftover containers are removed)."""
        with self._lock:
            if not self._detected:
                self._engine, self._why = detect_engine(self._choice)
                self._detected = True
                if self._engine is not None:
                    removed = self.remove_all()
                    _LOG.info("container engine %s (%s)", self._engine.name, self._engine.path)
                    if removed:
                        _LOG.info("removed %d container(s) an earlier run left behind", removed)
            return self._engine

    def require(self, image: str) -> ContainerEngine:
        """The engine that will run ``image``, which is not in the image table.

        Args:
            image: the image.

        Returns:
            The engine.

        Raises:
            ImageNotRunnable: there is none; the message says what to install.
        """
        engine = self.engine
        if engine is None:
            why = "" if self._why == "no container engine was found" else f" ({self._why})"
            raise ImageNotRunnable(
                f"image {image!r} cannot run locally: it is not in the local image table and no container "
                f"engine was found{why}; {INSTALL_HINT}"
            )
        return engine

    def remove_all(self) -> int:
        """Remove every container of this platform (synchronously: at start and shutdown).

        Returns:
            How many were removed.
        """
        engine = self._engine
        if engine is None:
            return 0
        try:
            listed = subprocess.run(
                [engine.path, "ps", "-a", "-q", "--filter", f"label={LABEL_STATE}={self.label}"],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=60,
            )
            ids = listed.stdout.split()
            if ids:
                removing = [engine.path, "rm", "-f", *ids]
                subprocess.run(removing, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        except (OSError, subprocess.TimeoutExpired) as err:
            _LOG.warning("cannot remove leftover containers: %s", err)
            return 0
        return len(ids)

    async def ensure_image(self, image: str, pull_seconds: float = 600.0) -> None:
        """Make sure the image is local: pull it when it is not.

        Args:
            image: the image.
            pull_seconds: how long a pull may take.

        Raises:
            ImageNotRunnable: no engine, or the image is not local and cannot be pulled.
        """
        engine = self.require(image)
        if image in self._present:
            return
        code, _, _ = await _run([engine.path, "image", "inspect", image], 60)
        if code != 0:
            _LOG.info("pulling %s with %s", image, engine.name)
            code, _, err = await _run([engine.path, "pull", image], pull_seconds)
            if code != 0:
                raise ImageNotRunnable(
                    f"image {image!r} cannot run locally: it is not in the local image table nor among "
                    f"{engine.name}'s images, and {engine.name} could not pull it: {_last_line(err)}"
                )
        self._present.add(image)

    def plan(
        self,
        container: Mapping[str, Any],
        *,
        namespace: str,
        revision: str,
        model_dir: Path,
        port: int,
        env: Mapping[str, str],
        serve: bool = True,
        volumes: Sequence[BindMount] = (),
    ) -> LaunchPlan:
        """Plan ``<engine> run`` for one instance of a container.

        Args:
            container: the container spec.
            namespace: the revision's namespace.
            revision: the revision's name.
            model_dir: the folder mounted at ``/mnt/models``.
            port: a free local port to publish the container's port on (on the host network: its ``PORT``).
            env: the environment the engine would give a process (``K_*``, the broker token and, on the
                host network, the proxy come from it).
            serve: whether it serves (an init container gets no port and may write the model folder).
            volumes: the revision's projected volumes to mount (:func:`~.volumes.bind_mounts`).

        Returns:
            The plan; ``extra["container"]`` is its :class:`ContainerHandle`.

        Raises:
            ImageNotRunnable: no container engine is present.
        """
        image = str(container.get("image") or "")
        engine = self.require(image)
        with contextlib.suppress(OSError):
            self._marker.parent.mkdir(parents=True, exist_ok=True)
            self._marker.touch()
        key = f"{namespace}-{revision}"
        number = next(self._numbers.setdefault(key, itertools.count(1)))
        name = f"zeroserve-{key}-{number}"
        own_env = {k: v for k, v in env.items() if k.startswith("K_") or k in _PLATFORM_VARS}
        ports = container.get("ports") or []
        container_port = int((ports[0] or {}).get("containerPort") or _DEFAULT_PORT) if ports else 0
        container_port = container_port or _DEFAULT_PORT
        argv = [
            engine.path,
            "run",
            "--name",
            name,
            "--label",
            f"{LABEL_STATE}={self.label}",
            "--label",
            f"{LABEL_REVISION}={namespace}/{revision}",
            "--http-proxy=false",
        ]
        if engine.name == "docker":
            argv.pop()  # docker has no --http-proxy; it never forwards the client's proxy
        argv += _mounts(model_dir, read_only=serve)
        for mount in volumes:
            argv += ["-v", f"{mount.source}:{mount.target}{':ro' if mount.read_only else ''}"]
        if self.network == "host":
            argv += ["--network", "host"]
            own_env.update({k: v for k, v in env.items() if k in _PROXY_VARS})
        else:
            proxy = self._platform_proxy(engine)
            if proxy is not None:
                own_env.update({"HTTP_PROXY": proxy, "http_proxy": proxy})
                own_env.update({"NO_PROXY": _NO_PROXY, "no_proxy": _NO_PROXY})
        if serve:
            if self.network == "host":
                own_env["PORT"] = str(port)
            else:
                argv += ["-p", f"127.0.0.1:{port}:{container_port}"]
                own_env["PORT"] = str(container_port)
        for item in container.get("env") or []:
            if "value" in item:
                own_env[str(item["name"])] = _expand(str(item.get("value") or ""), own_env)
        for key_, value in own_env.items():
            argv += ["-e", f"{key_}={value}"]
        limits = Limits.of(container)
        # where the engine cannot limit (rootless on cgroup v1) memory is still watched (see .limits)
        if limits.memory_bytes is not None and engine.limits("memory"):
            argv += ["--memory", str(limits.memory_bytes), "--memory-swap", str(limits.memory_bytes)]
        if limits.cpus is not None and engine.limits("cpu"):
            argv += ["--cpus", f"{limits.cpus:g}"]
        argv += _security_flags(container.get("securityContext"))
        if container.get("workingDir"):
            argv += ["-w", str(container["workingDir"])]
        command = [_expand(str(c), own_env) for c in container.get("command") or []]
        args = [_expand(str(a), own_env) for a in container.get("args") or []]
        if command:
            argv += ["--entrypoint", command[0]]
            args = [*command[1:], *args]
        argv += [image, *args]
        probe = (container.get("readinessProbe") or {}).get("httpGet")
        client_env = {k: v for k, v in os.environ.items() if k not in _PROXY_VARS}
        return LaunchPlan(
            argv=argv,
            env=client_env,
            port=port if serve else 0,
            probe_path=str(probe.get("path") or "/") if serve and probe else None,
            # conmon writes files such as "oom" into its working directory: keep them in the state folder
            cwd=str(self._marker.parent),
            extra={"container": ContainerHandle(engine, name)},
        )

    def _platform_proxy(self, engine: ContainerEngine) -> str | None:
        """The ``HTTP_PROXY`` of containers on the bridge network (asked for once; ``None``: none)."""
        if not self._proxy_tried and self.reach_platform is not None:
            self._proxy_tried = True
            try:
                self._proxy = self.reach_platform(engine)
            except Exception as err:  # containers still run; they just cannot call the platform
                _LOG.warning(
                    "containers cannot reach the platform (no HTTP_PROXY for them): %s; "
                    "ZEROSERVE_ENGINE_CONTAINER_NETWORK=host runs them on the host's network",
                    err,
                )
        return self._proxy


def _expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` references to the container's environment (``$$(VAR)`` stays literal)."""

    def sub(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(0)[1:]
        return env.get(match.group(2), match.group(0))

    return _VAR.sub(sub, value)


def _mounts(model_dir: Path, *, read_only: bool) -> list[str]:
    """``-v`` for the model folder at ``/mnt/models``, plus the targets of links inside it (their paths
    are absolute, so they are mounted where they point)."""
    mode = ":ro" if read_only else ""
    folder = Path(model_dir).resolve()
    out = ["-v", f"{folder}:{MODEL_MOUNT}{mode}"]
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if entry.is_symlink():
                target = entry.resolve()
                if target.exists() and not target.is_relative_to(folder):
                    out += ["-v", f"{target}:{target}:ro"]
    return out
