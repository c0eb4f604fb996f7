"""Getting a revision ready to start instances: its model folder and each instance's launch plan.

The model folder is what KServe mounts at ``/mnt/models``: the storage URI resolved in-process through
the storage layer (a folder is used where it lies, a single file is linked into the revision's own
folder), then any init containers run through the image table against that folder. An instance's
plan adds Knative's container environment (``K_SERVICE``, ``K_CONFIGURATION``, ``K_REVISION``), its
GPUs, and a free port or ready file.

Containers are run as kubelet would start them: their ConfigMap and Secret volumes projected into
folders (and kept in sync while the revision runs, see :mod:`.volumes`), their mount paths rewritten to
those folders (a process) or the folders mounted there (an image run in a container engine), and
``valueFrom`` / ``envFrom`` references read from the API server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from zeroserve.build.registry import lookup as lookup_built
from zeroserve.local.engine.images import ContainerPlanner, ImageNotRunnable, LaunchPlan, plan_launch
from zeroserve.local.engine.instances import Instance, InstanceFailed, free_port, log_tail
from zeroserve.local.engine.spec import RevisionSpec, RuntimeContext
from zeroserve.local.engine.volumes import (
    bind_mounts,
    keep_in_sync,
    mount_table,
    projections,
    resolve_env,
    rewrite_paths,
    sync_volumes,
)
from zeroserve.process.private import private_folder

__all__ = ["instance_plan", "prepare_model_dir", "run_init_container", "serving_container", "volume_sync"]


async def prepare_model_dir(spec: RevisionSpec, ctx: RuntimeContext) -> Path:
    """Resolve the revision's model and run its init containers.

    Args:
        spec: the revision.
        ctx: the shared engine context.

    Returns:
        The folder that replaces ``/mnt/models``.

    Raises:
        StorageError: the model could not be resolved (from the storage layer).
        InstanceFailed: an init container failed.
        ContainerConfigError: a ConfigMap, Secret or key a volume or env needs is missing.
    """
    found = projections(spec.volumes, ctx.volume_dir(spec))
    if ctx.read_object is None:  # an engine without an API server: the volumes stay empty folders
        found = {name: replace(p, optional=True) for name, p in found.items()}
    if found:
        await asyncio.to_thread(sync_volumes, found, _reader(ctx), spec.namespace)
    model_dir = ctx.model_dir(spec)
    private_folder(model_dir)
    if spec.storage_uri and ctx.resolve_model is not None:
        resolved = await asyncio.to_thread(ctx.resolve_model, spec.storage_uri)
        if resolved.is_dir():
            model_dir = resolved
        else:
            link = model_dir / resolved.name
            if not link.exists():
                link.symlink_to(resolved)
    for init in spec.init_containers:
        await run_init_container(spec, ctx, init, model_dir)
    return model_dir


async def run_init_container(
    spec: RevisionSpec, ctx: RuntimeContext, container: Mapping[str, Any], model_dir: Path
) -> None:
    """Run one init container to completion (its log: ``init-<name>.log``).

    Args:
        spec: the revision.
        ctx: the shared engine context.
        container: the init container.
        model_dir: the model folder (``/mnt/models``).

    Raises:
        InstanceFailed: it exited with a non-zero code.
        ImageNotRunnable: its image cannot run locally.
    """
    name = str(container.get("name") or "init")
    container = await _runnable(spec, ctx, container)
    plan = plan_launch(
        container,
        ctx.images,
        model_dir=model_dir,
        ready_file=ctx.run_dir() / "unused",
        port=0,
        grpc_port=-1,
        base_env=ctx.base_env,
        python=ctx.settings.python,
        serve=False,
        containers=_containers(spec, ctx),
        state_dir=ctx.state_dir,
    )
    log = ctx.log_dir(spec) / f"init-{name}.log"
    inst = Instance(plan, log, zygote=ctx.zygote)
    await inst.launch()
    code = await inst.wait_exit()
    if code != 0:
        raise InstanceFailed(f"init container {name} exited with code {code}\n{log_tail(log)}")


async def serving_container(spec: RevisionSpec, ctx: RuntimeContext) -> dict[str, Any]:
    """The serving container as it starts now: env references read, mount paths made local.

    Args:
        spec: the revision.
        ctx: the shared engine context.

    Returns:
        The container for :func:`instance_plan`.

    Raises:
        ContainerConfigError: a ConfigMap, Secret or key its env needs is missing.
    """
    return await _runnable(spec, ctx, spec.container)


def volume_sync(spec: RevisionSpec, ctx: RuntimeContext) -> Coroutine[Any, Any, None] | None:
    """The task that keeps the revision's ConfigMap and Secret folders in sync (``None``: it has none).

    Args:
        spec: the revision.
        ctx: the shared engine context.

    Returns:
        A coroutine that runs until cancelled.
    """
    found = {k: p for k, p in projections(spec.volumes, ctx.volume_dir(spec)).items() if p.kind}
    if not found or ctx.read_object is None:
        return None
    return keep_in_sync(found, ctx.read_object, spec.namespace, ctx.settings.poll_interval)


def _reader(ctx: RuntimeContext) -> Any:
    return ctx.read_object or (lambda _kind, _namespace, _name: None)


async def _runnable(spec: RevisionSpec, ctx: RuntimeContext, container: Mapping[str, Any]) -> dict[str, Any]:
    if ctx.read_object is not None and (container.get("env") or container.get("envFrom")):
        container = await asyncio.to_thread(resolve_env, container, ctx.read_object, spec.namespace)
    if _in_container_engine(ctx, container):  # its volumes are mounted where it expects them
        return dict(container)
    return rewrite_paths(container, mount_table(container, projections(spec.volumes, ctx.volume_dir(spec))))


def _in_container_engine(ctx: RuntimeContext, container: Mapping[str, Any]) -> bool:
    """Whether the container's image runs in podman/docker (neither built here nor in the table)."""
    image = str(container.get("image") or "")
    if lookup_built(ctx.state_dir, image) is not None:
        return False
    try:
        ctx.images.command_for(image)
    except ImageNotRunnable:
        return True
    return False


def instance_plan(
    spec: RevisionSpec,
    ctx: RuntimeContext,
    model_dir: Path,
    gpus: list[str] | None,
    ready_file: Path,
    container: Mapping[str, Any] | None = None,
) -> LaunchPlan:
    """The launch plan of one instance of the revision's serving container.

    Args:
        spec: the revision.
        ctx: the shared engine context.
        model_dir: the model folder.
        gpus: the GPU ids it holds (``None``: it asked for none, and sees none when the machine has some).
        ready_file: where a zeroserve server reports readiness.
        container: the serving container from :func:`serving_container` (default: the spec's as is).

    Returns:
        The plan.

    Raises:
        ImageNotRunnable: the container cannot run locally.
    """
    env = dict(ctx.base_env)
    env["K_SERVICE"] = env["K_CONFIGURATION"] = spec.service
    env["K_REVISION"] = spec.name
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)
    elif ctx.gpus.devices:
        env["CUDA_VISIBLE_DEVICES"] = ""
    return plan_launch(
        spec.container if container is None else container,
        ctx.images,
        model_dir=model_dir,
        ready_file=ready_file,
        port=free_port(),
        grpc_port=ctx.settings.instance_grpc_port,
        base_env=env,
        python=ctx.settings.python,
        containers=_containers(spec, ctx),
        state_dir=ctx.state_dir,
    )


def _containers(spec: RevisionSpec, ctx: RuntimeContext) -> ContainerPlanner:
    """Plans the revision's containers whose image is not in the table (see :mod:`.containers`)."""

    def plan(
        container: Mapping[str, Any], folder: Path, port: int, env: Mapping[str, str], serve: bool
    ) -> LaunchPlan:
        return ctx.containers.plan(
            container,
            namespace=spec.namespace,
            revision=spec.name,
            model_dir=folder,
            port=port,
            env=env,
            serve=serve,
            volumes=bind_mounts(container, projections(spec.volumes, ctx.volume_dir(spec))),
        )

    return plan
