"""Settings of the payload logger: where events go, what is logged, and how hard delivery tries.

One :class:`LoggerConfig` describes one logged component. Model servers build it from their
``--log-*`` flags (see :func:`add_logger_arguments` / :func:`config_from_args`, the flags of
``docs/contracts.md``) and hand it to :class:`zeroserve.logger.middleware.PayloadLoggerMiddleware`;
the ``zeroserve logger-agent`` sidecar uses the same flags.
"""

from __future__ import annotations

import argparse
import os
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "BROKER_TOKEN_ENV",
    "DEFAULT_SOURCE_URI",
    "LogMode",
    "LoggerConfig",
    "add_logger_arguments",
    "config_from_args",
]

DEFAULT_SOURCE_URI = "http://localhost:9081/"
"""KServe's agent falls back to this ``ce-source`` when the pod name is unknown; so do we."""
BROKER_TOKEN_ENV = "ZEROSERVE_BROKER_TOKEN"
"""The environment variable holding the broker ingress's credential (``docs/contracts.md``)."""


def _token_from_env() -> str | None:
    return os.environ.get(BROKER_TOKEN_ENV) or None


class LogMode(StrEnum):
    """Which half of an inference is logged (KServe's ``logger.mode``)."""

    ALL = "all"
    REQUEST = "request"
    RESPONSE = "response"

    @property
    def logs_request(self) -> bool:
        return self in (LogMode.ALL, LogMode.REQUEST)

    @property
    def logs_response(self) -> bool:
        return self in (LogMode.ALL, LogMode.RESPONSE)


class LoggerConfig(BaseModel):
    """Everything the payload logger needs, for one logged component."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: str
    """Sink the CloudEvents are POSTed to (a Broker's ingress or any CloudEvents receiver)."""
    mode: LogMode = LogMode.ALL
    """``all`` logs requests and responses, ``request`` / ``response`` only one of them."""
    inference_service: str = ""
    """Value of the ``inferenceservicename`` extension attribute."""
    namespace: str = ""
    """Value of the ``namespace`` extension attribute."""
    component: str = "predictor"
    """Value of the ``component`` extension attribute: ``predictor``, ``transformer`` or ``explainer``."""
    endpoint: str = ""
    """Value of the ``endpoint`` extension attribute (KServe leaves it empty nowadays)."""
    metadata_headers: tuple[str, ...] = ()
    """Request headers copied (as ``{"Header-Name": ["value"]}`` JSON) into the ``metadata`` extension."""
    source_uri: str = DEFAULT_SOURCE_URI
    """The ``ce-source`` attribute of every event."""
    log_paths_prefixes: tuple[str, ...] = ()
    """When non-empty, only POSTs whose path starts with one of these are logged; else every POST."""
    queue_size: int = Field(default=100_000, ge=1)
    """Most events waiting to be sent. When full, new events are dropped and counted (never blocking).
    The default holds a five-minute outage at 160 events/s of small payloads; ``queue_max_bytes``
    bounds the memory that takes whatever the payloads' size."""
    queue_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    """Most payload bytes waiting to be sent; bounds memory when payloads are large."""
    max_payload_bytes: int = Field(default=8 * 1024 * 1024, ge=0)
    """A body larger than this is not copied; its event is dropped and counted as ``too_large``."""
    workers: int = Field(default=8, ge=1)
    """Concurrent senders sharing one HTTP connection pool."""
    batch_size: int = Field(default=512, ge=1)
    """Most events one sender takes from the queue and pipelines on one connection (1: no pipelining)."""
    batch_linger: float = Field(default=0.05, ge=0)
    """Seconds a sender waits for more events before sending a short batch (0: send at once)."""
    max_age: float = Field(default=600.0, gt=0)
    """Seconds an event may wait (queued or retried) for delivery; older ones are dropped (``max_age``)."""
    max_attempts: int | None = Field(default=None, ge=1)
    """When set, also give up on an event after this many tries (``retries_exhausted``); by default
    only its age ends the retries."""
    backoff_initial: float = Field(default=0.1, ge=0)
    """Delay in seconds before the first retry; doubled on each further retry."""
    backoff_max: float = Field(default=5.0, ge=0)
    """Upper bound of one retry delay, in seconds."""
    send_timeout: float = Field(default=5.0, gt=0)
    """Timeout of one HTTP send, in seconds."""
    shutdown_timeout: float = Field(default=10.0, ge=0)
    """How long shutdown waits for queued events to be sent before dropping the rest."""
    proxy: str | None = None
    """HTTP proxy for the sink; ``None`` honours ``HTTP_PROXY`` / ``NO_PROXY`` from the environment."""
    broker_token: str | None = Field(default_factory=_token_from_env, repr=False)
    """Sent as ``Authorization: Bearer <token>`` with every event; defaults to ``$ZEROSERVE_BROKER_TOKEN``."""

    @field_validator("metadata_headers", "log_paths_prefixes", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


def add_logger_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the payload-logging flags of ``docs/contracts.md`` to a command's parser.

    Args:
        parser: the parser to extend; kserve's underscore spellings are accepted too.
    """
    group = parser.add_argument_group("payload logging")
    group.add_argument("--log-url", "--log_url", dest="log_url", default=None, help="CloudEvents sink URL")
    group.add_argument(
        "--log-mode", "--log_mode", dest="log_mode", default="all", choices=[m.value for m in LogMode]
    )
    group.add_argument(
        "--log-metadata-headers",
        "--log_metadata_headers",
        dest="log_metadata_headers",
        default="",
        help="comma-separated request headers copied into the 'metadata' attribute",
    )
    group.add_argument("--inference-service", "--inference_service", dest="inference_service", default="")
    group.add_argument("--namespace", dest="namespace", default="")
    group.add_argument("--component", dest="component", default="predictor")
    group.add_argument("--endpoint", dest="endpoint", default="")
    group.add_argument("--source-uri", "--source_uri", dest="source_uri", default=DEFAULT_SOURCE_URI)
    group.add_argument("--log-queue-size", dest="log_queue_size", type=int, default=100_000)
    group.add_argument("--log-workers", dest="log_workers", type=int, default=8)
    group.add_argument(
        "--log-max-age",
        dest="log_max_age",
        type=float,
        default=600.0,
        help="seconds an event is retried before it is dropped (default 600)",
    )
    group.add_argument(
        "--log-max-attempts",
        dest="log_max_attempts",
        type=int,
        default=None,
        help="also give up on an event after this many tries (default: no limit but its age)",
    )


def config_from_args(args: argparse.Namespace) -> LoggerConfig | None:
    """Build the logger's config from flags added by :func:`add_logger_arguments`.

    Args:
        args: the parsed namespace.

    Returns:
        The config, or ``None`` when ``--log-url`` was not given (logging off).
    """
    if not args.log_url:
        return None
    return LoggerConfig(
        url=args.log_url,
        mode=LogMode(args.log_mode),
        inference_service=args.inference_service,
        namespace=args.namespace,
        component=args.component,
        endpoint=args.endpoint,
        metadata_headers=args.log_metadata_headers,
        source_uri=args.source_uri,
        queue_size=args.log_queue_size,
        workers=args.log_workers,
        max_age=args.log_max_age,
        max_attempts=args.log_max_attempts,
    )
