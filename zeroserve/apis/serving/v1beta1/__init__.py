"""``serving.kserve.io/v1beta1``: InferenceService.

Modules: :mod:`.types` (the pydantic types), :mod:`.defaults` (KServe's defaulting),
:mod:`.validation` (KServe's validation, every error with its path) and :mod:`.lifecycle`
(conditions and status propagation from Knative Services).
"""

from zeroserve.apis.serving.v1beta1.types import *  # noqa: F403
from zeroserve.apis.serving.v1beta1.types import __all__ as _types_all

__all__ = list(_types_all)
