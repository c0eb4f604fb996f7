"""The model server's settings: one pydantic-settings class, environment prefix ``ZEROSERVE_``.

The CLI (``zeroserve serve``) builds a :class:`ServerSettings` from its flags; tests build one
directly. Nothing here reads the environment at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.batching.policy import BatchConfig

__all__ = ["LogMode", "ServerSettings"]

LogMode = Literal["all", "request", "response"]


class ServerSettings(BaseSettings):
    """Options of one model server process (see docs/contracts.md)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_", extra="forbid", populate_by_name=True)

    host: str = "0.0.0.0"
    """Address the HTTP and gRPC servers both bind (``127.0.0.1`` for loopback only)."""

    http_port: int = Field(
        default=8080, validation_alias=AliasChoices("http_port", "ZEROSERVE_HTTP_PORT", "PORT")
    )
    """HTTP port; ``ZEROSERVE_HTTP_PORT``, else ``PORT`` (Knative's contract), else 8080. 0 = free."""

    grpc_port: int = 8081
    """gRPC port (``ZEROSERVE_GRPC_PORT``); 0 picks a free port, -1 disables gRPC."""

    workers: int = Field(default=1, ge=1)
    """HTTP worker processes sharing one listening socket (gRPC runs in the main process)."""

    ready_file: Path | None = None
    """Once every model is loaded and every port bound, write ``{"pid", "http_port", "grpc_port"}`` here."""

    max_request_size: int = Field(default=64 * 1024 * 1024, ge=1)
    """Largest accepted request body in bytes; larger answers 413, refused from ``Content-Length``
    before any of it is read, else as soon as the streamed body passes it."""

    max_json_depth: int = Field(default=64, ge=1, le=1024)
    """Deepest nesting of arrays and objects in a JSON request body; deeper answers 400."""

    request_read_timeout: float = Field(default=60.0, gt=0)
    """Seconds a request body may take to arrive; a slow or half-sent body answers 408."""

    enable_model_repository: bool = False
    """Serve the model repository API (``/v2/repository/...`` load, unload, index; the gRPC
    ``RepositoryModelLoad`` / ``Unload``). Off by default: anyone who reaches the port could
    otherwise unload the model (KServe's ``--enable_model_repository``)."""

    grpc_max_message_length: int = Field(default=8 * 1024 * 1024, ge=1)
    """Largest gRPC message sent or received (KServe's default: 8 MiB)."""

    grpc_max_threads: int = Field(default=4, ge=1)
    """Threads of the gRPC server's executor."""

    timeout_keep_alive: int = 65
    """Seconds an idle HTTP keep-alive connection stays open (KServe's default)."""

    graceful_shutdown_seconds: float = 30.0
    """On SIGTERM/SIGINT: how long in-flight requests may finish before the server exits."""

    freeze_gc_after_load: bool = True
    """``gc.freeze()`` once models are loaded, so full collections skip them (turn off when embedding)."""

    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    """The event loop. ``asyncio`` (the default) shares a saturated process fairly between connections:
    with 64 clients on one busy core its p99 stayed near its median (~20 ms) where uvloop's reached
    ~200 ms, at the same throughput (``hack/bench/dataplane/RESULTS.md``). ``uvloop`` may cost a little
    less CPU per request in a process that is not saturated."""

    access_log: bool = False
    """Log one structured line per request (costs throughput; errors are always logged)."""

    log_level: str = "INFO"
    """Level of the structured JSON logs on stderr."""

    configure_logging: bool = True
    """Install the JSON log handler on the root logger when the server starts."""

    enable_docs_url: bool = False
    """Accepted for KServe compatibility; this server has no OpenAPI UI."""

    models_dir: Path | None = None
    """Model repository root: ``POST /v2/repository/models/<m>/load`` builds ``<models_dir>/<m>``
    (with ``enable_model_repository``)."""

    model_config_file: Path | None = None
    """A KServe model config (``models.json`` of the ConfigMap ``modelconfig-<isvc>-0``): the server
    serves exactly its TrainedModels, fetched into ``models_dir`` (multi-model serving)."""

    memory_budget: int | None = Field(default=None, ge=1)
    """Bytes the served TrainedModels' declared memory may add up to; loading past it unloads the
    least recently used."""

    log_url: str | None = None
    """Payload logger sink (``--log-url``); when set the app is wrapped with the payload logger."""

    log_mode: LogMode = "all"
    """What the payload logger sends: ``all``, ``request`` or ``response``."""

    log_metadata_headers: list[str] = Field(default_factory=list)
    """Request headers copied into the payload logger's ``metadata`` attribute."""

    inference_service: str = ""
    """InferenceService name, for the payload logger's CloudEvent attributes."""

    namespace: str = ""
    """Namespace, for the payload logger's CloudEvent attributes."""

    component: str = "predictor"
    """``predictor``, ``transformer`` or ``explainer``, for the payload logger."""

    endpoint: str = ""
    """Endpoint label, for the payload logger."""

    batcher_enabled: bool = False
    """Batch concurrent requests of models that accept batches (``ZEROSERVE_BATCHER_ENABLED``, set
    by the controller from ``spec.<component>.batcher``; ``--enable_batching``)."""

    batcher_max_batch_size: int = Field(default=32, ge=1)
    """Rows in one batched ``predict`` at most (``ZEROSERVE_BATCHER_MAX_BATCH_SIZE``,
    ``--max_batch_size``)."""

    batcher_max_latency_ms: float = Field(default=5000.0, ge=0)
    """Milliseconds the oldest request waits for its batch to fill at most
    (``ZEROSERVE_BATCHER_MAX_LATENCY_MS``, ``--max_latency_ms``)."""

    batcher_timeout_seconds: float | None = Field(default=None, gt=0)
    """Seconds a batched request waits for its answer before 504 (``ZEROSERVE_BATCHER_TIMEOUT_SECONDS``,
    ``--batcher_timeout``, KServe's ``batcher.timeout``); unset: no limit."""

    def batch_config(self) -> BatchConfig | None:
        """The server-wide batching settings, or ``None`` when batching is off."""
        if not self.batcher_enabled:
            return None
        return BatchConfig(
            max_batch_size=self.batcher_max_batch_size,
            max_latency_ms=self.batcher_max_latency_ms,
            timeout_s=self.batcher_timeout_seconds,
        )
