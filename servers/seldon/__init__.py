"""Seldon Core's Python language wrapper and the Seldon protocol.

- :mod:`.microservice`: ``seldon-core-microservice`` / ``zeroserve serve seldon``.
- :mod:`.user`: finding the user's class and typing ``--parameters``.
- :mod:`.component`: Seldon's operations over a duck-typed user object, transport-free.
- :mod:`.payload`, :mod:`.tftensor`: SeldonMessage data and meta, in and out.
- :mod:`.rest`, :mod:`.grpc_services`: one translation module per transport.
- :mod:`.custom_metrics`, :mod:`.metadata`, :mod:`.persistence`: what a component reports and keeps.
"""

from zeroserve.servers.seldon.component import SeldonComponent, SeldonResponse
from zeroserve.servers.seldon.errors import SeldonError
from zeroserve.servers.seldon.model import SeldonModel

__all__ = ["SeldonComponent", "SeldonError", "SeldonModel", "SeldonResponse"]
