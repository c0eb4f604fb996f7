"""``eventing.knative.dev/v1``: Broker, Trigger.

Modules: :mod:`.types`, :mod:`.defaults`, :mod:`.validation` and :mod:`.lifecycle`.
"""

from zeroserve.apis.knative.eventing.v1.types import *  # noqa: F403
from zeroserve.apis.knative.eventing.v1.types import __all__ as _types_all

__all__ = list(_types_all)
