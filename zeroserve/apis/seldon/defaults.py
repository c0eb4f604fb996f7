"""Seldon's operator defaulting of a SeldonDeployment, as a pure function.

:func:`default_seldon_deployment` returns a defaulted copy:

- a unit's ``type`` follows its ``implementation`` (prepackaged servers and ``SIMPLE_MODEL`` are
  ``MODEL``, ``SIMPLE_ROUTER``/``RANDOM_ABTEST`` ``ROUTER``, ``AVERAGE_COMBINER`` ``COMBINER``); a unit
  with neither ``type``, ``implementation`` nor ``methods`` is a ``MODEL``;
- ``endpoint.type`` defaults to ``REST``;
- a lone predictor without ``traffic`` gets 100 (as the operator does for one predictor).
"""

from __future__ import annotations

from zeroserve.apis.seldon.types import PREPACKAGED_SERVERS, Endpoint, PredictiveUnit, SeldonDeployment

__all__ = ["default_seldon_deployment", "unit_type"]

_IMPLEMENTATION_TYPES = {
    **dict.fromkeys(PREPACKAGED_SERVERS, "MODEL"),
    "SIMPLE_MODEL": "MODEL",
    "SIMPLE_ROUTER": "ROUTER",
    "RANDOM_ABTEST": "ROUTER",
    "AVERAGE_COMBINER": "COMBINER",
}


def unit_type(unit: PredictiveUnit) -> str:
    """The unit's type after defaulting (see the module docstring)."""
    if unit.type:
        return unit.type
    if unit.implementation in _IMPLEMENTATION_TYPES:
        return _IMPLEMENTATION_TYPES[unit.implementation]
    return "UNKNOWN_TYPE" if unit.methods else "MODEL"


def _default_unit(unit: PredictiveUnit) -> None:
    unit.type = unit_type(unit)
    if unit.endpoint is None:
        unit.endpoint = Endpoint()
    if unit.endpoint.type is None:
        unit.endpoint.type = "REST"
    for child in unit.children or []:
        _default_unit(child)


def default_seldon_deployment(sdep: SeldonDeployment) -> SeldonDeployment:
    """Apply the operator's defaults.

    Args:
        sdep: The SeldonDeployment as the user wrote it.

    Returns:
        A defaulted deep copy; ``sdep`` is unchanged. Defaulting twice changes nothing more.
    """
    result = sdep.model_copy(deep=True)
    for predictor in result.spec.predictors:
        _default_unit(predictor.graph)
    live = [p for p in result.spec.predictors if not p.shadow]
    if len(live) == 1 and live[0].traffic is None:
        live[0].traffic = 100
    return result
