"""OpenTelemetry tracing for every zeroserve process: off unless an OTLP endpoint is configured.

:func:`configure` reads OTel's own environment (``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, else
``OTEL_EXPORTER_OTLP_ENDPOINT`` + ``/v1/traces``; ``OTEL_SERVICE_NAME``; ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG``; ``OTEL_BSP_*``; ``OTEL_SDK_DISABLED``) or an explicit endpoint, and only
then imports ``opentelemetry-sdk`` and its OTLP/HTTP exporter. The provider is this module's own (the
global one is left alone), spans go out in batches over OTLP/HTTP protobuf.

Call sites use :func:`span` (a context manager) and :func:`inject` / :func:`extract` for W3C
``traceparent`` / ``tracestate``. With tracing off :func:`span` returns one shared no-op context
manager after a single ``is None`` check, so the data plane pays nothing measurable.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.propagators.textmap import Getter
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

__all__ = [
    "NOOP",
    "configure",
    "current_trace_id",
    "enabled",
    "extract",
    "flush",
    "inject",
    "on",
    "set_attributes",
    "shutdown",
    "span",
    "traces_endpoint",
]

_log = logging.getLogger(__name__)

on = False
"""Whether tracing is on: a plain module attribute, the cheapest check for a hot path (``tracing.on``)."""
_tracer: Tracer | None = None
_provider: TracerProvider | None = None
_kinds: dict[str, Any] = {}
_propagator: Any = None
_current_span: Any = None


def traces_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """The OTLP/HTTP traces URL that the environment names, or ``None`` (tracing off).

    Args:
        env: the environment (``os.environ`` when omitted).

    Returns:
        ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` as given, else ``OTEL_EXPORTER_OTLP_ENDPOINT`` with
        ``/v1/traces`` appended; ``None`` when neither is set or ``OTEL_SDK_DISABLED`` is true.
    """
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    traces = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if traces:
        return traces
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if base:
        return base.rstrip("/") + "/v1/traces"
    return None


def configure(
    default_service: str = "zeroserve",
    *,
    endpoint: str | None = None,
    env: Mapping[str, str] | None = None,
) -> bool:
    """Turn tracing on when an endpoint is given or configured; replaces an earlier configuration.

    Args:
        default_service: ``service.name`` when neither ``OTEL_SERVICE_NAME`` nor Knative's
            ``K_SERVICE`` is set.
        endpoint: an OTLP/HTTP traces URL (``http://host:4318/v1/traces``) that wins over the
            environment.
        env: the environment (``os.environ`` when omitted).

    Returns:
        Whether tracing is on.
    """
    global _tracer, _provider, _propagator, _current_span, on
    env = os.environ if env is None else env
    url = endpoint or traces_endpoint(env)
    shutdown()
    if not url:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, get_current_span
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    service = env.get("OTEL_SERVICE_NAME") or env.get("K_SERVICE") or default_service
    attributes: dict[str, Any] = {"service.name": service}
    if env.get("K_REVISION"):
        attributes["zeroserve.revision"] = env["K_REVISION"]
    # the sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (parentbased_always_on)
    provider = TracerProvider(resource=Resource.create(attributes), shutdown_on_exit=True)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url, timeout=5)))
    _kinds.update({kind.name.lower(): kind for kind in SpanKind})
    _propagator = TraceContextTextMapPropagator()
    _current_span = get_current_span
    _provider = provider
    _tracer = provider.get_tracer("zeroserve")
    on = True
    _log.info("tracing on: spans of %s go to %s", service, url)
    return True


def shutdown() -> None:
    """Flush the spans not yet sent and turn tracing off (a no-op when it is off)."""
    global _tracer, _provider, on
    provider, _provider, _tracer, on = _provider, None, None, False
    if provider is not None:
        provider.shutdown()


def flush(timeout_s: float = 10.0) -> bool:
    """Send the spans not yet sent now (blocking: call it off the event loop that serves a receiver).

    Returns:
        Whether everything was sent in time (``True`` when tracing is off).
    """
    provider = _provider
    return True if provider is None else provider.force_flush(int(timeout_s * 1000))


def enabled() -> bool:
    """Returns: whether tracing is on in this process."""
    return _tracer is not None


class _Getter:  # duck-types opentelemetry.propagators.textmap.Getter (imported only when on)
    """Reads a carrier that is a mapping or ASGI's list of ``(bytes, bytes)`` header pairs."""

    def get(self, carrier: Any, key: str) -> list[str] | None:
        if isinstance(carrier, Mapping):
            value = carrier.get(key)
            return None if value is None else [str(value)]
        wanted = key.encode()
        for name, value in carrier:
            if name.lower() == wanted:
                return [value.decode("latin-1")]
        return None

    def keys(self, carrier: Any) -> list[str]:
        if isinstance(carrier, Mapping):
            return [str(k) for k in carrier]
        return [name.decode("latin-1") for name, _ in carrier]


_GETTER = _Getter()


def extract(headers: Mapping[str, str] | Iterable[tuple[bytes, bytes]]) -> Context | None:
    """The remote parent named by W3C ``traceparent`` / ``tracestate`` headers.

    Args:
        headers: lower-case header names to values, or ASGI's header pairs.

    Returns:
        An OTel context to pass as ``parent`` to :func:`span`; ``None`` when tracing is off.
    """
    if _tracer is None:
        return None
    return _propagator.extract(headers, getter=cast("Getter[Any]", _GETTER))  # type: ignore[no-any-return]


def inject(headers: MutableMapping[str, str]) -> None:
    """Add ``traceparent`` (and ``tracestate``) of the current span to outgoing headers; no-op when off."""
    if _tracer is None:
        return
    _propagator.inject(headers)


def current_trace_id() -> str | None:
    """Returns: the current span's trace id as 32 hex digits, or ``None`` (off, or no span)."""
    if _tracer is None:
        return None
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def set_attributes(attributes: Mapping[str, Any]) -> None:
    """Set attributes on the current span (``zeroserve.revision`` once it is chosen); no-op when off."""
    if _tracer is None:
        return
    from opentelemetry import trace

    trace.get_current_span().set_attributes(dict(attributes))


NOOP: contextlib.nullcontext[None] = contextlib.nullcontext()
"""The shared no-op context manager :func:`span` returns when tracing is off."""


def span(
    name: str,
    *,
    kind: str = "internal",
    attributes: Mapping[str, Any] | None = None,
    parent: Context | None = None,
) -> contextlib.AbstractContextManager[Span | None]:
    """A span around a block, child of the current one (or of ``parent``); a shared no-op when off.

    An exception leaving the block is recorded on the span and sets its status to error.

    Args:
        name: the span's name (``POST /v2/models/{model}/infer``, ``predict``, ``gateway.route``).
        kind: ``internal``, ``server``, ``client``, ``producer`` or ``consumer``.
        attributes: OTel semantic-convention attributes and ours (``zeroserve.model``...).
        parent: a remote parent from :func:`extract`.

    Returns:
        A context manager yielding the span (``None`` when tracing is off).
    """
    tracer = _tracer
    if tracer is None:
        return NOOP
    if parent is None:  # under a span the sampler dropped, a child would be dropped too: skip making it
        current = _current_span()
        if not current.is_recording() and current.get_span_context().is_valid:
            return NOOP
    return tracer.start_as_current_span(name, context=parent, kind=_kinds[kind], attributes=attributes)
