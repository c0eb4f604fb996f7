"""``serving.kserve.io/v1alpha1``: InferenceGraph.

Modules: :mod:`.types`, :mod:`.defaults`, :mod:`.validation` (including the bandit annotation) and
:mod:`.lifecycle`.
"""

from zeroserve.apis.serving.v1alpha1.types import *  # noqa: F403
from zeroserve.apis.serving.v1alpha1.types import __all__ as _types_all

__all__ = list(_types_all)
