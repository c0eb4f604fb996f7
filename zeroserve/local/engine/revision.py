"""A revision running on this machine: its instances, its activator, its autoscaler loop, its status.

:class:`RevisionRuntime` turns a Knative Revision into processes. It prepares the model folder
(the storage-initializer step), starts ``max(initial-scale, min-scale)`` instances, then every
autoscaler tick asks :class:`~zeroserve.local.engine.autoscaler.ScaleDecider` for a count and
converges on it; a request waiting at the activator wakes it at once (scale from zero). Crashed
instances restart with exponential backoff. :meth:`RevisionRuntime.status` is what the reconciler
writes into the Revision's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from zeroserve.apis.knative.serving.v1 import Revision
from zeroserve.apis.meta import Condition, ObjectMeta
from zeroserve.local.engine.activator import Activator
from zeroserve.local.engine.adoption import InstanceRecord, adoptable, process_start_time, read_records, reap
from zeroserve.local.engine.autoscaler import AutoscalingSpec, ScaleDecider, ScalerState
from zeroserve.local.engine.gpus import InsufficientGPUs, gpus_requested
from zeroserve.local.engine.images import ImageNotRunnable, LaunchPlan
from zeroserve.local.engine.instances import Instance, InstanceFailed, InstanceState
from zeroserve.local.engine.limits import Limits
from zeroserve.local.engine.metrics import ColdStarts
from zeroserve.local.engine.preparation import (
    instance_plan,
    prepare_model_dir,
    serving_container,
    volume_sync,
)
from zeroserve.local.engine.procstat import cpu_seconds, parse_cpu, rss_mib
from zeroserve.local.engine.spec import STORAGE_URI_ANNOTATION, RevisionSpec, RuntimeContext
from zeroserve.local.engine.status import Problem, RevisionObservation, mark_revision_status, one_line
from zeroserve.local.engine.volumes import ContainerConfigError
from zeroserve.process.private import private_folder
from zeroserve.servers.storage.errors import StorageError

__all__ = ["STORAGE_URI_ANNOTATION", "RevisionRuntime", "RevisionSpec", "RuntimeContext"]

_LOG = logging.getLogger(__name__)
_EXPLAINED_FAILURES = (InstanceFailed, InsufficientGPUs, ImageNotRunnable, ContainerConfigError, StorageError)
"""Failures the revision's status explains in one line: logged without a traceback."""

_CRASH_LOOP = 3
"""Consecutive failures to start after which waiting requests are answered instead of held."""


class RevisionRuntime:
    """Runs one revision: instances, activator, scaling and status."""

    def __init__(
        self, spec: RevisionSpec, ctx: RuntimeContext, on_status: Callable[[RevisionRuntime], None]
    ) -> None:
        """Create the runtime; :meth:`start` begins serving.

        Args:
            spec: the revision.
            ctx: shared engine context.
            on_status: called whenever :meth:`status` may have changed.
        """
        self.spec = spec
        self.ctx = ctx
        self._on_status = on_status
        self.activator = Activator(
            spec.key,
            container_concurrency=spec.container_concurrency,
            queue_depth=ctx.settings.queue_depth,
            clock=ctx.clock,
            on_demand=self._wake,
        )
        self.instances: list[Instance] = []
        self.desired = 0
        self.cold_starts = ColdStarts()
        """Scale-from-zero start times (``zeroserve_revision_cold_start_seconds``)."""
        self._decider = ScaleDecider()
        self._scaler_state = ScalerState(last_active=ctx.clock())
        self._autoscaling: AutoscalingSpec | None = None
        self._model_dir: Path | None = None
        self._prepare_lock = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._crashes = 0
        self._next_start = 0.0
        self._fatal: Problem | None = None
        self._failure: Problem | None = None
        self._crash_note: Problem | None = None
        self._ever_ready = False
        self._stopped = False
        self.last_reason = ""
        self._initial = 0
        self._ids = itertools.count(1)
        self._log_ids = itertools.count(1)
        self._cpu_seen: dict[int, tuple[float, float]] = {}
        resources = spec.container.get("resources") or {}
        self._cpu_request = parse_cpu(
            (resources.get("requests") or {}).get("cpu") or (resources.get("limits") or {}).get("cpu")
        )
        self.routable = True
        """Whether a Route sends traffic to the revision; Knative ignores ``min-scale`` when it does not."""
        self._last_crash = 0.0

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Validate the spec and start the scaling loop (instances start in the background)."""
        try:
            self._autoscaling = AutoscalingSpec.from_annotations(
                self.spec.annotations, self.ctx.settings, self.spec.container_concurrency
            )
        except ValueError as err:
            self._fatal = Problem("InvalidAutoscaling", str(err))
        if self._fatal is None:
            try:
                for container in [self.spec.container, *self.spec.init_containers]:
                    image = str(container.get("image") or "")
                    try:
                        self.ctx.images.command_for(image)
                    except ImageNotRunnable:
                        self.ctx.containers.require(image)  # runs as a container, when an engine works
            except ImageNotRunnable as err:
                self._fatal = Problem("ImageNotRunnableLocally", str(err))
        if self._fatal is None and self._autoscaling is not None:
            self.desired = max(self._autoscaling.initial_scale, self._autoscaling.min_scale)
            # initial-scale 0 (allowed globally): the revision is at its wanted scale, so it is Ready
            # without an instance, as in Knative; the first request starts one
            self._ever_ready = self.desired == 0 or self.spec.previously_ready
            self._initial = self.desired
            self._adopt()
            self._loop_task = asyncio.create_task(self._loop())
        self._notify()

    def _adopt(self) -> None:
        """Take over this revision's instances that outlived the platform (see :mod:`.adoption`)."""
        run_dir = self.ctx.run_dir()
        for record in read_records(run_dir):
            if record.key != (self.spec.namespace, self.spec.name):
                continue
            if not adoptable(record):
                reap(record, run_dir)
                continue
            ready_file = Path(record.ready_file) if record.ready_file else None
            inst = Instance.adopt(record.pid, record.port, Path(record.log), ready_file)
            self._limit(inst)
            inst.record_path = record.path(run_dir)
            inst.on_exit = self._on_exit
            self.instances.append(inst)
            self.activator.add(inst)
            inst.watch()
            self._ever_ready = True
            _LOG.info("revision %s: adopted instance pid %d", self.spec.key, record.pid)

    def _record(self, inst: Instance) -> None:
        """Write the adoption record of a ready instance that outlives the platform."""
        pid = inst.pid
        started = process_start_time(pid) if pid is not None else None
        if not inst.survives or pid is None or started is None:
            return
        ready_file = inst.plan.ready_file
        record = InstanceRecord(
            namespace=self.spec.namespace,
            revision=self.spec.name,
            pid=pid,
            start_time=started,
            port=inst.port,
            log=str(inst.log_path),
            ready_file=str(ready_file) if ready_file is not None else None,
        )
        inst.record_path = record.write(self.ctx.run_dir())

    def _limit(self, inst: Instance) -> None:
        """Give an instance the revision's limits: memory (watched) and CPU (its cgroup's quota)."""
        limits = Limits.of(self.spec.container)
        inst.memory_limit, inst.memory_text = limits.memory_bytes, limits.memory_text
        inst.memory_interval = self.ctx.settings.memory_check_interval
        inst.cpu_limit, inst.cpu_control = limits.cpus, self.ctx.cpu_control
        inst.cpu_name = f"{self.spec.namespace}.{self.spec.name}"

    @staticmethod
    def _forget(inst: Instance) -> None:
        if inst.record_path is not None:
            with contextlib.suppress(OSError):
                inst.record_path.unlink()
            inst.record_path = None

    async def stop(self) -> None:
        """Stop every instance and the loop; safe to call twice."""
        self._stopped = True
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.gather(*(self._stop_instance(i, drain=False) for i in list(self.instances)))
        self.instances.clear()

    # ------------------------------------------------------------------ status

    @property
    def idle(self) -> bool:
        """No instance runs or is wanted (an unroutable revision in this state can be forgotten)."""
        return not self.instances and self.desired == 0 and not self.activator.pending

    @property
    def unavailable(self) -> str | None:
        """Why requests cannot be served now, else ``None``: the revision can never serve (image,
        annotations), or it has no instance and keeps failing to start (a crash loop)."""
        fatal = self._fatal
        if fatal is not None:
            return f"revision {self.spec.key} cannot serve: {fatal.message}"
        failure = self._failure
        looping = self._crashes >= _CRASH_LOOP and failure is not None
        if failure is not None and looping and self.desired > 0 and not self.activator.ready:
            return f"revision {self.spec.key} keeps failing to start: {failure.message}"
        return None

    @property
    def timeout_seconds(self) -> float:
        """The revision's ``timeoutSeconds``."""
        return self.spec.timeout_seconds

    @property
    def ready_count(self) -> int:
        """Instances serving now."""
        return len(self.activator.ready)

    @property
    def autoscaling(self) -> AutoscalingSpec | None:
        """The resolved autoscaling spec (``None`` when the annotations are invalid)."""
        return self._autoscaling

    def observe(self) -> RevisionObservation:
        """What the revision's status reports now (see :func:`~.status.mark_revision_status`)."""
        return RevisionObservation(
            ready=self.ready_count,
            desired=self.desired,
            ever_ready=self._ever_ready,
            fatal=self._fatal,
            failure=self._failure,
            crash=self._crash_note,
        )

    def conditions(self) -> list[Condition]:
        """The revision's conditions as its Revision reports them (for tests and tools).

        Returns:
            ``Active``, ``ContainerHealthy``, ``Ready`` and ``ResourcesAvailable``.
        """
        revision = Revision(metadata=ObjectMeta(name=self.spec.name, namespace=self.spec.namespace))
        mark_revision_status(revision, self.observe())
        assert revision.status is not None
        return list(revision.status.conditions or [])

    def _notify(self) -> None:
        self._on_status(self)

    # ------------------------------------------------------------------ scaling

    def _wake(self) -> None:
        if not self.ready_count:
            self.cold_starts.begin(self.ctx.clock())
        if self._autoscaling is not None and self.desired < self._autoscaling.activation_scale:
            self.desired = max(self.desired, self._autoscaling.activation_scale)
            self._scaler_state = ScalerState(
                panic_since=self._scaler_state.panic_since,
                max_panic_instances=self._scaler_state.max_panic_instances,
                last_active=self.ctx.clock(),
            )
        self._wakeup.set()

    def tick(self, now: float) -> None:
        """Run one autoscaler decision (also called by the loop every tick interval).

        Args:
            now: the current time.
        """
        spec = self._autoscaling
        if spec is None:
            return
        if not self.routable and spec.min_scale:
            spec = replace(spec, min_scale=0)
        decision = self._decider.decide(
            list(self.activator.traffic.samples),
            spec,
            self._scaler_state,
            ready=self.ready_count,
            current=self.desired,
            pending=self.activator.pending,
            now=now,
        )
        self._scaler_state = decision.state
        if (
            self._crashes
            and self.ready_count
            and now - self._last_crash >= self.ctx.settings.restart_backoff_reset
        ):
            self._crashes = 0
            self._crash_note = None
            self._notify()
        if decision.desired != self.desired:
            self.last_reason = decision.reason
            self.desired = decision.desired
            self._notify()
        self._wakeup.set()

    async def _loop(self) -> None:
        settings = self.ctx.settings
        clock = self.ctx.clock
        next_sample = clock() + settings.metric_bucket
        next_tick = clock() + settings.tick_interval
        while not self._stopped:
            self._converge()
            now = clock()
            wait_until = min(next_sample, next_tick)
            if self._next_start > now:
                wait_until = min(wait_until, self._next_start)
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), max(0.0, wait_until - now))
            now = clock()
            if now >= next_sample:
                self._sample(now)
                next_sample = now + settings.metric_bucket
            if now >= next_tick:
                self.tick(now)
                next_tick = now + settings.tick_interval

    def _sample(self, now: float) -> None:
        """Close a metric bucket; HPA-class revisions also measure their instances' CPU and memory."""
        spec = self._autoscaling
        if spec is None or spec.klass != "hpa":
            self.activator.traffic.sample(now)
            return
        wall = time.monotonic()
        cpu_total, memory_total, counted = 0.0, 0.0, 0
        for inst in self.activator.ready:
            pid = inst.pid
            if pid is None:
                continue
            used, rss = cpu_seconds(pid), rss_mib(pid)
            if used is None or rss is None:
                continue
            last = self._cpu_seen.get(inst.id)
            self._cpu_seen[inst.id] = (wall, used)
            memory_total += rss
            if last is not None and wall > last[0]:
                cpu_total += (used - last[1]) / (wall - last[0]) / self._cpu_request * 100.0
                counted += 1
        ready = max(1, len(self.activator.ready))
        self.activator.traffic.sample(
            now, cpu=cpu_total / counted if counted else 0.0, memory=memory_total / ready
        )

    def _converge(self) -> None:
        live = [i for i in self.instances if i.state in (InstanceState.STARTING, InstanceState.READY)]
        missing = self.desired - len(live)
        if missing > 0 and self.ctx.clock() >= self._next_start:
            for _ in range(missing):
                self._spawn(self._start_instance())
        elif missing < 0:
            ready = sorted(
                (i for i in live if i.state is InstanceState.READY), key=lambda i: (i.in_flight, -i.id)
            )
            for inst in ready[:-missing]:
                self._spawn(self._stop_instance(inst, drain=True))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ instances

    async def _prepare(self) -> Path:
        async with self._prepare_lock:
            if self._model_dir is None:
                self._model_dir = await prepare_model_dir(self.spec, self.ctx)
                sync = volume_sync(self.spec, self.ctx)
                if sync is not None:  # ConfigMaps and Secrets change under a running revision
                    self._spawn(sync)
            return self._model_dir

    def _plan(
        self, model_dir: Path, gpus: list[str] | None, container: dict[str, Any] | None = None
    ) -> LaunchPlan:
        run_dir = self.ctx.run_dir()
        private_folder(run_dir)
        ready_file = run_dir / f"{self.spec.namespace}.{self.spec.name}.{os.getpid()}.{next(self._ids)}.ready"
        return instance_plan(self.spec, self.ctx, model_dir, gpus, ready_file, container)

    async def _start_instance(self) -> None:
        settings = self.ctx.settings
        owner = object()
        inst: Instance | None = None
        try:
            model_dir = await self._prepare()
            container_spec = await serving_container(self.spec, self.ctx)
            count = gpus_requested(self.spec.container)
            gpus = self.ctx.gpus.allocate(count, owner, f"revision {self.spec.key}") if count else None
            plan = self._plan(model_dir, gpus, container_spec)
            container = "container" in plan.extra
            if container:
                await self.ctx.containers.ensure_image(str(self.spec.container.get("image") or ""))
            log = self.ctx.log_dir(self.spec) / f"instance-{next(self._log_ids)}.log"
            # an instance without GPUs outlives a crashed platform, to be adopted when it restarts (a
            # container does not: the platform removes its containers when it starts again)
            inst = Instance(plan, log, zygote=self.ctx.zygote, survive=gpus is None and not container)
            inst.log_max_bytes = self.ctx.settings.log_max_bytes
            self._limit(inst)
            inst.gpu_owner = owner
            self.instances.append(inst)
            inst.on_exit = self._on_exit
            # recorded from launch on, so a crash of the platform while it starts cannot orphan it
            inst.on_launch = self._record
            await inst.start(ready_timeout=settings.ready_timeout, probe_interval=settings.probe_interval)
        except asyncio.CancelledError:
            self.ctx.gpus.release(owner)
            if inst is not None:
                self._forget(inst)
                await inst.stop(grace=1.0)
            raise
        except Exception as err:
            self.ctx.gpus.release(owner)
            if inst is not None:
                self._forget(inst)
                with contextlib.suppress(ValueError):
                    self.instances.remove(inst)
            reason = {
                InsufficientGPUs: "InsufficientGPU",
                ImageNotRunnable: "ImageNotRunnableLocally",
                ContainerConfigError: "CreateContainerConfigError",
            }.get(type(err), "ExitCode" if isinstance(err, InstanceFailed) else "StorageInitializerFailed")
            if isinstance(err, InstanceFailed) and inst is not None and inst.exit_code is not None:
                reason = "OOMKilled" if inst.oom_killed else f"ExitCode{inst.exit_code}"
            problem = Problem(reason, self._summary(err, reason))
            explained = isinstance(err, _EXPLAINED_FAILURES)
            _LOG.warning("revision %s: %s", self.spec.key, err, exc_info=not explained)
            if isinstance(err, ImageNotRunnable):
                self._fatal = problem
            else:
                self._failure = problem
                delay = self._backoff()
                if isinstance(err, InstanceFailed):
                    oom = inst is not None and inst.oom_killed is not None
                    self._note_crash(f"instance failed to start: {err}", delay, "OOMKilled" if oom else None)
                self._reject_if_crash_looping()
            self._notify()
            self._wakeup.set()
            return
        if self._stopped or inst.state is not InstanceState.READY:
            self._forget(inst)
            await inst.stop(grace=1.0)
            return
        self._failure = None
        self._record(inst)
        self.activator.add(inst)
        self.cold_starts.ready(self.ctx.clock())
        # Knative: a new revision is Ready once it reached its initial scale (max(initial, min-scale))
        wanted = max(1, min(self._initial, self.desired))
        self._ever_ready = self._ever_ready or self.ready_count >= wanted
        self._notify()

    def _summary(self, err: Exception, reason: str) -> str:
        """One readable line: what failed and what to do (the full text goes to the engine's log)."""
        text = one_line(str(err)) or type(err).__name__
        uri = self.spec.storage_uri
        if reason == "StorageInitializerFailed":
            return f"cannot fetch the model from storageUri {uri}: {text}" if uri else text
        if isinstance(err, InstanceFailed):
            if uri:
                text += f" (storageUri {uri})"
            return f"{text}; full log: zeroserve logs {self.spec.service} -n {self.spec.namespace}"
        return text

    def _reject_if_crash_looping(self) -> None:
        reason = self.unavailable
        if reason is not None:
            self.activator.reject_waiting(reason)

    def _backoff(self) -> float:
        """Count a failure and hold the next start back (0 s, then initial x 2^n, capped)."""
        settings = self.ctx.settings
        self._crashes += 1
        delay = 0.0 if self._crashes == 1 else settings.restart_backoff_initial * 2 ** (self._crashes - 2)
        delay = min(delay, settings.restart_backoff_max)
        self._last_crash = self.ctx.clock()
        self._next_start = self._last_crash + delay
        return delay

    def _note_crash(self, what: str, delay: float, reason: str | None = None) -> None:
        self._crash_note = Problem(
            reason or ("CrashLoopBackOff" if self._crashes > 1 else "ContainerRestarted"),
            f"{one_line(what)}; restart {self._crashes} in {delay:g}s",
        )

    def _on_exit(self, inst: Instance) -> None:
        self._forget(inst)
        self.activator.remove(inst)
        with contextlib.suppress(ValueError):
            self.instances.remove(inst)
        self.ctx.gpus.release(inst.gpu_owner)
        if inst.ready_at:
            code = inst.exit_code
            how = f"killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
            if inst.oom_killed is not None:
                how = f"was OOMKilled ({inst.oom_killed})"
            self._note_crash(
                f"instance {inst.id} {how}", self._backoff(), "OOMKilled" if inst.oom_killed else None
            )
            self._notify()
            self._wakeup.set()

    async def _stop_instance(self, inst: Instance, *, drain: bool) -> None:
        self._forget(inst)
        self.activator.remove(inst)
        if inst.state is not InstanceState.EXITED:
            inst.state = InstanceState.STOPPING
        if drain and inst.in_flight > 0:
            inst.drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(inst.drained.wait(), self.spec.timeout_seconds)
        await inst.stop(grace=self.ctx.settings.stop_grace_period)
        with contextlib.suppress(ValueError):
            self.instances.remove(inst)
        self.ctx.gpus.release(inst.gpu_owner)
        self._notify()
