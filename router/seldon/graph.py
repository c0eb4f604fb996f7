"""The orchestrator's view of one predictor: its graph of units and where each one listens.

``--seldon-json`` is ``{"deployment", "namespace", "predictor", "graph", "shadows"?}``: ``graph`` is the
predictor's (defaulted) ``PredictiveUnit`` tree as in the SeldonDeployment, each unit served over
HTTP with an ``endpoint.service_host`` / ``service_port`` (the controller fills in the component's
cluster-local address), or over gRPC when its ``endpoint.type`` is ``GRPC``; a unit with a
``bandit`` object (``strategy`` EpsilonGreedy or ThompsonSampling, ``n_branches``, ``epsilon``,
``best_branch``, ``seed``) is a bandit router run here, and ``RANDOM_ABTEST`` (``ratioA``),
``SIMPLE_MODEL``, ``SIMPLE_ROUTER`` and ``AVERAGE_COMBINER`` are run here too, as Seldon's executor
does. ``shadows`` lists URLs that get a copy of every prediction; ``timeout`` (seconds) bounds each
component call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from zeroserve.apis.seldon.types import PredictiveUnit

__all__ = ["BanditUnit", "SeldonGraph", "SeldonGraphError", "Unit", "load_seldon_json"]

IN_PROCESS = ("RANDOM_ABTEST", "SIMPLE_MODEL", "SIMPLE_ROUTER", "AVERAGE_COMBINER")


class SeldonGraphError(ValueError):
    """The ``--seldon-json`` document is not a graph this orchestrator can run."""


@dataclass(frozen=True)
class BanditUnit:
    """A bandit router's settings (Seldon's ``mab_epsilon_greedy`` / ``mab_thompson_sampling``)."""

    strategy: str
    n_branches: int
    epsilon: float = 0.1
    best_branch: int = 0
    seed: int | None = None


@dataclass
class Unit:
    """One unit of the graph, with what the walk needs."""

    name: str
    type: str
    implementation: str | None = None
    methods: tuple[str, ...] = ()
    url: str | None = None
    """``http://host:port`` of the component; ``None`` for units run here."""
    grpc: tuple[str, int] | None = None
    """``(host, port)`` of the component's gRPC endpoint when its ``endpoint.type`` is ``GRPC``: the
    walk calls it over gRPC then (``endpoint.grpcPort``, else ``service_port``)."""
    image: str = ""
    """What ``meta.requestPath`` names the unit with (its image, else its implementation or name)."""
    parameters: dict[str, str] = field(default_factory=dict)
    bandit: BanditUnit | None = None
    children: list[Unit] = field(default_factory=list)

    def has(self, method: str) -> bool:
        """Whether the unit runs ``method`` (by its type or its ``methods`` list)."""
        by_type = {
            "TRANSFORM_INPUT": ("MODEL", "TRANSFORMER"),
            "TRANSFORM_OUTPUT": ("OUTPUT_TRANSFORMER",),
            "ROUTE": ("ROUTER",),
            "AGGREGATE": ("COMBINER",),
            "SEND_FEEDBACK": ("MODEL", "ROUTER"),
        }
        return self.type in by_type[method] or method in self.methods

    def walk(self) -> list[Unit]:
        """This unit and every unit under it."""
        units = [self]
        for child in self.children:
            units += child.walk()
        return units


@dataclass
class SeldonGraph:
    """One predictor's graph."""

    deployment: str
    namespace: str
    predictor: str
    root: Unit
    shadows: list[str] = field(default_factory=list)
    timeout: float | None = None
    """Seconds one component call may take (Seldon's ``seldon.io/rest-timeout``, in ms there)."""


def _bandit(raw: Any, path: str) -> BanditUnit | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("strategy") not in ("EpsilonGreedy", "ThompsonSampling"):
        raise SeldonGraphError(f"{path}.bandit: strategy must be EpsilonGreedy or ThompsonSampling")
    try:
        bandit = BanditUnit(
            strategy=raw["strategy"],
            n_branches=int(raw["n_branches"]),
            epsilon=float(raw.get("epsilon", 0.1)),
            best_branch=int(raw.get("best_branch", 0)),
            seed=None if raw.get("seed") is None else int(raw["seed"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SeldonGraphError(f"{path}.bandit: n_branches (an integer) is required: {exc}") from None
    if bandit.n_branches < 1 or not 0 <= bandit.epsilon <= 1:
        raise SeldonGraphError(f"{path}.bandit: n_branches >= 1 and 0 <= epsilon <= 1")
    return bandit


def _unit(raw: dict[str, Any], path: str) -> Unit:
    try:
        typed = PredictiveUnit.model_validate({k: v for k, v in raw.items() if k not in ("bandit", "image")})
    except ValueError as exc:
        raise SeldonGraphError(f"{path}: {exc}") from None
    endpoint = typed.endpoint
    url = None
    if endpoint is not None and endpoint.service_host:
        url = f"http://{endpoint.service_host}:{endpoint.service_port or 80}"
    grpc = None
    if url is not None and endpoint is not None and (endpoint.type or "").upper() == "GRPC":
        grpc = (str(endpoint.service_host), endpoint.grpc_port or endpoint.service_port or 80)
    bandit = _bandit(raw.get("bandit"), path)
    if url is None and bandit is None and typed.implementation not in IN_PROCESS:
        raise SeldonGraphError(f"{path}: unit {typed.name!r} has no endpoint.service_host")
    children = [_unit(child, f"{path}.children[{i}]") for i, child in enumerate(raw.get("children") or [])]
    if bandit is not None and bandit.n_branches != len(children):
        raise SeldonGraphError(
            f"{path}: n_branches is {bandit.n_branches} but the router has {len(children)} children"
        )
    return Unit(
        name=typed.name,
        type=typed.type or "MODEL",
        implementation=typed.implementation,
        methods=tuple(typed.methods or ()),
        url=url,
        grpc=grpc,
        image=str(raw.get("image") or typed.implementation or typed.name),
        parameters={p.name: p.value for p in typed.parameters or []},
        bandit=bandit,
        children=children,
    )


def load_seldon_json(text: str) -> SeldonGraph:
    """Parse ``--seldon-json``.

    Args:
        text: the JSON document (module docstring).

    Returns:
        The graph.

    Raises:
        SeldonGraphError: with the path of what is wrong.
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SeldonGraphError(f"--seldon-json is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("graph"), dict):
        raise SeldonGraphError("--seldon-json needs an object with a graph object")
    root = _unit(document["graph"], "graph")
    seen: set[str] = set()
    for unit in root.walk():
        if unit.name in seen:
            raise SeldonGraphError(f"graph: unit name {unit.name!r} is used twice")
        seen.add(unit.name)
    shadows = document.get("shadows") or []
    if not isinstance(shadows, list) or not all(isinstance(s, str) for s in shadows):
        raise SeldonGraphError("shadows must be a list of URLs")
    timeout = document.get("timeout")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise SeldonGraphError(f"timeout must be a positive number of seconds, got {timeout!r}")
    return SeldonGraph(
        timeout=None if timeout is None else float(timeout),
        deployment=str(document.get("deployment") or ""),
        namespace=str(document.get("namespace") or "default"),
        predictor=str(document.get("predictor") or "default"),
        root=root,
        shadows=list(shadows),
    )
