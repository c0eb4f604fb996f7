"""``SeldonModel``: a Seldon component served as one model of our data plane.

The data plane loads it (the user's ``load()`` runs before the server is ready) and runs its
``predict`` for ``/api/v1.0/predictions``; the other Seldon operations reach the component through
:attr:`SeldonModel.component`. With persistence on, the user object is saved on a period and when
the model stops.
"""

from __future__ import annotations

import logging
from typing import Any, NamedTuple

from prometheus_client import CollectorRegistry, start_http_server

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.model import Model
from zeroserve.servers.predict_io import get_predict_response
from zeroserve.servers.seldon.component import SeldonComponent
from zeroserve.servers.seldon.persistence import Persistence
from zeroserve.servers.types import InferRequest

__all__ = ["MetricsPort", "SeldonCall", "SeldonModel"]

_log = logging.getLogger(__name__)

_SELDON_KEYS = ("data", "strData", "binData", "jsonData", "customData")


def _answer(message: Any) -> Any:
    """The payload of a predict answer, for KServe's protocols."""
    if not isinstance(message, dict):
        raise InvalidInput("the component answered in protobuf form; use the Seldon protocol")
    data = message.get("data")
    if isinstance(data, dict):  # asked as an ndarray, a numeric answer comes back as one
        return data.get("ndarray", [])
    for key in ("jsonData", "strData"):
        if key in message:
            return message[key]
    return []


class MetricsPort(NamedTuple):
    """Seldon's separate metrics port (``--metrics-port`` / ``PREDICTIVE_UNIT_METRICS_SERVICE_PORT``)."""

    host: str
    port: int
    registry: CollectorRegistry


class SeldonCall(NamedTuple):
    """A Seldon operation handed through the data plane."""

    op: str
    """``predict``, ``route``, ``aggregate``, ... (see ``component.OPERATIONS``)."""
    message: Any
    """The request in JSON form."""
    native: Any = None
    """The request as the transport got it (a protobuf message on gRPC), for raw hooks."""
    transport: str = "rest"


class SeldonModel(Model):
    """Serves a :class:`SeldonComponent`.

    Args:
        name: the model's name on the wire.
        component: the user's object behind Seldon's operations.
        persistence: saves the user object when given.
        metrics_port: also serve the Prometheus metrics there (any path, as Seldon's ``/prometheus``)
            once the model serves.
    """

    def __init__(
        self,
        name: str,
        component: SeldonComponent,
        persistence: Persistence | None = None,
        metrics_port: MetricsPort | None = None,
    ) -> None:
        super().__init__(name)
        self.component = component
        self.persistence = persistence
        self.metrics_port = metrics_port
        self._metrics_server: Any = None

    def load(self) -> bool:
        self.component.load()
        if self.persistence is not None:
            self.persistence.start(self.component.user)
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Any = None) -> Any:
        """Run a :class:`SeldonCall`; a KServe V1 body or V2 request runs ``predict`` on its rows.

        V1 ``{"instances": rows}`` becomes ``data.ndarray`` and the answer ``{"predictions": ...}``;
        a V2 request's first input becomes ``data.ndarray`` and the answer the V2 output. Any other
        payload is a SeldonMessage for ``predict``.
        """
        if isinstance(payload, SeldonCall):
            return self.component.call(payload.op, payload.message, payload.native, payload.transport)
        if isinstance(payload, InferRequest):
            if not payload.inputs:
                raise InvalidInput("the V2 request has no inputs")
            rows = payload.inputs[0].as_numpy().tolist()
            return get_predict_response(payload, _answer(self._predict_rows(rows)), self.name)
        if (
            isinstance(payload, dict)
            and "instances" in payload
            and not any(k in payload for k in _SELDON_KEYS)
        ):
            return {"predictions": _answer(self._predict_rows(payload["instances"]))}
        return self.component.call("predict", payload)

    def _predict_rows(self, rows: Any) -> Any:
        return self.component.call("predict", {"data": {"ndarray": rows}})

    def start(self) -> None:
        where = self.metrics_port
        if where is None or self._metrics_server is not None:
            return
        try:
            self._metrics_server, _ = start_http_server(where.port, addr=where.host, registry=where.registry)
        except OSError as exc:
            _log.error(
                "metrics are not served on %s:%d (%s); they stay on the HTTP port's /metrics "
                "(change --metrics-port or PREDICTIVE_UNIT_METRICS_SERVICE_PORT)",
                where.host,
                where.port,
                exc.strerror or exc,
            )

    def stop(self) -> None:
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None
        if self.persistence is not None:
            self.persistence.stop(self.component.user)
