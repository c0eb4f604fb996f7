"""``serving.kserve.io/v1alpha1`` InferenceGraph: nodes of routers, their steps, and graph scaling.

Field names follow KServe's CRD (``inferencegraphs.serving.kserve.io``). The graph must have a node
named ``root``; each node is a router (``Sequence``, ``Switch``, ``Ensemble``, ``Splitter``) over
steps, each step targets exactly one of another node (``nodeName``), an InferenceService in the same
namespace (``serviceName``) or a URL (``serviceUrl``).

**Bandit routers (a zeroserve extension).** KServe's CRD fixes ``routerType`` to four values, so a new
value would be rejected by a KServe cluster. A node becomes a multi-armed bandit instead through the
graph annotation ``serving.zeroserve.io/bandit`` (:data:`BANDIT_ANNOTATION`), whose value is a JSON
object from node name to :class:`BanditSpec`, e.g.::

    metadata:
      annotations:
        serving.zeroserve.io/bandit: '{"root": {"strategy": "EpsilonGreedy", "epsilon": 0.1}}'
    spec:
      nodes:
        root:
          routerType: Splitter        # KServe runs it as a plain weighted split
          steps: [{serviceName: a, weight: 50}, {serviceName: b, weight: 50}]

The node must be a ``Splitter`` (its weights are the prior / fallback split), so the same YAML stays
valid, and meaningful, on KServe. :func:`~zeroserve.apis.serving.v1alpha1.validation.bandit_nodes`
parses and checks the annotation.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from zeroserve.apis.core import ResourceRequirements
from zeroserve.apis.meta import KubeModel, KubeObject, Status, enum_field, int_field

__all__ = [
    "API_VERSION",
    "BANDIT_ANNOTATION",
    "BANDIT_STRATEGIES",
    "ROUTER_TYPES",
    "BanditSpec",
    "InferenceGraph",
    "InferenceGraphSpec",
    "InferenceGraphStatus",
    "InferenceRouter",
    "InferenceStep",
    "RouterTimeouts",
]

API_VERSION = "serving.kserve.io/v1alpha1"
ROUTER_TYPES: tuple[str, ...] = ("Sequence", "Splitter", "Ensemble", "Switch")
BANDIT_ANNOTATION = "serving.zeroserve.io/bandit"
BANDIT_STRATEGIES: tuple[str, ...] = ("EpsilonGreedy", "ThompsonSampling")


class InferenceStep(KubeModel):
    """``nodes.<node>.steps[]``: one target of a router, and how the router uses it."""

    name: str | None = None
    node_name: str | None = None
    service_name: str | None = None
    service_url: str | None = Field(default=None, alias="serviceUrl")
    data: str | None = None
    """``$request`` (default) or ``$response`` (Sequence: the previous step's response)."""
    map_predictions_to_instances: bool | None = None
    weight: int | None = int_field("int64")
    """Splitter only: percent of traffic; the weights of a node sum to 100."""
    condition: str | None = None
    """A GJSON expression (Switch: against the input; Sequence: against the previous response)."""
    dependency: str | None = enum_field("Soft", "Hard")

    def targets(self) -> dict[str, str]:
        """The targets that are set, by wire field name (exactly one in a valid step)."""
        found = {
            "nodeName": self.node_name,
            "serviceName": self.service_name,
            "serviceUrl": self.service_url,
        }
        return {key: value for key, value in found.items() if value}


class InferenceRouter(KubeModel):
    """``nodes.<node>``: a router type and its steps."""

    router_type: str = Field(json_schema_extra={"enum": list(ROUTER_TYPES)})
    steps: list[InferenceStep] | None = None


class RouterTimeouts(KubeModel):
    """``routerTimeouts``: the router's server and client timeouts, in seconds."""

    server_read: int | None = int_field("int64")
    server_write: int | None = int_field("int64")
    server_idle: int | None = int_field("int64")
    service_client: int | None = int_field("int64")


class InferenceGraphSpec(KubeModel):
    """``spec``: the nodes and the router deployment's resources, placement and scaling."""

    nodes: dict[str, InferenceRouter]
    resources: ResourceRequirements | None = None
    affinity: dict[str, Any] | None = None
    tolerations: list[dict[str, Any]] | None = None
    node_selector: dict[str, str] | None = None
    node_name: str | None = None
    service_account_name: str | None = None
    timeout: int | None = int_field("int64")
    router_timeouts: RouterTimeouts | None = None
    min_replicas: int | None = int_field("int32")
    max_replicas: int | None = int_field("int32")
    scale_target: int | None = int_field("int32")
    scale_metric: str | None = enum_field("cpu", "memory", "concurrency", "rps")


class InferenceGraphStatus(Status):
    """``status``: conditions and the graph's URL."""

    url: str | None = None
    deployment_mode: str | None = None


class BanditSpec(KubeModel):
    """One node's bandit settings, from the :data:`BANDIT_ANNOTATION` annotation."""

    strategy: str
    """``EpsilonGreedy`` or ``ThompsonSampling``."""
    epsilon: float | None = None
    """EpsilonGreedy: the exploration probability, 0..1 (the router defaults it, 0.1)."""
    seed: int | None = None
    """Optional random seed, for reproducible routing in tests."""


class InferenceGraph(KubeObject):
    """An ``InferenceGraph`` (short name ``ig``)."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "InferenceGraph"

    api_version: str | None = API_VERSION
    kind: str | None = "InferenceGraph"
    spec: InferenceGraphSpec
    status: InferenceGraphStatus | None = None
