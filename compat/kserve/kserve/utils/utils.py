"""``kserve.utils.utils``: the helpers KServe's examples import.

``get_predict_input`` / ``get_predict_response`` are zeroserve's (``zeroserve.servers.predict_io``):
a V1 dict or a V2 ``InferRequest`` to a numpy array, and a result back to the payload's protocol.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from kserve.model import PredictorProtocol
from zeroserve.servers.predict_io import get_predict_input, get_predict_response

__all__ = [
    "cpu_count",
    "generate_uuid",
    "get_predict_input",
    "get_predict_response",
    "is_structured_cloudevent",
    "is_v1",
    "is_v2",
    "strtobool",
]

_TRUE = frozenset({"y", "yes", "t", "true", "on", "1"})
_FALSE = frozenset({"n", "no", "f", "false", "off", "0"})


def generate_uuid() -> str:
    """A new random UUID as text (``xxxxxxxx-xxxx-...``), as KServe's response ids."""
    return str(uuid.uuid4())


def strtobool(val: str) -> bool:
    """``true``/``yes``/``on``/``1`` (any case) -> True; ``false``/``no``/``off``/``0`` -> False.

    Raises:
        ValueError: any other text.
    """
    text = str(val).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"invalid truth value {val!r}")


def cpu_count() -> int:
    """CPUs this process may use: its cgroup CPU quota when one is set, else the CPU affinity."""
    try:
        quota, period = open("/sys/fs/cgroup/cpu.max").read().split()[:2]  # noqa: SIM115
        if quota != "max":
            return max(1, int(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def is_structured_cloudevent(body: Any) -> bool:
    """Whether ``body`` is a CloudEvent in structured mode (a dict with the required attributes)."""
    return isinstance(body, dict) and all(k in body for k in ("time", "type", "source", "id", "specversion"))


def is_v2(protocol: str | PredictorProtocol) -> bool:
    """Whether ``protocol`` is one of the V2 protocols (``v2``, ``grpc-v2``)."""
    value = protocol.value if isinstance(protocol, PredictorProtocol) else protocol
    return value in (PredictorProtocol.REST_V2.value, PredictorProtocol.GRPC_V2.value)


def is_v1(protocol: str | PredictorProtocol) -> bool:
    """Whether ``protocol`` is V1 REST."""
    value = protocol.value if isinstance(protocol, PredictorProtocol) else protocol
    return value == PredictorProtocol.REST_V1.value
