"""``machinelearning.seldon.io/v1``: SeldonDeployment.

Modules: :mod:`.types`, :mod:`.defaults`, :mod:`.validation` and :mod:`.lifecycle`.
"""

from zeroserve.apis.seldon.types import *  # noqa: F403
from zeroserve.apis.seldon.types import __all__ as _types_all

__all__ = list(_types_all)
