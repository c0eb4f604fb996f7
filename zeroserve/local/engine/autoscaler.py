"""Knative's KPA as a pure decision: (observed window, spec, state, now) -> desired instances.

The spec comes from a revision's ``autoscaling.knative.dev/*`` annotations over the engine's global
defaults (:func:`AutoscalingSpec.from_annotations`). The window is a list of per-bucket samples of
average concurrency and request rate. :class:`ScaleDecider` keeps nothing itself: the panic-mode
bookkeeping travels in :class:`ScalerState`, so tests drive it with a fake clock.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from zeroserve.local.engine.settings import EngineSettings

__all__ = [
    "ANNOTATION_PREFIX",
    "AutoscalingSpec",
    "MetricSample",
    "ScaleDecider",
    "ScaleDecision",
    "ScalerState",
    "parse_duration",
]

ANNOTATION_PREFIX = "autoscaling.knative.dev/"

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def parse_duration(text: str) -> float:
    """Parse a Go-style duration (``"60s"``, ``"1m30s"``, ``"500ms"``) or plain seconds into seconds.

    Args:
        text: the duration.

    Returns:
        The duration in seconds.

    Raises:
        ValueError: when the text is not a duration.
    """
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r}")
    return total


@dataclass(frozen=True)
class MetricSample:
    """Traffic seen by one revision during one metric bucket ending at ``time``."""

    time: float
    concurrency: float
    """Time-weighted average of requests in flight or queued during the bucket (all instances)."""
    rps: float
    """Requests that arrived during the bucket, per second."""
    cpu: float = 0.0
    """Average CPU utilization of the revision's instances, percent of their CPU request (HPA class)."""
    memory: float = 0.0
    """Average resident memory of the revision's instances, MiB (HPA class)."""


@dataclass(frozen=True)
class AutoscalingSpec:
    """What one revision asks of the autoscaler, defaults applied."""

    klass: str = "kpa"
    """``kpa`` (Knative's Pod Autoscaler) or ``hpa`` (on ``cpu`` / ``memory``, like Kubernetes' HPA)."""
    metric: str = "concurrency"
    target: float = 100.0
    target_utilization: float = 0.7
    min_scale: int = 0
    max_scale: int = 0
    initial_scale: int = 1
    activation_scale: int = 1
    stable_window: float = 60.0
    panic_window_percentage: float = 10.0
    panic_threshold: float = 2.0
    scale_to_zero_grace_period: float = 30.0
    scale_to_zero_retention: float = 0.0
    scale_down_delay: float = 0.0
    max_scale_up_rate: float = 1000.0
    max_scale_down_rate: float = 2.0
    enable_scale_to_zero: bool = True
    container_concurrency: int = 0

    @property
    def panic_window(self) -> float:
        """The panic window in seconds (a share of the stable window, at least one second)."""
        return max(1e-3, self.stable_window * self.panic_window_percentage / 100.0)

    @property
    def target_per_instance(self) -> float:
        """The load one instance is sized for: target x utilization, bounded by containerConcurrency."""
        target = self.target
        if self.metric == "concurrency" and self.container_concurrency > 0:
            target = min(target, float(self.container_concurrency))
        return max(0.01, target * self.target_utilization)

    @classmethod
    def from_annotations(
        cls,
        annotations: Mapping[str, str] | None,
        settings: EngineSettings,
        container_concurrency: int = 0,
    ) -> AutoscalingSpec:
        """Build a spec from revision-template annotations over the global defaults.

        Accepts Knative's kebab-case keys and the older camelCase ones (``minScale``, ``maxScale``...).

        Args:
            annotations: the revision's annotations (others are ignored).
            settings: the engine's global defaults.
            container_concurrency: the revision's ``containerConcurrency`` (0: unlimited).

        Returns:
            The spec.

        Raises:
            ValueError: when an annotation value cannot be parsed, naming the annotation.
        """
        ann = _autoscaling_annotations(annotations or {})
        klass = "hpa" if ann.get("class", "").startswith("hpa") else "kpa"
        metric = ann.get("metric", "cpu" if klass == "hpa" else "concurrency")
        allowed = ("cpu", "memory") if klass == "hpa" else ("concurrency", "rps")
        if metric not in allowed:
            raise ValueError(
                f"{ANNOTATION_PREFIX}metric: unsupported metric {metric!r} for the {klass} class "
                f"({', '.join(allowed)})"
            )
        default_target = {
            "concurrency": settings.container_concurrency_target_default,
            "rps": settings.requests_per_second_target_default,
            "cpu": 80.0,
            "memory": 1024.0,
        }[metric]
        try:
            min_scale = int(ann.get("min-scale", "0"))
            max_scale = int(ann.get("max-scale", "0"))
            if settings.max_scale_limit > 0 and (max_scale == 0 or max_scale > settings.max_scale_limit):
                max_scale = settings.max_scale_limit
            initial = int(ann.get("initial-scale", str(settings.initial_scale)))
            if initial == 0 and not settings.allow_zero_initial_scale:
                initial = 1
            return cls(
                klass=klass,
                metric=metric,
                target=float(ann.get("target", default_target)),
                target_utilization=float(
                    ann.get("target-utilization-percentage", settings.container_concurrency_target_percentage)
                )
                / 100.0,
                min_scale=max(0, min_scale),
                max_scale=max(0, max_scale),
                initial_scale=max(0, initial),
                activation_scale=max(1, int(ann.get("activation-scale", "1"))),
                stable_window=parse_duration(ann["window"]) if "window" in ann else settings.stable_window,
                panic_window_percentage=float(
                    ann.get("panic-window-percentage", settings.panic_window_percentage)
                ),
                panic_threshold=float(
                    ann.get("panic-threshold-percentage", settings.panic_threshold_percentage)
                )
                / 100.0,
                scale_to_zero_grace_period=settings.scale_to_zero_grace_period,
                scale_to_zero_retention=parse_duration(
                    ann.get(
                        "scale-to-zero-pod-retention-period", str(settings.scale_to_zero_pod_retention_period)
                    )
                ),
                scale_down_delay=parse_duration(ann.get("scale-down-delay", "0")),
                max_scale_up_rate=settings.max_scale_up_rate,
                max_scale_down_rate=settings.max_scale_down_rate,
                enable_scale_to_zero=settings.enable_scale_to_zero,
                container_concurrency=container_concurrency,
            )
        except ValueError as err:
            raise ValueError(f"invalid {ANNOTATION_PREFIX}* annotation: {err}") from err

    @property
    def lower_bound(self) -> int:
        """The fewest instances allowed: ``min-scale``, or 1 when scale to zero is disabled (or HPA)."""
        if not self.enable_scale_to_zero or self.klass == "hpa":
            return max(1, self.min_scale)
        return self.min_scale


_CAMEL_KEYS = {
    "minScale": "min-scale",
    "maxScale": "max-scale",
    "initialScale": "initial-scale",
    "targetUtilizationPercentage": "target-utilization-percentage",
    "panicWindowPercentage": "panic-window-percentage",
    "panicThresholdPercentage": "panic-threshold-percentage",
    "scaleDownDelay": "scale-down-delay",
    "scaleToZeroPodRetentionPeriod": "scale-to-zero-pod-retention-period",
}


def _autoscaling_annotations(annotations: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in annotations.items():
        if key.startswith(ANNOTATION_PREFIX):
            name = key[len(ANNOTATION_PREFIX) :]
            out.setdefault(_CAMEL_KEYS.get(name, name), str(value))
    # kebab-case wins over camelCase when both are present
    for key, value in annotations.items():
        if key.startswith(ANNOTATION_PREFIX) and key[len(ANNOTATION_PREFIX) :] not in _CAMEL_KEYS:
            out[key[len(ANNOTATION_PREFIX) :]] = str(value)
    return out


@dataclass(frozen=True)
class ScalerState:
    """What the decider remembers between decisions (Knative keeps it in the decider object)."""

    panic_since: float | None = None
    """When panic mode was last (re)entered; ``None`` outside panic."""
    max_panic_instances: int = 0
    """The highest count decided during this panic (panic never scales down)."""
    last_active: float = 0.0
    """The last time the revision had traffic (or was created)."""
    last_scale_up_want: float = 0.0
    """For ``scale-down-delay``: the last time a higher count was wanted."""
    recent_max: int = 0
    """The highest count wanted within ``scale-down-delay``."""


@dataclass(frozen=True)
class ScaleDecision:
    """The outcome of one decision."""

    desired: int
    state: ScalerState
    reason: str
    """A short human-readable account, for logs and the revision's status."""
    panic: bool = False


class ScaleDecider:
    """Knative's KPA decision, rewritten as a pure function of its inputs."""

    def decide(
        self,
        window: Sequence[MetricSample],
        spec: AutoscalingSpec,
        state: ScalerState,
        *,
        ready: int,
        current: int,
        pending: int,
        now: float,
    ) -> ScaleDecision:
        """Decide how many instances the revision should have.

        Args:
            window: samples, oldest first; those older than the stable window are ignored.
            spec: the revision's autoscaling spec.
            state: the previous decision's state (``ScalerState(last_active=created)`` at first).
            ready: instances ready to serve now.
            current: instances wanted by the previous decision (running or starting).
            pending: requests waiting at the activator right now (scale from zero needs no sample).
            now: the current time, in the same clock as the samples.

        Returns:
            The desired count, the new state and the reason.
        """
        if spec.klass == "hpa":
            return self._decide_hpa(window, spec, state, ready=ready, current=current, now=now)
        stable = [s for s in window if s.time > now - spec.stable_window]
        panic_samples = [s for s in stable if s.time > now - spec.panic_window]
        key = "concurrency" if spec.metric == "concurrency" else "rps"
        stable_value = _average(stable, key)
        panic_value = _average(panic_samples, key)
        per_instance = spec.target_per_instance

        last_active = state.last_active
        if pending > 0 or any(getattr(s, key) > 0 for s in panic_samples[-1:]):
            last_active = now
        elif stable and any(getattr(s, key) > 0 for s in stable):
            last_active = max(last_active, max(s.time for s in stable if getattr(s, key) > 0))

        want_stable = math.ceil(stable_value / per_instance - 1e-9)
        want_panic = math.ceil(panic_value / per_instance - 1e-9)
        base = max(1, ready)
        up_limit = math.ceil(spec.max_scale_up_rate * base)
        down_limit = math.floor(base / spec.max_scale_down_rate)
        want_stable = min(max(want_stable, down_limit if ready else 0), up_limit)
        want_panic = min(max(want_panic, down_limit if ready else 0), up_limit)

        over_threshold = ready > 0 and panic_value / (per_instance * base) >= spec.panic_threshold
        panic_since = state.panic_since
        max_panic = state.max_panic_instances
        if over_threshold:
            panic_since = now
        elif panic_since is not None and now >= panic_since + spec.stable_window:
            panic_since, max_panic = None, 0

        if panic_since is not None:
            desired = max(want_panic, max_panic, current)
            max_panic = desired
            reason = f"panic: {key} {panic_value:.2f} over {spec.panic_window:g}s -> {desired}"
        else:
            desired = want_stable
            reason = f"stable: {key} {stable_value:.2f} over {spec.stable_window:g}s -> {desired}"

        recent_max, last_up = state.recent_max, state.last_scale_up_want
        if spec.scale_down_delay > 0:
            if desired >= recent_max or now >= last_up + spec.scale_down_delay:
                recent_max, last_up = desired, now
            else:
                desired = recent_max
                reason += f" (held by scale-down-delay {spec.scale_down_delay:g}s)"

        if pending > 0:
            desired = max(desired, spec.activation_scale)
        if desired == 0 and current > 0:
            idle_for = now - last_active
            linger = spec.stable_window + max(spec.scale_to_zero_grace_period, spec.scale_to_zero_retention)
            if idle_for < linger:
                desired = 1
                reason = f"idle {idle_for:.1f}s of {linger:g}s before scale to zero"
            else:
                reason = f"idle {idle_for:.1f}s: scale to zero"

        lower = spec.lower_bound
        desired = max(desired, lower)
        if spec.max_scale > 0:
            desired = min(desired, spec.max_scale)
        new_state = replace(
            state,
            panic_since=panic_since,
            max_panic_instances=max_panic,
            last_active=last_active,
            recent_max=recent_max,
            last_scale_up_want=last_up,
        )
        return ScaleDecision(desired=desired, state=new_state, reason=reason, panic=panic_since is not None)

    def _decide_hpa(
        self,
        window: Sequence[MetricSample],
        spec: AutoscalingSpec,
        state: ScalerState,
        *,
        ready: int,
        current: int,
        now: float,
    ) -> ScaleDecision:
        """Kubernetes' HPA rule: ``ceil(ready x value / target)``, a 10% tolerance, never below one,
        and scale-down held to the highest recommendation within the stable window (HPA's downscale
        stabilization)."""
        value = getattr(window[-1], spec.metric) if window else 0.0
        ratio = value / spec.target if spec.target > 0 else 0.0
        if ready == 0:
            desired = max(1, current)
        elif abs(ratio - 1.0) <= 0.1:
            desired = ready
        else:
            desired = math.ceil(ready * ratio - 1e-9)
        desired = max(desired, spec.lower_bound)
        if spec.max_scale > 0:
            desired = min(desired, spec.max_scale)
        recent_max, since = state.recent_max, state.last_scale_up_want
        if desired >= recent_max or now >= since + spec.stable_window:
            recent_max, since = desired, now
        else:
            desired = recent_max
        reason = f"hpa: {spec.metric} {value:.1f} / target {spec.target:g} with {ready} ready -> {desired}"
        new_state = replace(state, recent_max=recent_max, last_scale_up_want=since, last_active=now)
        return ScaleDecision(desired=desired, state=new_state, reason=reason)


def _average(samples: Sequence[MetricSample], key: str) -> float:
    if not samples:
        return 0.0
    return float(sum(getattr(s, key) for s in samples)) / len(samples)
