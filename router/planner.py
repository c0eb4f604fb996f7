"""The planner: an InferenceGraph (spec or whole object, as JSON) -> an :class:`ExecutableGraph`.

Whether a graph is valid is decided by :mod:`zeroserve.apis.serving.v1alpha1` alone, with the same
calls the API server and the controller make (parse the types, apply the defaults, validate), so the
router never runs a graph the controller refuses nor refuses one it accepts. Every problem comes back
at once, each with its field path, in a :class:`~zeroserve.router.errors.GraphPlanError`. What stays
here is turning a valid graph into the executable plan: step targets resolved to URLs, conditions
compiled, timeouts in seconds, bandits attached to their nodes, and warnings about fields that are
valid but do nothing useful. Pure: no I/O, no clock.

Input accepted:

- a bare ``InferenceGraphSpec`` (what KServe's controller passes as ``--graph-json``): checked as
  :func:`~zeroserve.apis.serving.v1alpha1.validation.validate_inference_graph_spec` does, everything
  but the name it does not carry;
- a whole ``InferenceGraph`` object (``metadata`` + ``spec``): its ``metadata.namespace`` resolves
  ``serviceName`` steps and its annotations may declare bandits
  (:data:`~zeroserve.apis.serving.v1alpha1.types.BANDIT_ANNOTATION`); its name is checked when given.

``serviceName`` steps: KServe's controller resolves them to ``serviceUrl`` before starting the router,
leaving both fields set, so ``serviceUrl`` wins when both are given (the step then targets the URL
only). A ``serviceName`` alone resolves to
``http://<name>.<namespace>.svc.cluster.local/v1/models/<name>:predict``.

Timeouts are whole seconds (KServe's ``int64`` fields); ``0`` means no timeout, as in Go's HTTP
client and server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from zeroserve.apis.field_errors import FieldError, from_pydantic
from zeroserve.apis.serving.v1alpha1.defaults import default_inference_graph
from zeroserve.apis.serving.v1alpha1.gjson import compile_path
from zeroserve.apis.serving.v1alpha1.types import BANDIT_ANNOTATION, BanditSpec, InferenceGraph, InferenceStep
from zeroserve.apis.serving.v1alpha1.validation import (
    bandit_nodes,
    validate_inference_graph,
    validate_inference_graph_spec,
)
from zeroserve.router.errors import GraphPlanError, PlanIssue
from zeroserve.router.plan import (
    BanditConfig,
    BanditStrategy,
    Dependency,
    ExecutableGraph,
    Node,
    RouterType,
    Step,
    StepInput,
)

__all__ = ["BANDITS_ANNOTATION", "load_graph_json", "plan_graph", "service_name_url"]

BANDITS_ANNOTATION = BANDIT_ANNOTATION
"""The graph annotation that turns Splitter nodes into bandits (the API types' name for it)."""

DEFAULT_EPSILON = 0.1
"""EpsilonGreedy's exploration probability when the annotation does not set ``epsilon``."""


def service_name_url(service: str, namespace: str) -> str:
    """KServe's URL for a ``serviceName`` step (V1 predict on the InferenceService's cluster address).

    Args:
        service: the InferenceService name (also its model name).
        namespace: the graph's namespace.

    Returns:
        ``http://<service>.<namespace>.svc.cluster.local/v1/models/<service>:predict``.
    """
    return f"http://{service}.{namespace}.svc.cluster.local/v1/models/{service}:predict"


def load_graph_json(text: str | bytes, *, namespace: str = "default") -> ExecutableGraph:
    """Parse ``--graph-json`` and plan it.

    Args:
        text: the JSON of an InferenceGraph spec or object.
        namespace: the namespace for ``serviceName`` steps when the JSON does not say.

    Returns:
        The executable graph.

    Raises:
        GraphPlanError: the JSON is malformed or the graph invalid.
    """
    try:
        document = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise GraphPlanError([PlanIssue("graph-json", f"not valid JSON: {exc}")]) from exc
    if not isinstance(document, dict):
        raise GraphPlanError([PlanIssue("graph-json", "must be a JSON object")])
    return plan_graph(document, namespace=namespace)


def plan_graph(document: Mapping[str, Any], *, namespace: str = "default") -> ExecutableGraph:
    """Validate an InferenceGraph spec (or object) and build its executable graph.

    Args:
        document: the parsed JSON of a bare spec or of a whole InferenceGraph object.
        namespace: the namespace for ``serviceName`` steps when ``metadata.namespace`` is absent.

    Returns:
        The executable graph; its ``warnings`` list valid fields that have no effect.

    Raises:
        GraphPlanError: with every issue found, each with its field path.
    """
    graph, whole = _parse(document)
    validate = validate_inference_graph if whole and graph.name else validate_inference_graph_spec
    errors = validate(graph)
    if errors:
        raise GraphPlanError([_issue(error) for error in errors])
    return _Builder(graph, graph.namespace or namespace).build()


def _issue(error: FieldError) -> PlanIssue:
    return PlanIssue(error.path, error.message)


def _parse(document: Mapping[str, Any]) -> tuple[InferenceGraph, bool]:
    """The defaulted graph, and whether ``document`` was a whole object (not a bare spec)."""
    whole = isinstance(document.get("spec"), dict) and "nodes" not in document
    raw = dict(document) if whole else {"spec": dict(document)}
    try:
        graph = InferenceGraph.from_dict(raw)
    except ValidationError as exc:
        raise GraphPlanError([_issue(error) for error in from_pydantic(exc)]) from exc
    for router in graph.spec.nodes.values():
        for step in router.steps or []:
            if step.service_url and step.service_name:
                step.service_name = None  # resolved by the controller: the URL is the target
    return default_inference_graph(graph), whole


class _Builder:
    """Turns a valid graph into its executable plan, collecting warnings on the way."""

    def __init__(self, graph: InferenceGraph, namespace: str) -> None:
        self.graph = graph
        self.namespace = namespace
        self.warnings: list[PlanIssue] = []

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(PlanIssue(path, message))

    def build(self) -> ExecutableGraph:
        bandits = {name: self.bandit(name, spec) for name, spec in bandit_nodes(self.graph).items()}
        nodes: dict[str, Node] = {}
        for name, router in self.graph.spec.nodes.items():
            router_type = RouterType(router.router_type)
            steps = tuple(
                self.step(index, step, router_type, f"spec.nodes[{name}].steps[{index}]")
                for index, step in enumerate(router.steps or [])
            )
            nodes[name] = Node(name, router_type, steps, bandits.get(name))
        spec = self.graph.spec
        timeouts = spec.router_timeouts
        return ExecutableGraph(
            nodes=nodes,
            name=self.graph.name,
            namespace=self.namespace,
            timeout=_seconds(spec.timeout),
            step_timeout=_seconds(timeouts.service_client if timeouts else None),
            idle_timeout=_seconds(timeouts.server_idle if timeouts else None),
            warnings=tuple(self.warnings),
        )

    def step(self, index: int, step: InferenceStep, router_type: RouterType, path: str) -> Step:
        condition = compile_path(step.condition) if step.condition else None
        if router_type is RouterType.SEQUENCE and index == 0 and condition is not None:
            self.warn(f"{path}.condition", "a condition on a Sequence's first step always fails with 500")
        if router_type in (RouterType.ENSEMBLE, RouterType.SPLITTER) and condition is not None:
            self.warn(f"{path}.condition", f"ignored by a {router_type.value} node")
        data = StepInput(step.data) if step.data else StepInput.REQUEST
        if data is StepInput.RESPONSE and index == 0:
            self.warn(f"{path}.data", "$response on a first step means $request")
        url = step.service_url
        if step.service_name and not url:
            url = service_name_url(step.service_name, self.namespace)
        return Step(
            index=index,
            key=step.name or str(index),
            url=url,
            node=step.node_name,
            data=data,
            map_predictions_to_instances=bool(step.map_predictions_to_instances),
            weight=step.weight,
            condition=condition,
            dependency=Dependency(step.dependency or Dependency.SOFT),
        )

    def bandit(self, node: str, spec: BanditSpec) -> BanditConfig:
        unknown = sorted(spec.model_extra or {})
        if unknown:
            path = f"metadata.annotations[{BANDIT_ANNOTATION}][{node}]"
            self.warn(path, f"unknown fields ignored: {unknown}")
        epsilon = DEFAULT_EPSILON if spec.epsilon is None else spec.epsilon
        return BanditConfig(strategy=BanditStrategy(spec.strategy), epsilon=epsilon, seed=spec.seed)


def _seconds(value: int | None) -> float | None:
    """A timeout field in seconds; unset and ``0`` (Go's "no timeout") are ``None``."""
    return float(value) if value else None
