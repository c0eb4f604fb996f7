"""``gateway.networking.k8s.io/v1``: HTTPRoute (the subset the controller uses).

Modules: :mod:`.types`, :mod:`.defaults`, :mod:`.validation` and :mod:`.lifecycle`.
"""

from zeroserve.apis.gateway.v1.types import *  # noqa: F403
from zeroserve.apis.gateway.v1.types import __all__ as _types_all

__all__ = list(_types_all)
