"""The serving engine's settings: Knative's global autoscaler and activator defaults, made configurable.

One pydantic-settings class, env prefix ``ZEROSERVE_ENGINE_``. Knative keeps these in the
``config-autoscaler`` and ``config-defaults`` ConfigMaps; locally they are process settings, and
tests shrink the windows instead of sleeping through a minute.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["EngineSettings"]


class EngineSettings(BaseSettings):
    """Global engine configuration (Knative's ``config-autoscaler`` / ``config-defaults`` equivalents)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_ENGINE_", extra="ignore")

    # --- autoscaler (config-autoscaler) ---
    container_concurrency_target_default: float = 100.0
    """Soft concurrency target per instance when a revision sets no ``autoscaling.knative.dev/target``."""
    requests_per_second_target_default: float = 200.0
    """Target requests per second per instance for the ``rps`` metric."""
    container_concurrency_target_percentage: float = 70.0
    """``target-utilization-percentage`` default: the share of the target the autoscaler aims for."""
    stable_window: float = 60.0
    """Seconds over which the stable-mode average is taken (``window`` annotation overrides)."""
    panic_window_percentage: float = 10.0
    """Panic window as a percentage of the stable window."""
    panic_threshold_percentage: float = 200.0
    """Demand over the panic window, relative to current capacity, that enters panic mode."""
    max_scale_up_rate: float = 1000.0
    """At most this many times the ready instances in one decision."""
    max_scale_down_rate: float = 2.0
    """At least ready instances divided by this in one decision."""
    scale_to_zero_grace_period: float = 30.0
    """Seconds after the stable window has seen no traffic before the last instance goes."""
    scale_to_zero_pod_retention_period: float = 0.0
    """Minimum time the last instance lingers after its last request."""
    enable_scale_to_zero: bool = True
    """Allow revisions with ``min-scale`` 0 to scale to zero."""
    initial_scale: int = 1
    """Instances a new revision starts with (``initial-scale`` annotation overrides)."""
    allow_zero_initial_scale: bool = False
    """Whether ``initial-scale: 0`` is honoured."""
    max_scale_limit: int = 0
    """Upper bound on any revision's ``max-scale`` (0: none)."""
    tick_interval: float = 2.0
    """Seconds between autoscaler decisions."""
    metric_bucket: float = 1.0
    """Seconds of traffic aggregated into one autoscaler sample."""

    # --- activator / revisions (config-defaults) ---
    queue_depth: int = 10000
    """Requests the activator holds per revision while no instance has capacity."""
    revision_timeout_seconds: float = 300.0
    """Default ``timeoutSeconds`` of a revision."""
    max_revision_timeout_seconds: float = 600.0
    """Cap on a revision's ``timeoutSeconds``."""
    egress: bool = False
    """Forward plain-HTTP requests for hosts outside the platform. Instances have the gateway as their
    ``HTTP_PROXY``; with this on they reach external HTTP services through it (only they can: the proxy
    URL they get carries credentials the gateway checks). Off, the gateway is no proxy at all."""
    max_request_body_bytes: int = Field(default=100 * 2**20, ge=1)
    """Largest request body the gateway forwards; larger ones are answered 413. Bodies are streamed to
    the instance as they arrive, not held whole."""
    activator_deadline: float = 300.0
    """Longest a request waits in the activator's queue for an instance (also bounded by the timeout)."""

    # --- instances ---
    use_zygote: bool = True
    """Fork instances of our own images from a pre-warmed interpreter instead of starting Python afresh."""
    zygote_preload: list[str] = Field(
        default_factory=lambda: [
            "zeroserve.cli",
            "zeroserve.servers.cli",
            "zeroserve.servers.model_server",
            "zeroserve.servers.rest.app",
            "zeroserve.servers.grpc.server",
            "zeroserve.servers.runtimes.sklearn",
            "sklearn.ensemble",
            "sklearn.linear_model",
            "sklearn.svm",
            "sklearn.tree",
            "joblib",
            "uvicorn",
            "uvicorn.protocols.http.httptools_impl",
            "uvicorn.protocols.websockets.auto",
            "uvicorn.lifespan.on",
            "httptools",
            "uvloop",
        ]
    )
    """Modules the zygote imports before forking; names that fail to import are skipped."""
    instance_grpc_port: int = 0
    """gRPC port passed to our own servers: 0 picks a free one, -1 disables gRPC."""
    ready_timeout: float = 600.0
    """Seconds an instance may take to become ready (Knative's ``progress-deadline``)."""
    probe_interval: float = 0.005
    """Seconds between readiness checks of a starting instance."""
    restart_backoff_initial: float = 1.0
    """First delay before restarting a crashed instance; doubles per consecutive crash."""
    restart_backoff_max: float = 60.0
    """Longest delay between restarts."""
    restart_backoff_reset: float = 60.0
    """An instance that ran this long before crashing restarts with the initial delay."""
    log_max_bytes: int = 20 * 2**20
    """An instance log larger than this when its instance (re)starts is rotated to ``<name>.1``."""
    stop_grace_period: float = 5.0
    """Seconds between SIGTERM and SIGKILL when an instance is stopped."""
    gpus: list[str] | None = None
    """GPU ids handed out through ``CUDA_VISIBLE_DEVICES``; ``None`` discovers them with ``nvidia-smi``."""
    images_file: Path | None = None
    """An extra image table (YAML, same shape as the packaged ``images.yaml``) merged over the default."""
    python: str = ""
    """Interpreter for instances not forked from the zygote; empty means this one."""
    container_engine: str = ""
    """Runs images the image table does not know: ``""`` uses podman, else docker, when one works;
    ``none`` turns containers off; else an engine's name or path."""
    container_network: Literal["bridge", "host"] = "bridge"
    """``bridge``: a container's port is published on loopback (``PORT`` is its container port);
    ``host``: it shares this machine's network, listens on ``PORT`` and reaches the gateway."""
    memory_check_interval: float = 0.5
    """Seconds between checks of an instance's resident memory against its ``limits.memory``."""
    cgroup_root: Path | None = None
    """The cgroup folder under which process instances get their CPU-limited groups; ``None``: the
    engine's own cgroup (v2 with the cpu controller delegated, else v1's ``cpu`` hierarchy)."""
    cpu_throttle: bool = True
    """Where no cgroup can be used, hold a process instance to its ``limits.cpu`` with a
    SIGSTOP/SIGCONT duty cycle; off, such a limit is not enforced (the engine's log says why)."""
    poll_interval: float = 1.0
    """Seconds between full resyncs of the engine's objects with the API server."""
