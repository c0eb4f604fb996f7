"""A user's Seldon class behind Seldon's component operations, transport-free.

Every optional hook is honoured as Seldon's Python wrapper honours it: ``predict(X, names, meta=)``
with the two-argument fallback, ``*_raw`` variants (they win and get the whole message),
``class_names`` / ``feature_names`` (methods or attributes), ``tags()``, ``metrics()``,
``health_status()``, ``init_metadata()``, ``send_feedback(..., routing=)``, ``route``, ``aggregate``,
``transform_input`` and ``transform_output``. A hook's result may be a ``SeldonResponse`` (anything
with ``data``, ``tags`` and ``metrics``), whose tags win over ``tags()``.

Operations take and give SeldonMessages in their JSON form; a raw hook gets the transport's own form
(``native``: the dict for REST, the protobuf message for gRPC) and its answer is returned as is.
"""

from __future__ import annotations

import inspect
import logging
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from zeroserve.servers.seldon import payload
from zeroserve.servers.seldon.custom_metrics import CustomMetrics, validate_metrics
from zeroserve.servers.seldon.errors import SeldonError, user_failure
from zeroserve.servers.seldon.metadata import build_metadata
from zeroserve.servers.seldon.payload import Message

__all__ = ["OPERATIONS", "SERVICE_TYPES", "SeldonComponent", "SeldonResponse"]

_log = logging.getLogger(__name__)

# operation -> the user's method name (its raw variant is NAME_raw)
_RAW_NAMES = {
    "predict": "predict",
    "send_feedback": "send_feedback",
    "route": "route",
    "aggregate": "aggregate",
    "transform_input": "transform_input",
    "transform_output": "transform_output",
    "health_status": "health_status",
}
OPERATIONS = tuple(_RAW_NAMES)

SERVICE_TYPES = ("MODEL", "ROUTER", "TRANSFORMER", "OUTPUT_TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR")


class SeldonResponse:
    """An answer with runtime tags and metrics (Seldon's ``seldon_core.user_model.SeldonResponse``).

    Args:
        data: the answer itself.
        tags: merged into ``meta.tags`` (over ``tags()``).
        metrics: appended to the component's metrics.
    """

    def __init__(
        self, data: Any, tags: dict[str, Any] | None = None, metrics: list[dict[str, Any]] | None = None
    ):
        self.data = data
        self.tags = tags
        self.metrics = metrics


def _accepts_meta(fn: Callable[..., Any]) -> bool | None:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    return any(p.name == "meta" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


class SeldonComponent:
    """Seldon's operations over one user object.

    Args:
        user: the user's object (any class; no base class needed).
        service_type: MODEL, ROUTER, TRANSFORMER, OUTPUT_TRANSFORMER, COMBINER or OUTLIER_DETECTOR
            (informational: every operation is served, as Seldon's wrapper does).
        unit_id: the graph node's name (``PREDICTIVE_UNIT_ID``): the key of ``meta.routing``.
        metrics: where reported metrics are exported; none when ``None``.
        name: the component's name in its metadata (``unit_id`` when empty).
    """

    def __init__(
        self,
        user: Any,
        service_type: str = "MODEL",
        unit_id: str | None = None,
        metrics: CustomMetrics | None = None,
        name: str = "",
    ) -> None:
        self.user = user
        self.name = name
        self.service_type = service_type
        self.unit_id = unit_id if unit_id is not None else os.environ.get("PREDICTIVE_UNIT_ID", "")
        self.metrics = metrics
        self.metadata: dict[str, Any] = {}
        self._meta_kw: dict[str, bool | None] = {}

    # -- hooks -------------------------------------------------------------------------------------

    def hook(self, name: str) -> Callable[..., Any] | None:
        """The user's method ``name``, or ``None`` when it has none."""
        fn = getattr(self.user, name, None)
        return fn if callable(fn) else None

    def raw_hook(self, op: str, transport: str) -> Callable[..., Any] | None:
        """The raw variant of ``op`` for ``transport`` (``rest`` or ``grpc``), if the user has one."""
        return self.hook(f"{op}_raw") or self.hook(f"{op}_{transport}")

    def _call(self, hook: str, *args: Any, meta: Any = None, with_meta: bool = False) -> Any:
        fn = self.hook(hook)
        if fn is None:
            raise SeldonError(f"this component has no {hook}()", 501, "MICROSERVICE_NOT_IMPLEMENTED")
        try:
            if not with_meta:
                return fn(*args)
            takes = self._meta_kw.get(hook)
            if takes is None and hook not in self._meta_kw:
                takes = self._meta_kw[hook] = _accepts_meta(fn)
            if takes:
                return fn(*args, meta=meta)
            if takes is False:
                return fn(*args)
            try:  # signature unknown: Seldon's way, with meta first and without it on TypeError
                return fn(*args, meta=meta)
            except TypeError:
                return fn(*args)
        except Exception as exc:
            raise user_failure(hook + "()", exc) from None

    def _names(self, hook: str, fallback: list[str] | None) -> list[str] | None:
        value = getattr(self.user, hook, None)
        if value is None:
            return fallback
        if callable(value):
            try:
                value = value()
            except Exception as exc:
                raise user_failure(hook + "()", exc) from None
        if not isinstance(value, list | tuple):
            raise SeldonError(f"{hook} must be a list of strings", 500, "MICROSERVICE_INTERNAL_ERROR")
        return [str(v) for v in value]

    def _report(
        self, method: str, runtime: list[dict[str, Any]] | None
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        tags: dict[str, Any] = {}
        if self.hook("tags") is not None:
            found = self._call("tags")
            if found is not None and not isinstance(found, dict):
                raise SeldonError("tags() must return an object", 500, "MICROSERVICE_INTERNAL_ERROR")
            tags.update(found or {})
        metrics = validate_metrics(self._call("metrics")) if self.hook("metrics") is not None else []
        metrics.extend(validate_metrics(runtime, "SeldonResponse.metrics"))
        if metrics and self.metrics is not None:
            self.metrics.record(metrics, method)
        return tags, metrics

    def _respond(
        self,
        method: str,
        result: Any,
        request: Message,
        names: list[str] | None,
    ) -> Message:
        runtime_tags: dict[str, Any] | None = None
        runtime_metrics: list[dict[str, Any]] | None = None
        if _is_seldon_response(result):
            runtime_tags, runtime_metrics, result = result.tags, result.metrics, result.data
        tags, metrics = self._report(method, runtime_metrics)
        if runtime_tags:
            tags.update(runtime_tags)
        out = payload.encode_data(result, request, names)
        out["meta"] = payload.response_meta(request, tags, metrics)
        return out

    # -- operations --------------------------------------------------------------------------------

    def call(self, op: str, msg: Any, native: Any = None, transport: str = "rest") -> Any:
        """Run operation ``op`` (one of :data:`OPERATIONS`), through its raw hook when there is one.

        Args:
            op: the operation.
            msg: the request in JSON form.
            native: the request in the transport's own form, for a raw hook (``msg`` when ``None``).
            transport: ``rest`` or ``grpc``; picks ``predict_rest`` / ``predict_grpc`` after ``*_raw``.

        Returns:
            A message in JSON form, or whatever a raw hook returned.
        """
        hook = _RAW_NAMES[op]
        raw = self.raw_hook(hook, transport)
        if raw is not None:
            try:
                return raw() if op == "health_status" else raw(msg if native is None else native)
            except Exception as exc:
                raise user_failure(f"{hook}_raw()", exc) from None
        if op == "health_status":
            return self.health_status()
        method: Callable[[Any], Any] = getattr(self, op)
        return method(msg)

    def load(self) -> None:
        """Run the user's ``load()`` (before readiness) and read its metadata."""
        if self.hook("load") is not None:
            self._call("load")
        self.metadata = build_metadata(self)

    def predict(self, msg: Message) -> Message:
        """``/predict``: ``predict(X, names, meta=)``; ``[]`` when the class has no ``predict``."""
        payload.require_message(msg)
        features = payload.features_of(msg)
        names = payload.names_of(msg)
        meta = payload.meta_of(msg)
        result = (
            self._call("predict", features, names, meta=meta, with_meta=True) if self.hook("predict") else []
        )
        return self._respond("predict", result, msg, self._class_names(result))

    def _class_names(self, result: Any) -> list[str] | None:
        if getattr(self.user, "class_names", None) is None:
            return None
        data = result.data if _is_seldon_response(result) else result
        if isinstance(data, dict | str | bytes):
            return None
        if np.ndim(data) < 2:
            return []
        return self._names("class_names", None)

    def transform_input(self, msg: Message) -> Message:
        """``/transform-input``: the request unchanged when the class has no ``transform_input``."""
        payload.require_message(msg)
        if self.hook("transform_input") is None:
            return msg
        features = payload.features_of(msg)
        names = payload.names_of(msg)
        result = self._call("transform_input", features, names, meta=payload.meta_of(msg), with_meta=True)
        out_names = (
            self._names("feature_names", names) if not isinstance(result, dict | str | bytes) else None
        )
        return self._respond("transform_input", result, msg, out_names)

    def transform_output(self, msg: Message) -> Message:
        """``/transform-output``: the message unchanged when the class has no ``transform_output``."""
        payload.require_message(msg)
        if self.hook("transform_output") is None:
            return msg
        features = payload.features_of(msg)
        names = payload.names_of(msg)
        result = self._call("transform_output", features, names, meta=payload.meta_of(msg), with_meta=True)
        return self._respond("transform_output", result, msg, self._class_names(result))

    def route(self, msg: Message) -> Message:
        """``/route``: the child index (``-1`` all, ``-2`` none, ``N`` one) as ``[[N]]``."""
        payload.require_message(msg)
        features = payload.features_of(msg)
        names = payload.names_of(msg)
        result = self._call("route", features, names)
        if _is_seldon_response(result):
            result = result.data
        if isinstance(result, bool) or not isinstance(result, int | np.integer):
            raise SeldonError(
                f"route() must return an integer child index, got {type(result).__name__}",
                500,
                "MICROSERVICE_BAD_ROUTING",
            )
        return self._respond("route", np.array([[int(result)]]), msg, None)

    def aggregate(self, msgs: Message) -> Message:
        """``/aggregate``: ``aggregate(features_list, names_list)`` over a SeldonMessageList."""
        if (
            not isinstance(msgs, dict)
            or not isinstance(msgs.get("seldonMessages"), list)
            or not msgs["seldonMessages"]
        ):
            raise SeldonError('the request must be a SeldonMessageList: {"seldonMessages": [message, ...]}')
        items = msgs["seldonMessages"]
        for i, item in enumerate(items):
            payload.require_message(item, f"seldonMessages[{i}]")
        features = [payload.features_of(m, f"seldonMessages[{i}]") for i, m in enumerate(items)]
        names = [payload.names_of(m, f"seldonMessages[{i}]") for i, m in enumerate(items)]
        result = self._call("aggregate", features, names)
        merged = _merge_meta(items)
        first = {**items[0], "meta": merged}
        out = self._respond("aggregate", result, first, self._class_names(result))
        if merged.get("metrics"):
            out["meta"]["metrics"] = merged["metrics"] + out["meta"].get("metrics", [])
        return out

    def send_feedback(self, feedback: Message) -> Message:
        """``/send-feedback``: ``send_feedback(X, names, reward, truth, routing=)``.

        ``routing`` is this node's entry of ``response.meta.routing`` (``None`` when absent).
        """
        if not isinstance(feedback, dict):
            raise SeldonError("the request must be a Feedback object: {request, response, reward, truth}")
        request = feedback.get("request") or {}
        payload.require_message(request, "feedback.request")
        response = feedback.get("response") or {}
        payload.require_message(response, "feedback.response")
        reward = feedback.get("reward", 0.0)
        if reward is None:
            reward = 0.0
        if isinstance(reward, bool) or not isinstance(reward, int | float):
            raise SeldonError('"reward" must be a number')
        truth_msg = feedback.get("truth")
        truth = None
        if truth_msg:
            payload.require_message(truth_msg, "feedback.truth")
            truth = payload.features_of(truth_msg, "feedback.truth")
        features = payload.features_of(request, "feedback.request") if _has_data(request) else None
        names = payload.names_of(request, "feedback.request")
        routing = (payload.meta_of(response, "feedback.response").get("routing") or {}).get(self.unit_id)
        result = None
        if self.hook("send_feedback") is not None:
            fn = self.hook("send_feedback")
            assert fn is not None
            try:
                result = fn(features, names, reward, truth, routing=routing)
            except Exception as exc:
                raise user_failure("send_feedback()", exc) from None
        if self.metrics is not None:
            self.metrics.record(
                [
                    {"key": "seldon_api_model_feedback", "type": "COUNTER", "value": 1, "tags": {}},
                    {
                        "key": "seldon_api_model_feedback_reward",
                        "type": "COUNTER",
                        "value": float(reward),
                        "tags": {},
                    },
                ],
                "feedback",
            )
        if result is None:
            result = np.array([])
        return self._respond("feedback", result, request, None)

    def health_status(self) -> Message:
        """``/health/status``: what ``health_status()`` returns, as a message."""
        result = self._call("health_status") if self.hook("health_status") is not None else []
        return self._respond("health", result, {}, None)


def _has_data(msg: Message) -> bool:
    return any(k in msg for k in ("data", "strData", "binData", "jsonData"))


def _is_seldon_response(value: Any) -> bool:
    return type(value).__name__ == "SeldonResponse" and hasattr(value, "data")


def _merge_meta(items: list[Message]) -> dict[str, Any]:
    """The meta of several messages merged: tags, routing and requestPath unioned, metrics joined."""
    merged: dict[str, Any] = {}
    for i, item in enumerate(items):
        meta = payload.meta_of(item, f"seldonMessages[{i}]")
        if meta.get("puid") and "puid" not in merged:
            merged["puid"] = meta["puid"]
        for key in ("tags", "routing", "requestPath"):
            if meta.get(key):
                merged.setdefault(key, {}).update(meta[key])
        if meta.get("metrics"):
            merged.setdefault("metrics", []).extend(meta["metrics"])
    return merged
