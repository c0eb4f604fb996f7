"""CloudEvents 1.0 over HTTP: one small envelope type and its binary / structured codecs.

The payload logger writes events, the broker and the detectors read them; all three share this
module so that the wire rules (CloudEvents HTTP protocol binding 1.0) live in one place:

- *binary* mode: attributes as ``ce-<name>`` headers (percent-encoded), ``Content-Type`` is the
  ``datacontenttype``, the body is the raw data;
- *structured* mode: ``Content-Type: application/cloudevents+json`` and the whole event as JSON,
  data in ``data`` (JSON value) or ``data_base64``.

Data is kept as bytes, so an event passes through the broker unchanged.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import orjson

__all__ = [
    "STRUCTURED_CONTENT_TYPE",
    "CloudEvent",
    "CloudEventError",
    "decode_http",
    "encode_binary",
    "encode_structured",
    "header_value",
    "is_cloudevent_request",
    "trace_context",
]

STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
REQUIRED_ATTRIBUTES = ("id", "source", "specversion", "type")
_NAME = re.compile(r"^[a-z0-9]{1,20}$")
# CloudEvents HTTP binding 3.1.3.2: printable ASCII except space, '"' and '%' go unescaped.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in ' "%')
_NEEDS_QUOTING = re.compile(r'[^\x21-\x7e]|[ "%]')


def header_value(value: str) -> str:
    """An attribute value as a header value, percent-encoded only where the HTTP binding requires."""
    return quote(value, safe=_SAFE) if _NEEDS_QUOTING.search(value) else value


class CloudEventError(ValueError):
    """The HTTP message is not a valid CloudEvent; the message says why (for a 400 body)."""


@dataclass
class CloudEvent:
    """A CloudEvent: string attributes (context and extensions) and raw data bytes."""

    attributes: dict[str, str]
    data: bytes = b""
    datacontenttype: str | None = field(default=None)

    @property
    def id(self) -> str:
        return self.attributes["id"]

    @property
    def type(self) -> str:
        return self.attributes["type"]

    @property
    def source(self) -> str:
        return self.attributes["source"]

    def get(self, name: str, default: str | None = None) -> str | None:
        """An attribute by name; ``datacontenttype`` included."""
        if name == "datacontenttype":
            return self.datacontenttype if self.datacontenttype is not None else default
        return self.attributes.get(name, default)

    def all_attributes(self) -> dict[str, str]:
        """Every attribute, ``datacontenttype`` included, as filters see them."""
        attrs = dict(self.attributes)
        if self.datacontenttype is not None:
            attrs["datacontenttype"] = self.datacontenttype
        return attrs

    def json(self) -> object:
        """The data parsed as JSON.

        Raises:
            CloudEventError: when the data is not JSON.
        """
        try:
            return orjson.loads(self.data)
        except orjson.JSONDecodeError as exc:
            raise CloudEventError(f"event data is not JSON: {exc}") from None


def trace_context(event: CloudEvent) -> dict[str, str]:
    """The event's distributed-tracing extension (``traceparent``, ``tracestate``) as W3C headers.

    CloudEvents' distributed tracing extension carries the W3C Trace Context of the hop that
    produced the event; a consumer passes these to its tracer as the parent of its own span.
    """
    return {k: v for k in ("traceparent", "tracestate") if (v := event.attributes.get(k))}


def is_cloudevent_request(headers: Mapping[str, str]) -> bool:
    """Whether the headers look like a CloudEvent (binary ``ce-specversion`` or structured type)."""
    content_type = headers.get("content-type", "")
    return "ce-specversion" in headers or content_type.startswith("application/cloudevents")


def decode_http(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """Read a CloudEvent from an HTTP request or response, binary or structured.

    Args:
        headers: the message headers with lower-case names.
        body: the message body.

    Returns:
        The event.

    Raises:
        CloudEventError: when the message is not a valid CloudEvent 1.0.
    """
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/cloudevents-batch"):
        raise CloudEventError("batched CloudEvents are not accepted; send one event per request")
    if content_type.startswith("application/cloudevents"):
        return _decode_structured(body)
    if "ce-specversion" not in headers:
        raise CloudEventError(
            "not a CloudEvent: expected binary mode (ce-specversion, ce-id, ce-source, ce-type headers) "
            f"or Content-Type {STRUCTURED_CONTENT_TYPE}"
        )
    attributes = {
        name[3:]: unquote(value)
        for name, value in headers.items()
        if name.startswith("ce-") and name != "ce-datacontenttype"
    }
    _check(attributes)
    return CloudEvent(attributes=attributes, data=body, datacontenttype=content_type or None)


def _decode_structured(body: bytes) -> CloudEvent:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise CloudEventError(f"structured CloudEvent is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise CloudEventError("structured CloudEvent must be a JSON object")
    datacontenttype = doc.pop("datacontenttype", None)
    data: bytes = b""
    if "data_base64" in doc:
        try:
            data = base64.b64decode(doc.pop("data_base64"), validate=True)
        except (ValueError, TypeError) as exc:
            raise CloudEventError(f"data_base64 is not base64: {exc}") from None
    elif "data" in doc:
        value = doc.pop("data")
        if isinstance(value, str) and not _is_json_type(datacontenttype):
            data = value.encode()
        else:
            data = orjson.dumps(value)
            datacontenttype = datacontenttype or "application/json"
    attributes: dict[str, str] = {}
    for name, value in doc.items():
        if value is None:
            continue
        if isinstance(value, bool):
            attributes[name] = "true" if value else "false"
        elif isinstance(value, int | float | str):
            attributes[name] = str(value)
        else:
            raise CloudEventError(f"attribute {name!r} must be a string, number or boolean")
    _check(attributes)
    return CloudEvent(attributes=attributes, data=data, datacontenttype=datacontenttype)


def _is_json_type(content_type: str | None) -> bool:
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media == "text/json"


def _check(attributes: Mapping[str, str]) -> None:
    missing = [name for name in REQUIRED_ATTRIBUTES if not attributes.get(name)]
    if missing:
        raise CloudEventError(f"CloudEvent is missing required attributes: {', '.join(missing)}")
    if attributes["specversion"] != "1.0":
        raise CloudEventError(f"unsupported CloudEvents specversion {attributes['specversion']!r}; want 1.0")
    bad = [name for name in attributes if not _NAME.match(name)]
    if bad:
        raise CloudEventError(f"invalid attribute names (lower-case letters and digits only): {bad}")


def encode_binary(event: CloudEvent) -> tuple[list[tuple[str, str]], bytes]:
    """Write an event in binary mode.

    Args:
        event: the event.

    Returns:
        ``(headers, body)``: ``ce-*`` headers plus ``content-type`` when the event has one.
    """
    headers = [(f"ce-{name}", header_value(value)) for name, value in event.attributes.items()]
    if event.datacontenttype:
        headers.append(("content-type", event.datacontenttype))
    return headers, event.data


def encode_structured(event: CloudEvent) -> tuple[list[tuple[str, str]], bytes]:
    """Write an event in structured JSON mode (``data`` when JSON, else ``data_base64``).

    Args:
        event: the event.

    Returns:
        ``(headers, body)``.
    """
    doc: dict[str, object] = dict(event.attributes)
    if event.datacontenttype:
        doc["datacontenttype"] = event.datacontenttype
    if event.data:
        if _is_json_type(event.datacontenttype):
            try:
                doc["data"] = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                doc["data_base64"] = base64.b64encode(event.data).decode()
        else:
            doc["data_base64"] = base64.b64encode(event.data).decode()
    return [("content-type", STRUCTURED_CONTENT_TYPE)], orjson.dumps(doc)


def lower_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI raw headers as a dict with lower-case names (last value wins)."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
