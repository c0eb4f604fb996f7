"""Where a transformer's predictor lives and how to talk to it (data only, no client)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PredictorConfig", "PredictorProtocol"]

PredictorProtocol = Literal["v1", "v2", "grpc-v2"]


@dataclass(frozen=True)
class PredictorConfig:
    """How a :class:`~zeroserve.servers.model.Model` in transformer mode reaches its predictor.

    Mirrors KServe's ``PredictorConfig`` and its ``--predictor_*`` flags.
    """

    predictor_host: str
    """``host[:port]`` of the predictor, e.g. ``iris-predictor.default`` (KServe's controller sets it)."""
    predictor_protocol: PredictorProtocol = "v1"
    """Protocol spoken to the predictor: ``v1`` and ``v2`` over REST, ``grpc-v2`` over gRPC."""
    predictor_use_ssl: bool = False
    """Use ``https`` (or a TLS gRPC channel) to reach the predictor."""
    predictor_request_timeout_seconds: float = 600.0
    """Timeout of one request to the predictor."""
    predictor_request_retries: int = 0
    """Retries of a request that failed to connect (not of answered requests)."""
    predictor_health_check: bool = False
    """Accepted for KServe compatibility (KServe's ``--enable_predictor_health_check``)."""
