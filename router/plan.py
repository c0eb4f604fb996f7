"""The executable graph: the planner's output, immutable and already validated.

Executors read only these types, never the raw spec. Field names follow KServe's
``InferenceGraphSpec`` where they mean the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from zeroserve.apis.serving.v1alpha1.gjson import GJSONPath
from zeroserve.apis.serving.v1alpha1.validation import ROOT_NODE
from zeroserve.router.errors import PlanIssue

__all__ = [
    "BanditConfig",
    "BanditStrategy",
    "Dependency",
    "ExecutableGraph",
    "Node",
    "RouterType",
    "Step",
    "StepInput",
]


class RouterType(StrEnum):
    """KServe's node router types."""

    SEQUENCE = "Sequence"
    SWITCH = "Switch"
    ENSEMBLE = "Ensemble"
    SPLITTER = "Splitter"


class Dependency(StrEnum):
    """Whether a step's failure fails its node (``Hard``) or not (``Soft``, KServe's default)."""

    SOFT = "Soft"
    HARD = "Hard"


class StepInput(StrEnum):
    """A step's ``data``: the node's input (``$request``) or the previous step's response."""

    REQUEST = "$request"
    RESPONSE = "$response"


class BanditStrategy(StrEnum):
    """The bandit strategies a ``Splitter`` node can be switched to (see :mod:`zeroserve.router.bandit`)."""

    EPSILON_GREEDY = "EpsilonGreedy"
    THOMPSON_SAMPLING = "ThompsonSampling"


@dataclass(frozen=True, slots=True)
class BanditConfig:
    """A bandit on a Splitter node, from the ``serving.zeroserve.io/bandit`` annotation."""

    strategy: BanditStrategy
    epsilon: float = 0.1
    """EpsilonGreedy: the probability of exploring a random other step."""
    seed: int | None = None
    """Seed of the node's random generator; ``None`` seeds from the OS."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a node, with its target resolved to a URL or a nested node."""

    index: int
    key: str
    """The step's ``name``, or its index as a string when unnamed (KServe's Ensemble key)."""
    url: str | None
    """The service URL the step POSTs to; ``None`` when the step is a nested node."""
    node: str | None
    """The nested node (``nodeName``) the step runs; ``None`` for a service step."""
    data: StepInput = StepInput.REQUEST
    map_predictions_to_instances: bool = False
    weight: int | None = None
    condition: GJSONPath | None = None
    dependency: Dependency = Dependency.SOFT


@dataclass(frozen=True, slots=True)
class Node:
    """A node: its router type and steps, plus a bandit when one replaces the Splitter's weights."""

    name: str
    router_type: RouterType
    steps: tuple[Step, ...]
    bandit: BanditConfig | None = None


@dataclass(frozen=True, slots=True)
class ExecutableGraph:
    """A validated InferenceGraph, ready to execute from its ``root`` node."""

    nodes: Mapping[str, Node]
    name: str = ""
    namespace: str = "default"
    timeout: float | None = None
    """``spec.timeout``: the whole request's deadline in seconds (504 when exceeded)."""
    step_timeout: float | None = None
    """``spec.routerTimeouts.serviceClient``: each step call's timeout in seconds."""
    idle_timeout: float | None = None
    """``spec.routerTimeouts.serverIdle``: keep-alive timeout of the router's server in seconds."""
    warnings: tuple[PlanIssue, ...] = field(default=())
    """Accepted but suspicious fields (KServe accepts them too), logged at start-up."""

    @property
    def root(self) -> Node:
        """The entry node, ``root``."""
        return self.nodes[ROOT_NODE]
