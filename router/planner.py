"""The planner: an InferenceGraph (spec or whole object, as JSON) -> a validated ExecutableGraph.

Pure: no I/O, no clock. Every problem is collected with its field path and reported at once in a
:class:`~zeroserve.router.errors.GraphPlanError`. The rules are KServe's (a ``root`` node, unique step
names per node, one target per step, Splitter weights that sum to 100) plus what KServe's router
fails on only at request time: references to missing nodes, cycles through ``nodeName``, malformed
GJSON conditions, nodes without steps.

Input accepted:

- a bare ``InferenceGraphSpec`` (what KServe's controller passes as ``--graph-json``), or
- a whole ``InferenceGraph`` object (``metadata`` + ``spec``): its ``metadata.namespace`` resolves
  ``serviceName`` steps and its annotations may declare bandits.

``serviceName`` steps: KServe's controller resolves them to ``serviceUrl`` before starting the router,
leaving both fields set, so ``serviceUrl`` wins when both are given. A ``serviceName`` alone resolves
to ``http://<name>.<namespace>.svc.cluster.local/v1/models/<name>:predict``.

Bandits (our extension; KServe YAML stays valid): the annotation ``serving.zeroserve.io/bandit`` on
the InferenceGraph holds a JSON object mapping node names to a bandit config::

    metadata:
      annotations:
        serving.zeroserve.io/bandit: '{"root": {"strategy": "ThompsonSampling", "seed": 7}}'

The node must be a ``Splitter`` (its weights still sum to 100, so KServe runs the same YAML as a
fixed split); ``strategy`` is ``EpsilonGreedy`` (``epsilon``, default 0.1; the step with the largest
weight is the initial best) or ``ThompsonSampling``; ``seed`` (optional) seeds its random generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from zeroserve.apis.serving.v1alpha1.types import BANDIT_ANNOTATION as BANDITS_ANNOTATION
from zeroserve.router.errors import GraphPlanError, PlanIssue
from zeroserve.router.gjson import GJSONSyntaxError, compile_path
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


ROOT = "root"


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
        The executable graph; its ``warnings`` list accepted-but-suspicious fields.

    Raises:
        GraphPlanError: with every issue found, each with its field path.
    """
    return _Planner(document, namespace).plan()


def _is_object(document: Mapping[str, Any]) -> bool:
    return isinstance(document.get("spec"), dict) and "nodes" not in document


class _Planner:
    def __init__(self, document: Mapping[str, Any], namespace: str) -> None:
        self.issues: list[PlanIssue] = []
        self.warnings: list[PlanIssue] = []
        metadata: Mapping[str, Any] = {}
        if _is_object(document):
            raw_meta = document.get("metadata") or {}
            metadata = raw_meta if isinstance(raw_meta, dict) else {}
            self.spec: Mapping[str, Any] = document["spec"]
        else:
            self.spec = document
        self.name = str(metadata.get("name") or "")
        self.namespace = str(metadata.get("namespace") or namespace)
        annotations = metadata.get("annotations")
        self.annotations: Mapping[str, Any] = annotations if isinstance(annotations, dict) else {}

    def error(self, path: str, message: str) -> None:
        self.issues.append(PlanIssue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(PlanIssue(path, message))

    def plan(self) -> ExecutableGraph:
        raw_nodes = self.spec.get("nodes")
        nodes: dict[str, Node] = {}
        if not isinstance(raw_nodes, dict) or not raw_nodes:
            self.error("spec.nodes", "required: a map of node name to node")
        else:
            for name, raw in raw_nodes.items():
                node = self.node(str(name), raw, f"spec.nodes[{name}]")
                if node is not None:
                    nodes[str(name)] = node
            if ROOT not in raw_nodes:
                self.error("spec.nodes", f"a node named {ROOT!r} is required")
            self.check_references(nodes)
        bandits = self.bandits(nodes)
        nodes = {n: Node(v.name, v.router_type, v.steps, bandits.get(n)) for n, v in nodes.items()}
        timeout = self.seconds(self.spec.get("timeout"), "spec.timeout")
        raw_timeouts = self.spec.get("routerTimeouts") or {}
        if not isinstance(raw_timeouts, dict):
            self.error("spec.routerTimeouts", "must be an object")
            raw_timeouts = {}
        step_timeout = self.seconds(raw_timeouts.get("serviceClient"), "spec.routerTimeouts.serviceClient")
        idle_timeout = self.seconds(raw_timeouts.get("serverIdle"), "spec.routerTimeouts.serverIdle")
        if self.issues:
            raise GraphPlanError(self.issues)
        return ExecutableGraph(
            nodes=nodes,
            name=self.name,
            namespace=self.namespace,
            timeout=timeout,
            step_timeout=step_timeout,
            idle_timeout=idle_timeout,
            warnings=tuple(self.warnings),
        )

    def seconds(self, value: Any, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            self.error(path, "must be a positive number of seconds")
            return None
        return float(value)

    def node(self, name: str, raw: Any, path: str) -> Node | None:
        if not isinstance(raw, dict):
            self.error(path, "must be an object with routerType and steps")
            return None
        try:
            router_type = RouterType(str(raw.get("routerType")))
        except ValueError:
            allowed = ", ".join(t.value for t in RouterType)
            self.error(f"{path}.routerType", f"must be one of {allowed}, got {raw.get('routerType')!r}")
            router_type = None
        raw_steps = raw.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            self.error(f"{path}.steps", "a node needs at least one step")
            return None
        steps: list[Step] = []
        seen: dict[str, int] = {}
        for index, raw_step in enumerate(raw_steps):
            step_path = f"{path}.steps[{index}]"
            step = self.step(index, raw_step, step_path, router_type)
            if step is None:
                continue
            if step.key in seen and step.key != str(index):
                self.error(
                    f"{step_path}.name", f"duplicate step name {step.key!r} (also steps[{seen[step.key]}])"
                )
            seen.setdefault(step.key, index)
            steps.append(step)
        if router_type is RouterType.SPLITTER and len(steps) == len(raw_steps):
            weights = [s.weight for s in steps]
            if all(w is not None for w in weights) and sum(w or 0 for w in weights) != 100:
                self.error(
                    f"{path}.steps", f"Splitter weights must sum to 100, got {sum(w or 0 for w in weights)}"
                )
        if router_type is None or len(steps) != len(raw_steps):
            return None
        return Node(name, router_type, tuple(steps))

    def step(self, index: int, raw: Any, path: str, router_type: RouterType | None) -> Step | None:
        if not isinstance(raw, dict):
            self.error(path, "must be an object")
            return None
        ok = True
        name = raw.get("name")
        if name is not None and not isinstance(name, str):
            self.error(f"{path}.name", "must be a string")
            ok = False
        url, node = self.target(raw, path)
        if url is None and node is None:
            ok = False
        data = self.data(raw.get("data"), index, path)
        mapping = raw.get("mapPredictionsToInstances", False)
        if not isinstance(mapping, bool):
            self.error(f"{path}.mapPredictionsToInstances", "must be a boolean")
            ok = False
        weight = self.weight(raw.get("weight"), path, router_type)
        condition = None
        raw_condition = raw.get("condition")
        if raw_condition not in (None, ""):
            if not isinstance(raw_condition, str):
                self.error(f"{path}.condition", "must be a GJSON path string")
                ok = False
            else:
                try:
                    condition = compile_path(raw_condition)
                except GJSONSyntaxError as exc:
                    self.error(f"{path}.condition", f"invalid GJSON path {raw_condition!r}: {exc}")
                    ok = False
        if router_type is RouterType.SWITCH and condition is None:
            self.warn(f"{path}.condition", "a Switch step without a condition never matches")
        if router_type is RouterType.SEQUENCE and index == 0 and condition is not None:
            self.warn(f"{path}.condition", "a condition on a Sequence's first step always fails with 500")
        if router_type in (RouterType.ENSEMBLE, RouterType.SPLITTER) and condition is not None:
            self.warn(f"{path}.condition", f"ignored by a {router_type.value} node")
        try:
            dependency = Dependency(raw.get("dependency") or Dependency.SOFT)
        except ValueError:
            self.error(f"{path}.dependency", f"must be Soft or Hard, got {raw.get('dependency')!r}")
            ok = False
            dependency = Dependency.SOFT
        if not ok:
            return None
        return Step(
            index=index,
            key=name or str(index),
            url=url,
            node=node,
            data=data,
            map_predictions_to_instances=mapping,
            weight=weight,
            condition=condition,
            dependency=dependency,
        )

    def target(self, raw: Mapping[str, Any], path: str) -> tuple[str | None, str | None]:
        node, service, url = raw.get("nodeName"), raw.get("serviceName"), raw.get("serviceUrl")
        given = [f for f in ("nodeName", "serviceName", "serviceUrl") if raw.get(f) not in (None, "")]
        for field_name in given:
            if not isinstance(raw[field_name], str):
                self.error(f"{path}.{field_name}", "must be a string")
                return None, None
        if not given:
            self.error(path, "exactly one of nodeName, serviceName or serviceUrl is required")
            return None, None
        if node and (service or url):
            self.error(path, f"exactly one of nodeName, serviceName or serviceUrl is allowed, got {given}")
            return None, None
        if node:
            return None, node
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                self.error(f"{path}.serviceUrl", f"must be an absolute http(s) URL, got {url!r}")
                return None, None
            return url, None
        return service_name_url(str(service), self.namespace), None

    def data(self, raw: Any, index: int, path: str) -> StepInput:
        if raw in (None, ""):
            return StepInput.REQUEST
        if raw == StepInput.RESPONSE:
            if index == 0:
                self.warn(f"{path}.data", "$response on a first step means $request")
            return StepInput.RESPONSE
        if raw != StepInput.REQUEST:
            self.warn(f"{path}.data", f"unknown value {raw!r} is treated as $request (as KServe does)")
        return StepInput.REQUEST

    def weight(self, raw: Any, path: str, router_type: RouterType | None) -> int | None:
        if raw is None:
            if router_type is RouterType.SPLITTER:
                self.error(f"{path}.weight", "required on every step of a Splitter")
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 100:
            self.error(f"{path}.weight", f"must be an integer between 0 and 100, got {raw!r}")
            return None
        if router_type is not RouterType.SPLITTER:
            self.warn(f"{path}.weight", "only a Splitter uses weights")
        return raw

    def check_references(self, nodes: Mapping[str, Node]) -> None:
        raw_nodes: Mapping[str, Any] = self.spec["nodes"]
        for name, raw in raw_nodes.items():
            raw_steps = raw.get("steps") if isinstance(raw, dict) else None
            for index, raw_step in enumerate(raw_steps if isinstance(raw_steps, list) else []):
                target = raw_step.get("nodeName") if isinstance(raw_step, dict) else None
                if isinstance(target, str) and target and target not in raw_nodes:
                    self.error(
                        f"spec.nodes[{name}].steps[{index}].nodeName", f"refers to a missing node {target!r}"
                    )
        visiting: list[str] = []
        done: set[str] = set()

        def visit(name: str) -> None:
            if name in done or name not in nodes:
                return
            if name in visiting:
                cycle = " -> ".join([*visiting[visiting.index(name) :], name])
                self.error(f"spec.nodes[{name}]", f"nodeName references form a cycle: {cycle}")
                return
            visiting.append(name)
            for step in nodes[name].steps:
                if step.node is not None:
                    visit(step.node)
            visiting.pop()
            done.add(name)

        for name in nodes:
            visit(name)

    def bandits(self, nodes: Mapping[str, Node]) -> dict[str, BanditConfig]:
        path = f"metadata.annotations[{BANDITS_ANNOTATION}]"
        raw = self.annotations.get(BANDITS_ANNOTATION)
        if raw is None:
            return {}
        try:
            config = orjson.loads(raw) if isinstance(raw, str) else raw
        except orjson.JSONDecodeError as exc:
            self.error(path, f"not valid JSON: {exc}")
            return {}
        if not isinstance(config, dict):
            self.error(path, "must be a JSON object of node name -> bandit config")
            return {}
        result: dict[str, BanditConfig] = {}
        for name, entry in config.items():
            entry_path = f"{path}[{name}]"
            node = nodes.get(name)
            if node is None:
                self.error(entry_path, f"no valid node named {name!r}")
                continue
            if node.router_type is not RouterType.SPLITTER:
                self.error(
                    entry_path, f"a bandit replaces a Splitter, but {name!r} is a {node.router_type.value}"
                )
                continue
            bandit = self.bandit(entry, entry_path)
            if bandit is not None:
                result[name] = bandit
        return result

    def bandit(self, entry: Any, path: str) -> BanditConfig | None:
        if not isinstance(entry, dict):
            self.error(path, "must be an object with a strategy")
            return None
        try:
            strategy = BanditStrategy(str(entry.get("strategy")))
        except ValueError:
            allowed = ", ".join(p.value for p in BanditStrategy)
            self.error(f"{path}.strategy", f"must be one of {allowed}, got {entry.get('strategy')!r}")
            return None
        epsilon = entry.get("epsilon", 0.1)
        if isinstance(epsilon, bool) or not isinstance(epsilon, int | float) or not 0 <= epsilon <= 1:
            self.error(f"{path}.epsilon", f"must be a number between 0 and 1, got {epsilon!r}")
            return None
        seed = entry.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            self.error(f"{path}.seed", f"must be an integer, got {seed!r}")
            return None
        unknown = set(entry) - {"strategy", "epsilon", "seed"}
        if unknown:
            self.warn(path, f"unknown fields ignored: {sorted(unknown)}")
        return BanditConfig(strategy=strategy, epsilon=float(epsilon), seed=seed)
