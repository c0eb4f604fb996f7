"""Types shared by every API group: the model bases, ObjectMeta, Condition and status building blocks.

Every API type derives from :class:`KubeModel`: fields are snake_case in Python and camelCase on the
wire (the alias generator turns ``storage_uri`` into ``storageUri``; odd spellings such as
``CACerts`` get an explicit alias), either spelling is accepted when building an object, and fields
the type does not name are *kept* (``extra="allow"``) so that a KServe or Knative object read from the
API server is written back with nothing lost.

Two kinds of model exist, and the CRD generator (:mod:`zeroserve.apis.crds`) tells them apart:

- :class:`KubeModel`: a closed shape. Its CRD schema lists its properties only, so the API server
  prunes unknown fields, as KServe's and Knative's own CRDs do.
- :class:`LooseModel`: a shape that stands for a Kubernetes core type we model partly (a container,
  a pod spec, object metadata). Its CRD schema carries ``x-kubernetes-preserve-unknown-fields``.

Optional fields default to ``None`` in the types; the ``defaults`` module of each API version fills
them in, so ``to_dict(from_dict(x)) == x`` for any object a user wrote.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

__all__ = [
    "Addressable",
    "Condition",
    "ConditionStatus",
    "KReference",
    "KubeModel",
    "KubeObject",
    "LooseModel",
    "ObjectMeta",
    "OwnerReference",
    "Quantity",
    "Status",
    "enum_field",
    "int_field",
]

Quantity = Annotated[
    int | float | str,
    WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": True}),
]
"""A Kubernetes resource quantity (``1``, ``"500m"``, ``"2Gi"``): an integer or a string in the CRDs.

A float such as ``0.5`` is accepted and kept by the types (core Kubernetes types accept it), though a
CRD's int-or-string schema rejects it; write ``"500m"``.
"""


def enum_field(*values: str) -> Any:
    """An optional ``str`` field whose JSON schema, and so its CRD schema, lists the allowed values.

    The types accept any string; the ``validation`` modules report a bad value with its path.

    Args:
        *values: The allowed values.

    Returns:
        A pydantic ``Field`` defaulting to ``None``.
    """
    return Field(default=None, json_schema_extra={"enum": list(values)})


def int_field(fmt: str) -> Any:
    """An optional ``int`` field carrying the OpenAPI ``format`` (``int32``/``int64``) of the CRDs.

    Args:
        fmt: ``"int32"`` or ``"int64"``.

    Returns:
        A pydantic ``Field`` defaulting to ``None``.
    """
    return Field(default=None, json_schema_extra={"format": fmt})


class KubeModel(BaseModel):
    """Base of every API type: camelCase aliases, both spellings accepted, unknown fields kept."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        use_attribute_docstrings=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """Serialize to the wire shape (camelCase keys, unset optional fields left out).

        Returns:
            A JSON-compatible dict, suitable for the kubernetes client or YAML.
        """
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Build the type from its wire shape.

        Args:
            data: The object as read from YAML or the API server.

        Returns:
            The parsed object; raises ``pydantic.ValidationError`` when a field has the wrong type.
        """
        return cls.model_validate(data)


class LooseModel(KubeModel):
    """A partly modelled Kubernetes core type; its CRD schema preserves unknown fields."""

    model_config = ConfigDict(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True})


class OwnerReference(KubeModel):
    """``metadata.ownerReferences[]``: the object that owns this one (garbage collection)."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(LooseModel):
    """``metadata``: the fields the platform reads and writes; the rest are kept as they are."""

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    owner_references: list[OwnerReference] | None = None
    finalizers: list[str] | None = None


class KubeObject(KubeModel):
    """A top-level API object: ``apiVersion``, ``kind`` and ``metadata``.

    Subclasses set ``API_VERSION`` and ``KIND`` and give ``api_version`` / ``kind`` those defaults.
    """

    API_VERSION: ClassVar[str] = ""
    KIND: ClassVar[str] = ""

    api_version: str | None = None
    kind: str | None = None
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)

    @property
    def name(self) -> str:
        """``metadata.name`` ("" when unset)."""
        return self.metadata.name or ""

    @property
    def namespace(self) -> str:
        """``metadata.namespace`` ("" when unset)."""
        return self.metadata.namespace or ""

    @property
    def annotations(self) -> dict[str, str]:
        """``metadata.annotations`` (an empty dict when unset; a copy, not the object's own)."""
        return dict(self.metadata.annotations or {})

    @property
    def labels(self) -> dict[str, str]:
        """``metadata.labels`` (an empty dict when unset; a copy, not the object's own)."""
        return dict(self.metadata.labels or {})


ConditionStatus = str
"""``"True"``, ``"False"`` or ``"Unknown"`` (strings, as Kubernetes writes them)."""


class Condition(KubeModel):
    """One entry of ``status.conditions`` in knative's shape (also KServe's).

    ``severity`` is ``""`` (an error, the default) for conditions that gate readiness and ``"Info"`` or
    ``"Warning"`` for the rest; ``lastTransitionTime`` is RFC 3339.
    """

    type: str
    status: ConditionStatus = "Unknown"
    severity: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None
    observed_generation: int | None = None
    """Set by Gateway API (metav1.Condition); knative's conditions leave it out."""

    @property
    def is_true(self) -> bool:
        """Whether the status is ``"True"``."""
        return self.status == "True"

    @property
    def is_false(self) -> bool:
        """Whether the status is ``"False"``."""
        return self.status == "False"


class Addressable(KubeModel):
    """knative's duck ``Addressable``: ``status.address``."""

    name: str | None = None
    url: str | None = None
    ca_certs: str | None = Field(default=None, alias="CACerts")
    audience: str | None = None


class KReference(KubeModel):
    """knative's ``KReference``: a reference to an object, possibly in another namespace."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None


class Status(KubeModel):
    """knative's duck ``Status``: what every status in this package starts with."""

    observed_generation: int | None = None
    conditions: list[Condition] | None = None
    annotations: dict[str, str] | None = None

    def get_condition(self, condition_type: str) -> Condition | None:
        """Find a condition by type.

        Args:
            condition_type: e.g. ``"Ready"``.

        Returns:
            The condition, or ``None`` when the status has none of that type.
        """
        for condition in self.conditions or []:
            if condition.type == condition_type:
                return condition
        return None

    def is_ready(self) -> bool:
        """Whether the ``Ready`` condition is ``"True"``."""
        ready = self.get_condition("Ready")
        return ready is not None and ready.is_true
