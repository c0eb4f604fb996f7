"""KServe's payload events written straight from an inference's raw parts to HTTP/1.1 requests.

The payload logger turns two events per inference into binary-mode POSTs, inside the model
server's own process, so every microsecond here is taken from predictions. Building a
:class:`~zeroserve.cloudevents.CloudEvent` (an attribute dict, a datetime, percent-encoding
checks of every attribute) and then encoding it costs several times more than filling in a
template: all but three header lines (``ce-id``, ``ce-time``, ``ce-statuscode``) are the same for
every event of a component, so :class:`EventTemplate` renders them once and one ``bytes``
formatting call produces each request.

The bytes are exactly what :func:`~zeroserve.cloudevents.encode_binary` describes: the same
``ce-*`` headers in the same order (``specversion``, ``id``, ``type``, ``source``, ``time``, the
extensions ``inferenceservicename``, ``namespace``, ``component``, ``endpoint``, ``statuscode`` on
responses and ``metadata`` when present), ``content-type`` and ``content-length``.
:meth:`EventTemplate.event` builds the equivalent :class:`CloudEvent` for the ``https`` path
(httpx), and the tests check the two agree.
"""

from __future__ import annotations

import time

from zeroserve.cloudevents import CloudEvent, header_value
from zeroserve.logger.config import LoggerConfig
from zeroserve.logger.events import REQUEST_TYPE, RESPONSE_TYPE

__all__ = ["KIND_REQUEST", "KIND_RESPONSE", "TYPES", "EventTemplate", "UtcClock"]

KIND_REQUEST = 0
"""Kind of an ``org.kubeflow.serving.inference.request`` event (an index into :data:`TYPES`)."""
KIND_RESPONSE = 1
"""Kind of an ``org.kubeflow.serving.inference.response`` event (an index into :data:`TYPES`)."""
TYPES = (REQUEST_TYPE, RESPONSE_TYPE)
"""The CloudEvent ``type`` of each kind."""


class UtcClock:
    """RFC 3339 UTC timestamps (``2026-01-02T03:04:05.123456Z``) of epoch nanoseconds, cheaply.

    The text up to the seconds is cached, so most calls are one formatting of the microseconds.
    The result matches ``datetime.isoformat()`` of the same instant in UTC (microseconds left
    out when they are zero), with ``Z`` for the offset.
    """

    __slots__ = ("_second", "_text")

    def __init__(self) -> None:
        self._second = -1
        self._text = b""

    def format(self, time_ns: int) -> bytes:
        """The timestamp of ``time_ns`` (nanoseconds since the epoch) as ASCII bytes."""
        second, rest = divmod(time_ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode("ascii")
        micros = rest // 1000
        return b"%s.%06dZ" % (self._text, micros) if micros else self._text + b"Z"


class EventTemplate:
    """Renders an inference's raw parts as binary-mode CloudEvents for one logged component.

    An event is given as ``kind`` (:data:`KIND_REQUEST` or :data:`KIND_RESPONSE`), ``event_id``,
    ``time_ns`` (nanoseconds since the epoch), ``status`` (the HTTP status, responses only),
    ``body``, ``content_type`` (the request's, for both events, as KServe does) and ``metadata``
    (the ``metadata`` extension or ``None``).

    Args:
        config: the component's identity (``source_uri``, ``inference_service``, ...).
        prefix: the request line and ``host`` header the requests start with (``b""`` when only
            the header lines are wanted).
    """

    def __init__(self, config: LoggerConfig, prefix: bytes = b"") -> None:
        self.config = config
        self.clock = UtcClock()

        def line(name: str, value: str) -> bytes:
            return f"ce-{name}: {header_value(value)}\r\n".encode("latin-1")

        self._head = prefix + line("specversion", "1.0")
        identity = (
            line("inferenceservicename", config.inference_service)
            + line("namespace", config.namespace)
            + line("component", config.component)
            + line("endpoint", config.endpoint)
        )
        source = line("source", config.source_uri)
        self._after_id = tuple(line("type", kind) + source + b"ce-time: " for kind in TYPES)
        self._after_time = (b"\r\n" + identity, b"\r\n" + identity + b"ce-statuscode: ")

    def request(
        self,
        kind: int,
        event_id: str,
        time_ns: int,
        status: int,
        body: bytes,
        content_type: str,
        metadata: str | None,
    ) -> bytes:
        """The POST request (``prefix``, headers, body) of one event (arguments as in the class)."""
        middle = self._after_time[kind]
        if kind == KIND_RESPONSE:
            middle += b"%d\r\n" % status
        if metadata:
            middle += b"ce-metadata: %s\r\n" % header_value(metadata).encode("latin-1")
        return b"%sce-id: %s\r\n%s%s%scontent-type: %s\r\ncontent-length: %d\r\n\r\n%s" % (
            self._head,
            header_value(event_id).encode("latin-1"),
            self._after_id[kind],
            self.clock.format(time_ns),
            middle,
            content_type.encode("latin-1"),
            len(body),
            body,
        )

    def event(
        self,
        kind: int,
        event_id: str,
        time_ns: int,
        status: int,
        body: bytes,
        content_type: str,
        metadata: str | None,
    ) -> CloudEvent:
        """The same event as a :class:`CloudEvent` (for the httpx path and for tests)."""
        config = self.config
        attributes = {
            "specversion": "1.0",
            "id": event_id,
            "type": TYPES[kind],
            "source": config.source_uri,
            "time": self.clock.format(time_ns).decode("ascii"),
            "inferenceservicename": config.inference_service,
            "namespace": config.namespace,
            "component": config.component,
            "endpoint": config.endpoint,
        }
        if kind == KIND_RESPONSE:
            attributes["statuscode"] = str(status)
        if metadata:
            attributes["metadata"] = metadata
        return CloudEvent(attributes=attributes, data=body, datacontenttype=content_type)
