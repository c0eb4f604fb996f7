"""The image table: which container images run locally, and as what command.

A container image is a repository plus tag; locally it maps to a command through
``images.yaml`` (package data, extendable with the ``images_file`` setting). :func:`plan_launch`
turns one container of a revision into a :class:`LaunchPlan`: the argv, the environment with ``PORT``,
``/mnt/models`` replaced by the revision's model folder, and how readiness is detected.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from zeroserve.build.registry import lookup as lookup_built

__all__ = ["MODEL_MOUNT", "ContainerPlanner", "ImageNotRunnable", "ImageTable", "LaunchPlan", "plan_launch"]

MODEL_MOUNT = "/mnt/models"
"""Where KServe mounts the storage-initializer's volume; rewritten to the revision's model folder."""

_ZEROSERVE_PREFIX = ("python", "-m", "zeroserve")
_HTTP_PORT_FLAGS = ("--http_port", "--http-port")
_GRPC_PORT_FLAGS = ("--grpc_port", "--grpc-port")
_SERVER_COMMANDS = ("serve", "router", "logger-agent", "detector")
"""``zeroserve`` sub-commands that listen, and so take ``--host``."""


class ImageNotRunnable(Exception):
    """A container cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class LaunchPlan:
    """How to start one instance of a container."""

    argv: list[str]
    """The full command line for a fresh process (``argv[0]`` is the interpreter or program)."""
    env: dict[str, str]
    """The instance's environment (the engine's own plus the container's)."""
    cli_args: list[str] | None = None
    """Arguments for ``zeroserve.cli.main`` when the zygote can fork it; ``None`` otherwise."""
    ready_file: Path | None = None
    """Where a zeroserve server reports readiness and its ports; ``None``: probe ``port``."""
    port: int = 0
    """The HTTP port (0 until the ready file names it)."""
    probe_path: str | None = None
    """An HTTP readiness path; ``None`` means a TCP connect probe."""
    cwd: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class ImageTable:
    """Maps image repositories to local commands."""

    def __init__(self, entries: Mapping[str, Sequence[str]]) -> None:
        """Create a table.

        Args:
            entries: repository -> command (``python`` as first word means this interpreter).
        """
        self._entries = {_repository(k): list(v) for k, v in entries.items()}

    @classmethod
    def load(cls, extra_file: Path | None = None) -> ImageTable:
        """Load the packaged table, with ``extra_file`` (same YAML shape) merged over it.

        Args:
            extra_file: an optional YAML file with an ``images`` mapping.

        Returns:
            The table.
        """
        text = resources.files("zeroserve.local.engine").joinpath("images.yaml").read_text()
        entries = {k: v["command"] for k, v in (yaml.safe_load(text)["images"] or {}).items()}
        if extra_file is not None:
            data = yaml.safe_load(Path(extra_file).read_text()) or {}
            entries.update({k: v["command"] for k, v in (data.get("images") or {}).items()})
        return cls(entries)

    def add(self, image: str, command: Sequence[str]) -> None:
        """Map one more repository (tests use this for stand-in images).

        Args:
            image: the repository (a tag is ignored).
            command: the local command.
        """
        self._entries[_repository(image)] = list(command)

    def command_for(self, image: str) -> list[str]:
        """The local command of an image.

        Args:
            image: the container's image reference.

        Returns:
            The command.

        Raises:
            ImageNotRunnable: when the image is not in the table.
        """
        command = self._entries.get(_repository(image))
        if command is None:
            known = ", ".join(sorted(self._entries))
            raise ImageNotRunnable(
                f"image {image!r} cannot run locally: the local engine runs only images in its image table "
                f"({known}); add a mapping with the engine's images_file setting"
            )
        return list(command)


ContainerPlanner = Callable[[Mapping[str, Any], Path, int, Mapping[str, str], bool], LaunchPlan]
"""Plans a container whose image is not in the table as a real container (``container, model_dir, port,
env, serve``; see :meth:`zeroserve.local.engine.containers.ContainerRuntime.plan`)."""


def _repository(image: str) -> str:
    ref = image.split("@", 1)[0]
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        ref = ref[:colon]
    for prefix in ("docker.io/", "index.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
    if ref.startswith("library/"):
        ref = ref[len("library/") :]
    return ref


def _rewrite_mount(value: str, model_dir: Path) -> str:
    if MODEL_MOUNT in value:
        return value.replace(MODEL_MOUNT, str(model_dir))
    return value


def _strip_flags(args: list[str], flags: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in flags:
            skip = "=" not in arg
            continue
        out.append(arg)
    return out


def plan_launch(
    container: Mapping[str, Any],
    table: ImageTable,
    *,
    model_dir: Path,
    ready_file: Path,
    port: int,
    grpc_port: int,
    base_env: Mapping[str, str],
    python: str = "",
    serve: bool = True,
    host: str = "127.0.0.1",
    containers: ContainerPlanner | None = None,
    state_dir: Path | None = None,
) -> LaunchPlan:
    """Plan how to run a container locally.

    Args:
        container: the container spec (``image``, ``command``, ``args``, ``env``, ``readinessProbe``...).
        table: the image table.
        model_dir: the revision's model folder (replaces ``/mnt/models``).
        ready_file: where a zeroserve server should write its ready file.
        port: the HTTP port for images that cannot report theirs (zeroserve servers bind 0).
        grpc_port: the gRPC port passed to ``zeroserve serve`` (0 free, -1 disabled).
        base_env: the environment the container's ``env`` is laid over.
        python: the interpreter for ``python`` commands (empty: this one).
        serve: whether the container is a server (an init container gets no ports or ready file).
        host: the address our servers bind (``--host``), loopback so only the gateway reaches them.
        containers: runs an image the table does not know in a container engine (``None``: such an
            image cannot run).
        state_dir: the platform's state folder, whose registry of images built by ``zeroserve build``
            is consulted before the table (``None``: not consulted). Such an image runs from its folder
            with its own interpreter, as a fresh process.

    Returns:
        The plan.

    Raises:
        ImageNotRunnable: when the image or its command cannot run locally.
    """
    image = str(container.get("image") or "")
    if not image:
        raise ImageNotRunnable("container has no image")
    built = lookup_built(state_dir, image) if state_dir is not None else None
    if built is not None:
        if not Path(built.python).exists() or not built.folder.is_dir():
            raise ImageNotRunnable(
                f"image {image!r} was registered by 'zeroserve build' but its folder {built.folder} or its "
                f"environment {built.environment} is gone; run 'zeroserve build FOLDER -t {image}' again"
            )
        python_args = built.args[:1] == ["python"]
        command = ["python", *built.args[1:]] if python_args else [*_ZEROSERVE_PREFIX, *built.args]
        python = built.python
    else:
        try:
            command = table.command_for(image)
        except ImageNotRunnable:
            if containers is None:
                raise
            return containers(container, model_dir, port, base_env, serve)
    own_command = [str(c) for c in container.get("command") or []]
    args = [_rewrite_mount(str(a), model_dir) for a in container.get("args") or []]
    if own_command:
        if own_command[0] == "zeroserve" or own_command[:3] == list(_ZEROSERVE_PREFIX):
            skip = 1 if own_command[0] == "zeroserve" else 3
            command = [*_ZEROSERVE_PREFIX, *own_command[skip:]]
        elif os.path.basename(own_command[0]).startswith("python"):
            command = ["python", *own_command[1:]]
        else:
            raise ImageNotRunnable(
                f"container command {own_command!r} of image {image!r} cannot run locally "
                "(only 'zeroserve ...' and 'python ...' commands can)"
            )
        command = [_rewrite_mount(c, model_dir) for c in command]
    env = dict(base_env)
    if built is not None:
        env.update(built.env)
        if python_args:  # a kserve module: no gRPC port of its own locally (8081 would collide)
            env["ZEROSERVE_GRPC_PORT"] = "-1"
    for item in container.get("env") or []:
        if "value" in item:
            env[str(item["name"])] = _rewrite_mount(str(item.get("value") or ""), model_dir)
    interpreter = python or sys.executable
    is_zeroserve = command[:3] == list(_ZEROSERVE_PREFIX)
    cli_args: list[str] | None = None
    plan_ready: Path | None = None
    probe_path: str | None = None
    if is_zeroserve:
        cli_args = [*command[3:], *args]
        if serve:
            cli_args = _strip_flags(cli_args, (*_HTTP_PORT_FLAGS, "--ready-file"))
            cli_args += ["--http_port", "0", "--ready-file", str(ready_file)]
            if cli_args[:1] == ["serve"]:
                cli_args = [*_strip_flags(cli_args, _GRPC_PORT_FLAGS), "--grpc_port", str(grpc_port)]
            if cli_args[:1] and cli_args[0] in _SERVER_COMMANDS:
                cli_args = [*_strip_flags(cli_args, ("--host",)), "--host", host]
            env["PORT"] = "0"
            plan_ready = ready_file
            port = 0
        argv = [interpreter, "-m", "zeroserve", *cli_args]
    else:
        argv = [interpreter if command[0] == "python" else command[0], *command[1:], *args]
        if serve:
            env["PORT"] = str(port)
            probe = (container.get("readinessProbe") or {}).get("httpGet")
            if probe:
                probe_path = str(probe.get("path") or "/")
    return LaunchPlan(
        argv=argv,
        env=env,
        cli_args=cli_args if built is None else None,  # the zygote's interpreter is not the image's
        ready_file=plan_ready,
        port=port,
        probe_path=probe_path,
        cwd=str(container.get("workingDir") or "") or (str(built.folder) if built is not None else None),
    )
