"""Validation of a SeldonDeployment, returning every error with its field path.

:func:`validate_seldon_deployment` reports:

- ``metadata.name``: a DNS-1035 label; ``seldon.io/rest-timeout`` annotations (deployment, spec or
  predictor) positive milliseconds; each component's Knative Service name
  (``<sdep>-<predictor>-<unit>``) fits 63 characters;
- ``spec.predictors``: at least one, unique names (DNS-1035 labels), the live (non-shadow)
  predictors' ``traffic`` sums to 100;
- each graph unit (path ``spec.predictors[i].graph.children[j]...``): a name, unique within the
  predictor; no unit is its own ancestor (a cycle); ``type``, ``implementation``, ``methods``,
  ``endpoint.type``, ``logger.mode`` and parameter types among Seldon's values, parameter values that
  parse as their type, an ``n_branches`` parameter (Seldon's bandit routers) equal to the number of
  children; a ROUTER or COMBINER has children; every unit is served by something: a
  container of its name with an ``image`` in the predictor's ``componentSpecs``, an
  ``implementation`` (a prepackaged server with a ``modelUri``), or an ``endpoint.service_host``.

A ``protocol`` other than ``seldon`` on a graph of several units is refused (a one-unit graph passes
every path through to its unit); ``spec.transport: grpc`` is served (components called over gRPC).

A predictor whose ``graph`` is a list (two roots) is refused while parsing
(:class:`~zeroserve.apis.seldon.types.PredictorSpec`).
"""

from __future__ import annotations

import json

from zeroserve.apis.field_errors import FieldError, join_path
from zeroserve.apis.names import dns1035_label_errors
from zeroserve.apis.seldon.types import (
    IMPLEMENTATIONS,
    METHODS,
    PARAMETER_TYPES,
    PREPACKAGED_SERVERS,
    UNIT_TYPES,
    Parameter,
    PredictiveUnit,
    PredictorSpec,
    SeldonDeployment,
)

__all__ = ["MAX_NAME", "component_service_name", "parameter_value", "validate_seldon_deployment"]

MAX_NAME = 63
REST_TIMEOUT = "seldon.io/rest-timeout"


def component_service_name(sdep: str, predictor: str, unit: str) -> str:
    """The Knative Service name of one graph unit: ``<sdep>-<predictor>-<unit>``, lower case."""
    return f"{sdep}-{predictor}-{unit}".lower().replace("_", "-").replace(".", "-")


def parameter_value(parameter: Parameter) -> object:
    """A parameter's value as its declared type; raises ``ValueError`` when it does not parse."""
    value, kind = parameter.value, parameter.type
    if kind == "INT":
        return int(value)
    if kind in ("FLOAT", "DOUBLE"):
        return float(value)
    if kind == "BOOL":
        if value.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{value!r} is not a BOOL (true or false)")
        return value.lower() in ("true", "1")
    if kind == "JSON":
        return json.loads(value)
    return value


def validate_seldon_deployment(sdep: SeldonDeployment) -> list[FieldError]:
    """Check a SeldonDeployment.

    Args:
        sdep: The deployment, normally after
            :func:`~zeroserve.apis.seldon.defaults.default_seldon_deployment`.

    Returns:
        Every broken rule, in a stable order; empty when the deployment is valid.
    """
    errors: list[FieldError] = []
    if not sdep.name:
        errors.append(FieldError("metadata.name", "is required"))
    else:
        errors += [FieldError("metadata.name", p) for p in dns1035_label_errors(sdep.name)]
    for path, source in (
        ("metadata.annotations", sdep.annotations),
        ("spec.annotations", sdep.spec.annotations),
        *(
            (join_path("spec.predictors", i, "annotations"), p.annotations)
            for i, p in enumerate(sdep.spec.predictors)
        ),
    ):
        value = (source or {}).get(REST_TIMEOUT)
        if value is not None and not (value.isdigit() and int(value) > 0):
            errors.append(
                FieldError(
                    f"{path}[{REST_TIMEOUT}]", f"must be a positive number of milliseconds, got {value!r}"
                )
            )
    predictors = sdep.spec.predictors
    if not predictors:
        errors.append(FieldError("spec.predictors", "at least one predictor is required"))
    seen: set[str] = set()
    for index, predictor in enumerate(predictors):
        path = join_path("spec.predictors", index)
        if predictor.name in seen:
            errors.append(FieldError(join_path(path, "name"), f"duplicate predictor name {predictor.name!r}"))
        seen.add(predictor.name)
        errors += [FieldError(join_path(path, "name"), p) for p in dns1035_label_errors(predictor.name)]
        errors += _validate_predictor(path, sdep.name or "", predictor)
    for index, predictor in enumerate(predictors):
        protocol = predictor.protocol or sdep.spec.protocol or "seldon"
        if protocol != "seldon" and len(predictor.graph.walk()) > 1:
            errors.append(
                FieldError(
                    join_path("spec.predictors", index, "graph"),
                    f"a graph of several units needs protocol seldon, got {protocol!r} (a one-unit graph "
                    "passes any protocol through)",
                )
            )
    live = [p for p in predictors if not p.shadow]
    total = sum(p.traffic or 0 for p in live)
    if live and total != 100:
        shares = ", ".join(f"{p.name}={p.traffic or 0}" for p in live)
        errors.append(
            FieldError(
                "spec.predictors",
                f"traffic of the non-shadow predictors must sum to 100, got {total} ({shares})",
            )
        )
    for index, predictor in enumerate(predictors):
        if predictor.traffic is not None and not 0 <= predictor.traffic <= 100:
            errors.append(
                FieldError(join_path("spec.predictors", index, "traffic"), "must be between 0 and 100")
            )
    return errors


def _validate_predictor(path: str, sdep_name: str, predictor: PredictorSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    containers = predictor.containers()
    names: set[str] = set()

    def visit(unit: PredictiveUnit, unit_path: str, ancestors: list[str]) -> None:
        if unit.name in ancestors:
            chain = " -> ".join([*ancestors[ancestors.index(unit.name) :], unit.name])
            errors.append(FieldError(join_path(unit_path, "name"), f"graph cycle: {chain}"))
            return
        if unit.name in names:
            errors.append(
                FieldError(join_path(unit_path, "name"), f"duplicate unit name {unit.name!r} in the graph")
            )
        names.add(unit.name)
        errors.extend(_validate_unit(unit_path, sdep_name, predictor.name, unit, containers))
        for index, child in enumerate(unit.children or []):
            visit(child, join_path(unit_path, "children", index), [*ancestors, unit.name])

    visit(predictor.graph, join_path(path, "graph"), [])
    return errors


def _validate_unit(
    path: str,
    sdep_name: str,
    predictor: str,
    unit: PredictiveUnit,
    containers: dict[str, tuple[int, dict[str, object]]],
) -> list[FieldError]:
    errors: list[FieldError] = []
    if not unit.name:
        errors.append(FieldError(join_path(path, "name"), "is required"))
    elif sdep_name and len(component_service_name(sdep_name, predictor, unit.name)) > MAX_NAME:
        service = component_service_name(sdep_name, predictor, unit.name)
        errors.append(
            FieldError(
                join_path(path, "name"), f"the component's service name {service!r} is longer than {MAX_NAME}"
            )
        )
    if unit.type is not None and unit.type not in UNIT_TYPES:
        errors.append(
            FieldError(join_path(path, "type"), f"unknown type {unit.type!r}; one of {', '.join(UNIT_TYPES)}")
        )
    if unit.implementation is not None and unit.implementation not in IMPLEMENTATIONS:
        errors.append(
            FieldError(
                join_path(path, "implementation"),
                f"unknown implementation {unit.implementation!r}; one of {', '.join(IMPLEMENTATIONS)}",
            )
        )
    for index, method in enumerate(unit.methods or []):
        if method not in METHODS:
            errors.append(
                FieldError(
                    join_path(path, "methods", index),
                    f"unknown method {method!r}; one of {', '.join(METHODS)}",
                )
            )
    if unit.endpoint is not None and unit.endpoint.type not in (None, "REST", "GRPC"):
        errors.append(
            FieldError(join_path(path, "endpoint.type"), f"must be REST or GRPC, got {unit.endpoint.type!r}")
        )
    if unit.logger is not None and unit.logger.mode not in (None, "all", "request", "response"):
        errors.append(
            FieldError(
                join_path(path, "logger.mode"), f"must be all, request or response, got {unit.logger.mode!r}"
            )
        )
    for index, parameter in enumerate(unit.parameters or []):
        ppath = join_path(path, "parameters", index)
        if parameter.type not in PARAMETER_TYPES:
            errors.append(
                FieldError(
                    join_path(ppath, "type"),
                    f"unknown type {parameter.type!r}; one of {', '.join(PARAMETER_TYPES)}",
                )
            )
            continue
        try:
            parameter_value(parameter)
        except ValueError as exc:
            errors.append(FieldError(join_path(ppath, "value"), f"does not parse as {parameter.type}: {exc}"))
    branches = next((p for p in unit.parameters or [] if p.name == "n_branches"), None)
    children = len(unit.children or [])
    if (
        branches is not None
        and branches.value.isdigit()
        and unit.children
        and int(branches.value) != children
    ):
        errors.append(
            FieldError(
                join_path(path, "parameters", (unit.parameters or []).index(branches), "value"),
                f"n_branches is {branches.value} but the unit has {children} children",
            )
        )
    if unit.type in ("ROUTER", "COMBINER") and not unit.children:
        errors.append(FieldError(join_path(path, "children"), f"a {unit.type} needs at least one child"))
    container = containers.get(unit.name)
    external = unit.endpoint is not None and bool(unit.endpoint.service_host)
    if container is not None:
        if not container[1].get("image"):
            errors.append(
                FieldError(
                    join_path(path, "name"),
                    f"the container {unit.name!r} of componentSpecs[{container[0]}] has no image",
                )
            )
    elif unit.implementation in PREPACKAGED_SERVERS:
        if not unit.model_uri:
            errors.append(FieldError(join_path(path, "modelUri"), f"{unit.implementation} needs a modelUri"))
    elif not unit.implementation and not external:
        errors.append(
            FieldError(
                join_path(path, "name"),
                f"unit {unit.name!r} has no container of that name in componentSpecs and no implementation",
            )
        )
    return errors
