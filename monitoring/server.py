"""The detector service: request CloudEvents in, KServe-shaped drift / outlier CloudEvents out.

``POST /`` takes a payload-logging request event (binary or structured). Bad input is answered
with a 4xx and a JSON ``{"error": ...}`` so a broker does not retry it: not a CloudEvent (400), an
unexpected event type (400), a non-JSON content type (415), a body without readable instances
(400), a body over 16 MiB (413). Events already seen (same ``source`` + ``id``: at-least-once delivery)
are answered 202 without being counted again.

A result is a CloudEvent of type ``org.kubeflow.serving.inference.drift`` / ``.outlier`` with
data ``{"data": {...}, "meta": {...}}`` (alibi-detect-server's shape). With a sink configured it
is POSTed there (through a :class:`~zeroserve.monitoring.sender.ResultSender`: queued, retried) and
the request is answered 202; otherwise it is the reply (200, binary mode) — which a Broker
re-ingests. No result yet (window filling, reference being fitted): 202 with an empty body.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from zeroserve.cloudevents import (
    CloudEvent,
    CloudEventError,
    decode_http,
    encode_binary,
    lower_headers,
    trace_context,
)
from zeroserve.monitoring.drift import DriftResult, KSDriftDetector
from zeroserve.monitoring.mmd import MMDDriftDetector
from zeroserve.monitoring.outlier import OutlierDetector, OutlierResult
from zeroserve.monitoring.payload import PayloadError, instances_from_payload
from zeroserve.monitoring.sender import ResultSender
from zeroserve.process import tracing
from zeroserve.process.asgi import (
    BodyTooLarge,
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    read_body,
    respond,
    respond_json,
    serve_lifespan,
)

__all__ = ["DRIFT_TYPE", "OUTLIER_TYPE", "REQUEST_TYPE", "DetectorService", "build_method"]


REQUEST_TYPE = "org.kubeflow.serving.inference.request"
"""The payload logger's request events: what a detector scores."""
DRIFT_TYPE = "org.kubeflow.serving.inference.drift"
OUTLIER_TYPE = "org.kubeflow.serving.inference.outlier"
_MAX_BODY = 16 * 1024 * 1024
_PROMETHEUS = b"text/plain; version=0.0.4"


class _Method(Protocol):
    features: int


class _DetectorError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class DetectorService:
    """An ASGI drift or outlier detector.

    Args:
        kind: ``drift`` or ``outlier``.
        build: makes the method from a reference sample (``KSDriftDetector`` / ``OutlierDetector``).
        reference: the reference sample; ``None`` to fit from the first ``fit_first`` instances.
        fit_first: instances collected as the reference when ``reference`` is ``None``.
        name: the detector's name (``meta.name``, default ``ce-source``).
        event_source: ``source`` of result events.
        sink: emitter for result events; ``None`` replies with them instead.
        registry: Prometheus registry for the detector's metrics.
        accept_types: event types processed; others are refused with 400.
        dedupe_window: how many recent ``(source, id)`` pairs are remembered.
    """

    def __init__(
        self,
        kind: str,
        build: Callable[[np.ndarray], Any],
        *,
        reference: np.ndarray | None = None,
        fit_first: int = 0,
        name: str = "detector",
        event_source: str | None = None,
        sink: ResultSender | None = None,
        registry: CollectorRegistry | None = None,
        accept_types: tuple[str, ...] = (REQUEST_TYPE,),
        dedupe_window: int = 100_000,
    ) -> None:
        if kind not in ("drift", "outlier"):
            raise ValueError(f"kind must be drift or outlier, not {kind!r}")
        if reference is None and fit_first < 2:
            raise ValueError("give a reference or fit_first >= 2")
        self.kind = kind
        self.name = name
        self.event_type = DRIFT_TYPE if kind == "drift" else OUTLIER_TYPE
        self.event_source = event_source or f"org.kubeflow.serving.{name}"
        self.sink = sink
        self.accept_types = accept_types
        self._build = build
        self._fit_first = fit_first
        self._fitting: list[np.ndarray] = []
        self._fitted = 0
        self.method: Any = build(reference) if reference is not None else None
        self._scored = 0
        self._flagged = 0
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._dedupe_window = dedupe_window
        self.registry = registry if registry is not None else CollectorRegistry()
        self._events = Counter(
            "zeroserve_detector_events", "Events received, by outcome", ["outcome"], registry=self.registry
        )
        self._instances = Counter(
            "zeroserve_detector_instances", "Instances scored or tested", registry=self.registry
        )
        if kind == "drift":
            self._p_value = Gauge(
                "zeroserve_drift_p_value",
                "Latest KS p-value per feature",
                ["feature"],
                registry=self.registry,
            )
            self._is_drift = Gauge(
                "zeroserve_drift_is_drift", "Latest drift decision (0/1)", registry=self.registry
            )
            self._tests = Counter(
                "zeroserve_drift_tests", "Drift tests run, by outcome", ["is_drift"], registry=self.registry
            )
        else:
            self._outliers = Counter(
                "zeroserve_outliers", "Instances flagged as outliers", registry=self.registry
            )
            self._outlier_rate = Gauge(
                "zeroserve_outlier_rate", "Outliers / instances since start", registry=self.registry
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send, startup=self._startup, shutdown=self._shutdown)
            return
        if scope["type"] != "http":
            return
        method, path = scope["method"], scope["path"]
        if method == "GET":
            if path == "/metrics":
                await respond(send, 200, generate_latest(self.registry), content_type=_PROMETHEUS)
            elif path in ("/", "/healthz", "/v2/health/live", "/v2/health/ready"):
                await respond_json(send, 200, {"status": "alive", "fitted": self.method is not None})
            else:
                await respond_json(send, 404, {"error": f"no route {path}"})
            return
        if method != "POST":
            await respond_json(send, 405, {"error": "POST a CloudEvent"})
            return
        try:
            body = await read_body(receive, _MAX_BODY)
        except BodyTooLarge:
            self._events.labels(outcome="rejected_413").inc()
            await respond_json(send, 413, {"error": f"event larger than {_MAX_BODY} bytes"})
            return
        except ClientDisconnected:
            return
        try:
            reply = self.handle(lower_headers(scope["headers"]), body)
        except _DetectorError as exc:
            self._events.labels(outcome=f"rejected_{exc.status}").inc()
            await respond_json(send, exc.status, {"error": str(exc)})
            return
        if reply is None:
            await respond(send, 202)
            return
        headers, content = encode_binary(reply)
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        await respond(send, 200, content, raw)

    def handle(self, headers: dict[str, str], body: bytes) -> CloudEvent | None:
        """Process one request event.

        Args:
            headers: lower-case request headers.
            body: the request body.

        Returns:
            The reply event, or ``None`` when there is nothing to reply with.

        Raises:
            _DetectorError: for bad events (with the 4xx status).
        """
        try:
            event = decode_http(headers, body)
        except CloudEventError as exc:
            raise _DetectorError(400, str(exc)) from None
        attributes = {"zeroserve.detector": self.name, "cloudevents.event_type": event.type}
        parent = tracing.extract(trace_context(event))
        with tracing.span(f"detector {self.kind}", kind="consumer", attributes=attributes, parent=parent):
            return self._score(event)

    def _score(self, event: CloudEvent) -> CloudEvent | None:
        """:meth:`handle` once the event is decoded."""
        if self.accept_types and event.type not in self.accept_types:
            raise _DetectorError(
                400, f"event type {event.type!r} not handled; expected {list(self.accept_types)}"
            )
        content_type = (event.datacontenttype or "application/json").split(";")[0].strip().lower()
        if not (content_type == "application/json" or content_type.endswith("+json")):
            raise _DetectorError(415, f"event data must be JSON, got content type {content_type!r}")
        try:
            x = instances_from_payload(event.json())
        except (CloudEventError, PayloadError) as exc:
            raise _DetectorError(400, str(exc)) from None
        key = (event.source, event.id)
        if key in self._seen:
            self._events.labels(outcome="duplicate").inc()
            return None
        expected = self.method.features if self.method is not None else None
        if expected is None and self._fitting:
            expected = self._fitting[0].shape[1]
        if expected is not None and x.shape[1] != expected:
            raise _DetectorError(400, f"instances have {x.shape[1]} features, the reference has {expected}")
        self._remember(key)
        self._events.labels(outcome="accepted").inc()
        if self.method is None:
            x = self._fit(x)
        self._instances.inc(len(x))
        self._scored += len(x)
        results = self._run(x) if len(x) else []
        if not results:
            return None
        events = [self._result_event(event, result) for result in results]
        if self.sink is not None:
            for out in events:
                self.sink.submit(out)
            return None
        return events[-1]

    def _remember(self, key: tuple[str, str]) -> None:
        self._seen[key] = None
        if len(self._seen) > self._dedupe_window:
            self._seen.popitem(last=False)

    def _fit(self, x: np.ndarray) -> np.ndarray:
        """Collect reference instances; build the method once ``fit_first`` are in.

        Returns:
            The instances left over for testing (empty while still fitting).
        """
        self._fitting.append(x)
        self._fitted += len(x)
        if self._fitted < self._fit_first:
            return x[:0]
        reference = np.vstack(self._fitting)
        self._fitting = []
        self.method = self._build(reference[: self._fit_first])
        return reference[self._fit_first :]

    def _run(self, x: np.ndarray) -> list[DriftResult | OutlierResult]:
        if isinstance(self.method, KSDriftDetector | MMDDriftDetector):
            drift = self.method.update(x)
            for result in drift:
                self._tests.labels(is_drift=str(result.is_drift)).inc()
                self._is_drift.set(result.is_drift)
                for j, p in enumerate(result.p_val):
                    self._p_value.labels(feature=str(j)).set(p)
            return list(drift)
        assert isinstance(self.method, OutlierDetector)
        outlier = self.method.predict(x)
        self._outliers.inc(sum(outlier.is_outlier))
        self._flagged += sum(outlier.is_outlier)
        self._outlier_rate.set(self._flagged / self._scored if self._scored else 0.0)
        return [outlier]

    def _result_event(self, request: CloudEvent, result: DriftResult | OutlierResult) -> CloudEvent:
        attributes = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": self.event_type,
            "source": self.event_source,
            "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        for name in ("inferenceservicename", "namespace"):
            if request.attributes.get(name):
                attributes[name] = request.attributes[name]
        tracing.inject(attributes)  # the result continues the detector's span (tracing extension)
        meta: dict[str, object] = {"name": self.name, "detector_type": self.kind, "request_id": request.id}
        if isinstance(result, DriftResult):
            meta["window_size"] = result.window_size
        else:
            meta["threshold"] = result.threshold
        data = orjson.dumps({"data": result.data(), "meta": meta})
        return CloudEvent(attributes=attributes, data=data, datacontenttype="application/json")

    async def _startup(self) -> None:
        if self.sink is not None:
            await self.sink.start()

    async def _shutdown(self) -> None:
        if self.sink is not None:
            await self.sink.stop()


def build_method(kind: str, **options: Any) -> Callable[[np.ndarray], Any]:
    """A factory for :class:`DetectorService`'s ``build`` argument.

    Args:
        kind: ``drift`` or ``outlier``.
        **options: keyword arguments of :class:`KSDriftDetector` (or, with ``test="mmd"``, of
            :class:`MMDDriftDetector`) or of :class:`OutlierDetector`.

    Returns:
        ``reference -> method``.
    """
    if kind == "drift":
        if options.pop("test", "ks") == "mmd":
            mmd = {k: v for k, v in options.items() if k in ("p_val", "window", "permutations", "seed")}
            return lambda reference: MMDDriftDetector(reference, **mmd)
        return lambda reference: KSDriftDetector(reference, **options)
    return lambda reference: OutlierDetector(reference, **options)
