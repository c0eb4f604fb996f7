"""KServe's validation of an InferenceGraph, plus zeroserve's graph checks, returning every error.

These are the one set of rules for a graph: the API server's admission, the controller and the router
(:mod:`zeroserve.router.planner`) all call them, so none of them accepts a graph another refuses.

:func:`validate_inference_graph` reports, with field paths:

- ``metadata.name``: a DNS-1035 label;
- ``spec.nodes``: a node named ``root`` exists; every node's ``routerType`` is Sequence, Splitter,
  Ensemble or Switch and it has at least one step;
- each step: exactly one of ``nodeName`` / ``serviceName`` / ``serviceUrl``; ``nodeName`` names an
  existing node; ``serviceUrl`` is an absolute http(s) URL; ``data`` is ``$request`` or
  ``$response``; ``dependency`` is Soft or Hard; step names are unique within a node;
- Splitter: every step has a ``weight`` (0..100) and the weights sum to 100; other routers: no weights;
- Switch: every step has a ``condition``; a ``condition`` is a GJSON path that parses
  (:mod:`~zeroserve.apis.serving.v1alpha1.gjson`; GJSON itself would never match a malformed one);
- no cycle through ``nodeName`` references;
- scaling as for InferenceService components, ``timeout`` and ``routerTimeouts`` >= 0;
- the bandit annotation (:data:`~zeroserve.apis.serving.v1alpha1.types.BANDIT_ANNOTATION`), parsed
  by :func:`bandit_nodes`.

:func:`validate_inference_graph_spec` checks all of it but ``metadata.name``: what can be checked of a
bare spec, which is what KServe's controller hands its router.
"""

from __future__ import annotations

import json
from urllib.parse import urlparse

from pydantic import ValidationError

from zeroserve.apis.field_errors import FieldError, from_pydantic, join_path
from zeroserve.apis.names import dns1035_label_errors
from zeroserve.apis.serving.autoscaling import autoscaler_class, validate_scaling
from zeroserve.apis.serving.v1alpha1.gjson import GJSONSyntaxError, compile_path
from zeroserve.apis.serving.v1alpha1.types import (
    BANDIT_ANNOTATION,
    BANDIT_STRATEGIES,
    ROUTER_TYPES,
    BanditSpec,
    InferenceGraph,
    InferenceRouter,
)

__all__ = [
    "ROOT_NODE",
    "bandit_nodes",
    "validate_inference_graph",
    "validate_inference_graph_spec",
]

ROOT_NODE = "root"
_DATA_VALUES = ("$request", "$response")
_DEPENDENCIES = ("Soft", "Hard")


def validate_inference_graph(graph: InferenceGraph) -> list[FieldError]:
    """Check an InferenceGraph.

    Args:
        graph: The graph, normally after
            :func:`~zeroserve.apis.serving.v1alpha1.defaults.default_inference_graph`.

    Returns:
        Every broken rule, in a stable order; empty when the graph is valid.
    """
    errors: list[FieldError] = []
    if not graph.name:
        errors.append(FieldError("metadata.name", "is required"))
    else:
        errors += [FieldError("metadata.name", problem) for problem in dns1035_label_errors(graph.name)]
    return errors + validate_inference_graph_spec(graph)


def validate_inference_graph_spec(graph: InferenceGraph) -> list[FieldError]:
    """Check everything :func:`validate_inference_graph` checks but the graph's name.

    Args:
        graph: The graph (its annotations are read for the autoscaler class and the bandits), normally
            after :func:`~zeroserve.apis.serving.v1alpha1.defaults.default_inference_graph`.

    Returns:
        Every broken rule, in a stable order; empty when the spec and annotations are valid.
    """
    errors: list[FieldError] = []
    spec = graph.spec
    if ROOT_NODE not in spec.nodes:
        errors.append(
            FieldError(
                "spec.nodes",
                "root node not found, InferenceGraph needs a node with name 'root' as the root node "
                "of the graph",
            )
        )
    for node_name, router in spec.nodes.items():
        errors += _validate_node(join_path("spec.nodes", f"[{node_name}]"), router, set(spec.nodes))
    errors += _validate_acyclic(graph)
    errors += validate_scaling(
        "spec",
        min_replicas=spec.min_replicas,
        max_replicas=spec.max_replicas,
        scale_metric=spec.scale_metric,
        scale_target=spec.scale_target,
        autoscaler=autoscaler_class(graph.metadata.annotations),
    )
    if spec.timeout is not None and spec.timeout < 0:
        errors.append(FieldError("spec.timeout", "must be >= 0"))
    if spec.router_timeouts is not None:
        for field, value in spec.router_timeouts.to_dict().items():
            if isinstance(value, int) and value < 0:
                errors.append(FieldError(join_path("spec.routerTimeouts", field), "must be >= 0"))
    _, bandit_errors = _parse_bandits(graph)
    errors += bandit_errors
    return errors


def _validate_node(path: str, router: InferenceRouter, node_names: set[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    if router.router_type not in ROUTER_TYPES:
        errors.append(FieldError(join_path(path, "routerType"), f"must be one of {', '.join(ROUTER_TYPES)}"))
    steps = router.steps or []
    if not steps:
        errors.append(FieldError(join_path(path, "steps"), "must have at least one step"))
    seen: set[str] = set()
    total_weight = 0
    for index, step in enumerate(steps):
        step_path = join_path(path, "steps", index)
        if step.name:
            if step.name in seen:
                errors.append(FieldError(join_path(step_path, "name"), f"duplicate step name {step.name!r}"))
            seen.add(step.name)
        targets = step.targets()
        if len(targets) != 1:
            errors.append(
                FieldError(step_path, "exactly one of [nodeName, serviceName, serviceUrl] must be specified")
            )
        if step.node_name and step.node_name not in node_names:
            errors.append(
                FieldError(join_path(step_path, "nodeName"), f"node {step.node_name!r} does not exist")
            )
        if step.service_url and not _is_absolute_url(step.service_url):
            errors.append(FieldError(join_path(step_path, "serviceUrl"), "must be an absolute http(s) URL"))
        if step.data is not None and step.data not in _DATA_VALUES:
            errors.append(FieldError(join_path(step_path, "data"), "must be $request or $response"))
        if step.dependency is not None and step.dependency not in _DEPENDENCIES:
            errors.append(FieldError(join_path(step_path, "dependency"), "must be Soft or Hard"))
        if router.router_type == "Splitter":
            if step.weight is None:
                errors.append(FieldError(join_path(step_path, "weight"), "is required for a Splitter step"))
            elif not 0 <= step.weight <= 100:
                errors.append(FieldError(join_path(step_path, "weight"), "must be between 0 and 100"))
            else:
                total_weight += step.weight
        elif step.weight is not None:
            errors.append(FieldError(join_path(step_path, "weight"), "is allowed only in a Splitter node"))
        if router.router_type == "Switch" and not step.condition:
            errors.append(FieldError(join_path(step_path, "condition"), "is required for a Switch step"))
        if step.condition:
            try:
                compile_path(step.condition)
            except GJSONSyntaxError as exc:
                problem = f"invalid GJSON path {step.condition!r}: {exc}"
                errors.append(FieldError(join_path(step_path, "condition"), problem))
    if router.router_type == "Splitter" and steps and total_weight != 100:
        errors.append(
            FieldError(
                join_path(path, "steps"),
                "splitter node: the sum of traffic weights for all routing targets should be 100",
            )
        )
    return errors


def _validate_acyclic(graph: InferenceGraph) -> list[FieldError]:
    edges = {
        name: [step.node_name for step in router.steps or [] if step.node_name in graph.spec.nodes]
        for name, router in graph.spec.nodes.items()
    }
    state: dict[str, int] = {}
    cycles: list[FieldError] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for child in edges[node]:
            assert child is not None
            if state.get(child) == 1:
                loop = [*trail[trail.index(child) :], child]
                cycles.append(FieldError("spec.nodes", f"the graph has a cycle: {' -> '.join(loop)}"))
            elif child not in state:
                visit(child, [*trail, child])
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    return cycles


def _is_absolute_url(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


def bandit_nodes(graph: InferenceGraph) -> dict[str, BanditSpec]:
    """The nodes the bandit annotation turns into multi-armed bandits.

    Args:
        graph: The graph.

    Returns:
        Node name to its :class:`BanditSpec`; empty without the annotation. Raises ``ValueError`` with
        every problem when the annotation is invalid (:func:`validate_inference_graph` reports them
        as field errors instead).
    """
    bandits, errors = _parse_bandits(graph)
    if errors:
        raise ValueError("; ".join(str(error) for error in errors))
    return bandits


def _parse_bandits(graph: InferenceGraph) -> tuple[dict[str, BanditSpec], list[FieldError]]:
    raw = graph.annotations.get(BANDIT_ANNOTATION)
    if raw is None:
        return {}, []
    path = f"metadata.annotations[{BANDIT_ANNOTATION}]"
    try:
        document = json.loads(raw)
    except ValueError as exc:
        return {}, [FieldError(path, f"must be a JSON object: {exc}")]
    if not isinstance(document, dict):
        return {}, [FieldError(path, "must be a JSON object from node name to bandit settings")]
    bandits: dict[str, BanditSpec] = {}
    errors: list[FieldError] = []
    for node_name, settings in document.items():
        node_path = join_path(path, f"[{node_name}]")
        router = graph.spec.nodes.get(node_name)
        if router is None:
            errors.append(FieldError(node_path, f"node {node_name!r} does not exist"))
            continue
        if router.router_type != "Splitter":
            errors.append(FieldError(node_path, "a bandit node must have routerType Splitter"))
        try:
            spec = BanditSpec.model_validate(settings)
        except ValidationError as exc:
            errors += from_pydantic(exc, node_path)
            continue
        if spec.strategy not in BANDIT_STRATEGIES:
            errors.append(
                FieldError(join_path(node_path, "strategy"), f"must be one of {', '.join(BANDIT_STRATEGIES)}")
            )
        if spec.epsilon is not None and not 0.0 <= spec.epsilon <= 1.0:
            errors.append(FieldError(join_path(node_path, "epsilon"), "must be between 0 and 1"))
        bandits[node_name] = spec
    return bandits, errors
