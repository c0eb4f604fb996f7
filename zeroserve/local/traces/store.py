"""The spans an OTLP/HTTP receiver was sent, decoded from protobuf or OTLP JSON, kept per trace.

Only the last ``max_traces`` traces are kept (the least recently touched goes first), so a laptop's
collector stays small however long it runs.
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

__all__ = ["BadPayload", "SpanRecord", "TraceStore", "decode_json", "decode_protobuf"]

_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_STATUS = {0: "unset", 1: "ok", 2: "error"}


class BadPayload(ValueError):
    """The request body is not an OTLP ``ExportTraceServiceRequest``; the message says why."""


@dataclass
class SpanRecord:
    """One span as the collector keeps it (ids as lower-case hex, times in Unix nanoseconds)."""

    trace_id: str
    span_id: str
    parent_id: str
    name: str
    service: str
    kind: str
    start_ns: int
    end_ns: int
    status: str = "unset"
    attributes: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Returns: the record as a JSON-ready dict."""
        return asdict(self)


def _any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` (protobuf message or JSON dict) as a plain value."""
    if isinstance(value, dict):
        for key in ("stringValue", "boolValue", "doubleValue"):
            if key in value:
                return value[key]
        if "intValue" in value:
            return int(value["intValue"])
        if "arrayValue" in value:
            return [_any_value(v) for v in value["arrayValue"].get("values", [])]
        return None
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_any_value(v) for v in value.array_value.values]
    if which in ("string_value", "bool_value", "int_value", "double_value"):
        return getattr(value, which)
    return None


def decode_protobuf(body: bytes) -> list[SpanRecord]:
    """Decode an OTLP/HTTP protobuf ``ExportTraceServiceRequest``.

    Raises:
        BadPayload: the body does not parse.
    """
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as err:
        raise BadPayload(f"the body is not a protobuf ExportTraceServiceRequest: {err}") from None
    spans: list[SpanRecord] = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _any_value(a.value) for a in resource_spans.resource.attributes}
        service = str(resource.get("service.name", "unknown"))
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append(
                    SpanRecord(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_id=s.parent_span_id.hex(),
                        name=s.name,
                        service=service,
                        kind=_KINDS.get(s.kind, "unspecified"),
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                        status=_STATUS.get(s.status.code, "unset"),
                        attributes={a.key: _any_value(a.value) for a in s.attributes},
                    )
                )
    return spans


def _json_id(value: Any, where: str, size: int, optional: bool = False) -> str:
    """An OTLP JSON id of ``size`` bytes: hex (OTLP's JSON), or base64 (protobuf's JSON mapping)."""
    text = str(value or "")
    if not text and optional:
        return ""
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raise BadPayload(f"{where} is neither hex nor base64: {text!r}") from None
    if len(raw) != size:
        raise BadPayload(f"{where} must be {size} bytes ({2 * size} hex digits), got {text!r}")
    return raw.hex()


def decode_json(body: bytes) -> list[SpanRecord]:
    """Decode an OTLP/HTTP JSON ``ExportTraceServiceRequest`` (``resourceSpans`` ...).

    Raises:
        BadPayload: the body is not JSON of that shape; the message names the field.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise BadPayload(f"the body is not JSON: {err}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("resourceSpans", []), list):
        raise BadPayload("the body must be a JSON object with a 'resourceSpans' list")
    spans: list[SpanRecord] = []
    try:
        for i, resource_spans in enumerate(doc.get("resourceSpans", [])):
            attrs = (resource_spans.get("resource") or {}).get("attributes") or []
            resource = {a["key"]: _any_value(a.get("value") or {}) for a in attrs}
            service = str(resource.get("service.name", "unknown"))
            for j, scope_spans in enumerate(resource_spans.get("scopeSpans") or []):
                for k, s in enumerate(scope_spans.get("spans") or []):
                    where = f"resourceSpans[{i}].scopeSpans[{j}].spans[{k}]"
                    kind = s.get("kind", 0)
                    status = (s.get("status") or {}).get("code", 0)
                    spans.append(
                        SpanRecord(
                            trace_id=_json_id(s.get("traceId"), f"{where}.traceId", 16),
                            span_id=_json_id(s.get("spanId"), f"{where}.spanId", 8),
                            parent_id=_json_id(s.get("parentSpanId"), f"{where}.parentSpanId", 8, True),
                            name=str(s.get("name", "")),
                            service=service,
                            kind=_KINDS.get(kind, str(kind).lower().removeprefix("span_kind_")),
                            start_ns=int(s.get("startTimeUnixNano", 0)),
                            end_ns=int(s.get("endTimeUnixNano", 0)),
                            status=_STATUS.get(status, str(status).lower().removeprefix("status_code_")),
                            attributes={
                                a["key"]: _any_value(a.get("value") or {}) for a in s.get("attributes") or []
                            },
                        )
                    )
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        if isinstance(err, BadPayload):
            raise
        raise BadPayload(f"the body is not an OTLP ExportTraceServiceRequest: {err}") from None
    return spans


class TraceStore:
    """The last ``max_traces`` traces, thread-safe.

    Args:
        max_traces: how many traces are kept.
    """

    def __init__(self, max_traces: int = 200) -> None:
        self.max_traces = max_traces
        self._traces: OrderedDict[str, list[SpanRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, spans: list[SpanRecord]) -> None:
        """Keep ``spans``, dropping the oldest traces beyond the limit."""
        with self._lock:
            for s in spans:
                self._traces.setdefault(s.trace_id, []).append(s)
                self._traces.move_to_end(s.trace_id)
            while len(self._traces) > self.max_traces:
                self._traces.popitem(last=False)

    def trace(self, trace_id: str) -> list[SpanRecord]:
        """Returns: the spans of one trace (an id prefix of 8+ digits is enough), by start time."""
        with self._lock:
            spans = self._traces.get(trace_id.lower())
            if spans is None and len(trace_id) >= 8:
                found = [t for t in self._traces if t.startswith(trace_id.lower())]
                spans = self._traces[found[0]] if len(found) == 1 else None
            return sorted(spans or [], key=lambda s: s.start_ns)

    def summaries(self) -> list[dict[str, Any]]:
        """Returns: one line per trace, newest first: id, root name and service, spans, duration."""
        with self._lock:
            items = [(t, list(spans)) for t, spans in self._traces.items()]
        out = []
        for trace_id, spans in reversed(items):
            ids = {s.span_id for s in spans}
            roots = [s for s in spans if s.parent_id not in ids] or spans
            root = min(roots, key=lambda s: s.start_ns)
            start = min(s.start_ns for s in spans)
            end = max(s.end_ns for s in spans)
            out.append(
                {
                    "trace_id": trace_id,
                    "root": root.name,
                    "service": root.service,
                    "spans": len(spans),
                    "start_ns": start,
                    "duration_ms": (end - start) / 1e6,
                }
            )
        return out
