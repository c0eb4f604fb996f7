"""``machinelearning.seldon.io/v1`` SeldonDeployment: predictors, their graphs of predictive units.

Field names follow Seldon Core v1's CRD (``seldondeployments.machinelearning.seldon.io``). A predictor's
``graph`` is a tree of :class:`PredictiveUnit` nodes (``children``); each unit is served by the container
of the same name in the predictor's ``componentSpecs`` or by a prepackaged ``implementation``. The status
is the one Seldon's operator writes: ``state`` (Creating, Available, Failed), ``description``,
``deploymentStatus`` per component, ``address.url`` and ``conditions``.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, WithJsonSchema, field_validator

from zeroserve.apis.meta import KubeModel, KubeObject, Status, enum_field, int_field

__all__ = [
    "API_VERSION",
    "IMPLEMENTATIONS",
    "METHODS",
    "PREPACKAGED_SERVERS",
    "UNIT_TYPES",
    "DeploymentStatus",
    "Endpoint",
    "Parameter",
    "PredictiveUnit",
    "PredictorSpec",
    "SeldonAddress",
    "SeldonDeployment",
    "SeldonDeploymentSpec",
    "SeldonDeploymentStatus",
    "SeldonLogger",
    "SeldonPodSpec",
]

API_VERSION = "machinelearning.seldon.io/v1"
UNIT_TYPES: tuple[str, ...] = (
    "UNKNOWN_TYPE",
    "ROUTER",
    "COMBINER",
    "MODEL",
    "TRANSFORMER",
    "OUTPUT_TRANSFORMER",
)
PREPACKAGED_SERVERS: tuple[str, ...] = (
    "SKLEARN_SERVER",
    "XGBOOST_SERVER",
    "MLFLOW_SERVER",
    "TENSORFLOW_SERVER",
    "TRITON_SERVER",
    "HUGGINGFACE_SERVER",
    "TEMPO_SERVER",
)
IMPLEMENTATIONS: tuple[str, ...] = (
    "UNKNOWN_IMPLEMENTATION",
    "SIMPLE_MODEL",
    "SIMPLE_ROUTER",
    "RANDOM_ABTEST",
    "AVERAGE_COMBINER",
    *PREPACKAGED_SERVERS,
)
METHODS: tuple[str, ...] = ("TRANSFORM_INPUT", "TRANSFORM_OUTPUT", "ROUTE", "AGGREGATE", "SEND_FEEDBACK")
_PRESERVE: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}
PARAMETER_TYPES: tuple[str, ...] = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL", "JSON")


class Parameter(KubeModel):
    """``graph.parameters[]``: a constructor argument of the unit's class (Seldon's typed string)."""

    name: str
    value: str
    type: str = Field(json_schema_extra={"enum": list(PARAMETER_TYPES)})


class Endpoint(KubeModel):
    """``graph.endpoint``: where the unit listens (Seldon's snake_case host/port keys kept)."""

    service_host: str | None = Field(default=None, alias="service_host")
    service_port: int | None = Field(
        default=None, alias="service_port", json_schema_extra={"format": "int32"}
    )
    type: str | None = enum_field("REST", "GRPC")
    http_port: int | None = Field(default=None, alias="httpPort", json_schema_extra={"format": "int32"})
    grpc_port: int | None = Field(default=None, alias="grpcPort", json_schema_extra={"format": "int32"})


class SeldonLogger(KubeModel):
    """``graph.logger``: CloudEvents payload logging of the unit's requests and responses."""

    url: str | None = None
    mode: str | None = enum_field("all", "request", "response")


class PredictiveUnit(KubeModel):
    """One node of a predictor's graph."""

    name: str
    children: Annotated[
        list[PredictiveUnit] | None,
        WithJsonSchema(
            {"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}
        ),
    ] = None
    """Child units (their schema is open in the CRD: a recursive type cannot be inlined)."""
    type: str | None = Field(default=None, json_schema_extra={"enum": list(UNIT_TYPES)})
    implementation: str | None = Field(default=None, json_schema_extra={"enum": list(IMPLEMENTATIONS)})
    methods: list[str] | None = None
    endpoint: Endpoint | None = None
    parameters: list[Parameter] | None = None
    model_uri: str | None = Field(default=None, alias="modelUri")
    service_account_name: str | None = None
    env_secret_ref_name: str | None = None
    storage_initializer_image: str | None = None
    logger: SeldonLogger | None = None

    def walk(self) -> list[PredictiveUnit]:
        """This unit and every unit under it, depth first."""
        units = [self]
        for child in self.children or []:
            units += child.walk()
        return units


class SeldonPodSpec(KubeModel):
    """``componentSpecs[]``: a pod template (its containers are the graph's units) and its scaling."""

    metadata: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    spec: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    hpa_spec: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    keda_spec: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    pdb_spec: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    replicas: int | None = int_field("int32")


class PredictorSpec(KubeModel):
    """``spec.predictors[]``: one version of the deployment (a graph), and its share of the traffic."""

    name: str
    graph: PredictiveUnit
    component_specs: list[SeldonPodSpec] | None = None
    replicas: int | None = int_field("int32")
    annotations: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    traffic: int | None = int_field("int32")
    shadow: bool | None = None
    progress_deadline_seconds: int | None = int_field("int32")
    engine_resources: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    svc_orch_spec: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    explainer: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)
    protocol: str | None = None
    ssl: dict[str, Any] | None = Field(default=None, json_schema_extra=_PRESERVE)

    @field_validator("graph", mode="before")
    @classmethod
    def _one_root(cls, value: Any) -> Any:
        if isinstance(value, list):
            raise ValueError(f"a predictor's graph has exactly one root unit, got {len(value)} roots")
        return value

    def containers(self) -> dict[str, tuple[int, dict[str, Any]]]:
        """Every container of ``componentSpecs`` by name: (index of its component spec, container)."""
        found: dict[str, tuple[int, dict[str, Any]]] = {}
        for index, component in enumerate(self.component_specs or []):
            for container in (component.spec or {}).get("containers") or []:
                if isinstance(container, dict) and container.get("name"):
                    found.setdefault(str(container["name"]), (index, container))
        return found


class SeldonDeploymentSpec(KubeModel):
    """``spec``: the predictors and deployment-wide settings."""

    name: str | None = None
    predictors: list[PredictorSpec]
    oauth_key: str | None = Field(default=None, alias="oauth_key")
    oauth_secret: str | None = Field(default=None, alias="oauth_secret")
    annotations: dict[str, str] | None = None
    protocol: str | None = enum_field("seldon", "tensorflow", "kfserving", "v2")
    transport: str | None = enum_field("rest", "grpc")
    replicas: int | None = int_field("int32")
    server_type: str | None = Field(default=None, alias="serverType")


class DeploymentStatus(KubeModel):
    """``status.deploymentStatus.<name>``: one component's Knative Service."""

    name: str | None = None
    status: str | None = None
    description: str | None = None
    replicas: int | None = int_field("int32")
    available_replicas: int | None = int_field("int32")
    explainer_for: str | None = None


class SeldonAddress(KubeModel):
    """``status.address``."""

    url: str | None = None


class SeldonDeploymentStatus(Status):
    """``status``: Seldon's operator's fields plus knative-style conditions."""

    state: str | None = None
    description: str | None = None
    deployment_status: dict[str, DeploymentStatus] | None = None
    service_status: dict[str, dict[str, Any]] | None = None
    address: SeldonAddress | None = None
    replicas: int | None = int_field("int32")


class SeldonDeployment(KubeObject):
    """A ``SeldonDeployment`` (short name ``sdep``)."""

    API_VERSION: ClassVar[str] = API_VERSION
    KIND: ClassVar[str] = "SeldonDeployment"

    api_version: str | None = API_VERSION
    kind: str | None = "SeldonDeployment"
    spec: SeldonDeploymentSpec
    status: SeldonDeploymentStatus | None = None
