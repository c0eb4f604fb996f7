"""What a Seldon component reports through ``metrics()`` (or ``SeldonResponse.metrics``).

Each item is ``{"type": "COUNTER"|"GAUGE"|"TIMER", "key": NAME, "value": NUMBER, "tags": {...}}``.
A COUNTER adds, a GAUGE sets, a TIMER (milliseconds) is observed into a histogram of 50 log-spaced
buckets from 1 ms to 30 s, as Seldon's wrapper does. Every sample carries the item's tags plus
``method`` (``predict``, ``feedback``, ``route``, ``aggregate``, ``transform_input``,
``transform_output``). The collector is registered on the server's own Prometheus registry, so the
metrics come out on ``/metrics`` next to the server's.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from zeroserve.servers.seldon.errors import SeldonError

__all__ = ["CustomMetrics", "validate_metrics"]

_TYPES = ("COUNTER", "GAUGE", "TIMER")
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_BUCKETS = tuple(float(b) for b in np.logspace(0, np.log10(30_000), 50))
_RESERVED = frozenset({"method", "le"})


def validate_metrics(items: Any, hook: str = "metrics()") -> list[dict[str, Any]]:
    """Check a component's metrics; returns them with ``type`` upper-cased and ``tags`` filled.

    Raises:
        SeldonError: 500 (``MICROSERVICE_BAD_METRIC``): the component reported a malformed metric.
    """
    if items is None:
        return []
    if not isinstance(items, list):
        raise SeldonError(f"{hook} must return a list of metrics", 500, "MICROSERVICE_BAD_METRIC")
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        where = f"{hook}[{i}]"
        if not isinstance(item, dict):
            raise SeldonError(f"{where} must be an object", 500, "MICROSERVICE_BAD_METRIC")
        kind = str(item.get("type", "")).upper()
        key = item.get("key")
        value = item.get("value")
        tags = item.get("tags") or {}
        if kind not in _TYPES:
            raise SeldonError(f"{where}.type must be COUNTER, GAUGE or TIMER", 500, "MICROSERVICE_BAD_METRIC")
        if not isinstance(key, str) or not _NAME.match(key):
            raise SeldonError(f"{where}.key must be a Prometheus metric name", 500, "MICROSERVICE_BAD_METRIC")
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise SeldonError(f"{where}.value must be a number", 500, "MICROSERVICE_BAD_METRIC")
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and _LABEL.match(k) and k not in _RESERVED for k in tags
        ):
            raise SeldonError(
                f"{where}.tags must map label names (not method or le) to values",
                500,
                "MICROSERVICE_BAD_METRIC",
            )
        out.append({"key": key, "type": kind, "value": value, "tags": {k: str(v) for k, v in tags.items()}})
    return out


class CustomMetrics:
    """The component's reported metrics, as a Prometheus collector.

    Args:
        registry: the server's registry; the collector registers itself there.
    """

    def __init__(self, registry: CollectorRegistry | None) -> None:
        self._lock = threading.Lock()
        self._types: dict[str, str] = {}
        self._values: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._timers: dict[tuple[str, tuple[tuple[str, str], ...]], list[float]] = {}
        if registry is not None:
            registry.register(self)

    def record(self, metrics: list[dict[str, Any]], method: str) -> None:
        """Apply validated metrics reported during a call of ``method``.

        Raises:
            SeldonError: 500 when a key was first reported with another type.
        """
        with self._lock:
            for item in metrics:
                key, kind, value = item["key"], item["type"], float(item["value"])
                known = self._types.setdefault(key, kind)
                if known != kind:
                    raise SeldonError(
                        f"metric {key!r} was reported as {known} before, now as {kind}",
                        500,
                        "MICROSERVICE_BAD_METRIC",
                    )
                labels = tuple(sorted({**item["tags"], "method": method}.items()))
                if kind == "COUNTER":
                    self._values[(key, labels)] = self._values.get((key, labels), 0.0) + value
                elif kind == "GAUGE":
                    self._values[(key, labels)] = value
                else:
                    state = self._timers.get((key, labels))
                    if state is None:
                        state = self._timers[(key, labels)] = [0.0] * (len(_BUCKETS) + 2)
                    state[bisect.bisect_left(_BUCKETS, value)] += 1  # [buckets..., +Inf, sum]
                    state[-1] += value

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            families: dict[str, Metric] = {}
            for key, kind in self._types.items():
                families[key] = Metric(
                    key, f"Seldon component metric {key}", kind.lower() if kind != "TIMER" else "histogram"
                )
            for (key, labels), value in self._values.items():
                family = families[key]
                name = f"{key}_total" if family.type == "counter" else key
                family.add_sample(name, dict(labels), value)
            for (key, labels), state in self._timers.items():
                family = families[key]
                cumulative = 0.0
                for bound, count in zip((*_BUCKETS, float("inf")), state[:-1], strict=True):
                    cumulative += count
                    le = "+Inf" if bound == float("inf") else repr(bound)
                    family.add_sample(f"{key}_bucket", {**dict(labels), "le": le}, cumulative)
                family.add_sample(f"{key}_count", dict(labels), cumulative)
                family.add_sample(f"{key}_sum", dict(labels), state[-1])
        yield from families.values()
