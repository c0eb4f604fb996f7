"""What the API server serves: resource types, built in or defined by CustomResourceDefinitions.

A :class:`ResourceType` carries everything discovery, OpenAPI, validation and table printing need for
one ``<group>/<plural>``. Built-in kinds (Namespace, ConfigMap, Secret, Event, Lease,
CustomResourceDefinition) are described the same way as CRD kinds: Namespace, ConfigMap, Secret and Lease
with structural schemas of their fields, Event and CRD objects permissively.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from zeroserve.local.apiserver.schema import StructuralSchema

__all__ = ["VERBS", "ResourceType", "ResourceVersionDef", "builtin_types", "crd_resource_type"]

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
_AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}


@dataclass(frozen=True)
class ResourceVersionDef:
    """One served version of a resource type."""

    name: str
    schema: dict[str, Any] | None
    """The ``openAPIV3Schema``; ``None`` for a permissive built-in."""
    status_subresource: bool = False
    printer_columns: tuple[dict[str, Any], ...] = ()
    """``additionalPrinterColumns``; the ``Name`` column is always first and implicit."""
    storage: bool = False

    @cached_property
    def structural(self) -> StructuralSchema:
        """The schema with pruning, defaulting and validation."""
        return StructuralSchema(self.schema)


@dataclass(frozen=True)
class ResourceType:
    """A resource the API server serves, e.g. ``serving.kserve.io/inferenceservices``."""

    group: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    versions: tuple[ResourceVersionDef, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    list_kind: str = ""
    builtin: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    """Serving details of some built-ins: ``verbs`` (when not all of :data:`VERBS`) and
    ``subresources`` other than ``status`` (name -> the kind a ``create`` on it returns)."""

    @property
    def key(self) -> tuple[str, str]:
        """``(group, plural)``, the identity objects are stored under (all versions share it)."""
        return (self.group, self.plural)

    @property
    def group_resource(self) -> str:
        """``<plural>.<group>``, or the plural alone for the core group."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def version(self, name: str) -> ResourceVersionDef | None:
        """Returns: the served version ``name``, or ``None``."""
        return next((v for v in self.versions if v.name == name), None)

    @property
    def storage_version(self) -> ResourceVersionDef:
        """The version objects are stored in (their ``apiVersion`` on disk)."""
        return next((v for v in self.versions if v.storage), self.versions[0])

    def api_version(self, version: str) -> str:
        """Returns: the ``apiVersion`` string for ``version`` of this type."""
        return f"{self.group}/{version}" if self.group else version


def _builtin(
    group: str,
    version: str,
    plural: str,
    kind: str,
    *,
    namespaced: bool = True,
    short_names: tuple[str, ...] = (),
    status: bool = False,
    columns: tuple[dict[str, Any], ...] = (_AGE,),
    schema: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> ResourceType:
    return ResourceType(
        group=group,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        versions=(ResourceVersionDef(version, schema, status, columns, storage=True),),
        short_names=short_names,
        list_kind=f"{kind}List",
        builtin=True,
        extra=extra or {},
    )


def _object(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


_STRING = {"type": "string"}
_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_NAMESPACE_SCHEMA = _object(
    spec=_object(finalizers={"type": "array", "items": _STRING}),
    status=_object(
        phase=_STRING,
        conditions={
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    ),
)
_CONFIGMAP_SCHEMA = _object(data=_STRINGS, binaryData=_STRINGS, immutable={"type": "boolean"})
_SECRET_SCHEMA = _object(data=_STRINGS, stringData=_STRINGS, type=_STRING, immutable={"type": "boolean"})
_SERVICE_ACCOUNT_SCHEMA = _object(
    secrets={"type": "array", "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    imagePullSecrets={
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
    automountServiceAccountToken={"type": "boolean"},
)
_LEASE_SCHEMA = _object(
    spec=_object(
        holderIdentity=_STRING,
        leaseDurationSeconds={"type": "integer"},
        acquireTime=_STRING,
        renewTime=_STRING,
        leaseTransitions={"type": "integer"},
        strategy=_STRING,
        preferredHolder=_STRING,
    )
)


def builtin_types() -> list[ResourceType]:
    """Returns: the built-in resource types every embedded API server serves."""
    event_columns = (
        {"name": "Type", "type": "string", "jsonPath": ".type"},
        {"name": "Reason", "type": "string", "jsonPath": ".reason"},
        {"name": "Object", "type": "string", "jsonPath": ".involvedObject.name"},
        {"name": "Message", "type": "string", "jsonPath": ".message"},
        _AGE,
    )
    return [
        _builtin(
            "",
            "v1",
            "namespaces",
            "Namespace",
            namespaced=False,
            short_names=("ns",),
            status=True,
            columns=({"name": "Status", "type": "string", "jsonPath": ".status.phase"}, _AGE),
            schema=_NAMESPACE_SCHEMA,
        ),
        _builtin("", "v1", "configmaps", "ConfigMap", short_names=("cm",), schema=_CONFIGMAP_SCHEMA),
        _builtin(
            "",
            "v1",
            "secrets",
            "Secret",
            columns=({"name": "Type", "type": "string", "jsonPath": ".type"}, _AGE),
            schema=_SECRET_SCHEMA,
        ),
        _builtin("", "v1", "events", "Event", short_names=("ev",), columns=event_columns),
        _builtin(
            "",
            "v1",
            "serviceaccounts",
            "ServiceAccount",
            short_names=("sa",),
            schema=_SERVICE_ACCOUNT_SCHEMA,
            extra={"subresources": {"token": "TokenRequest"}},
        ),
        _builtin(
            "authentication.k8s.io",
            "v1",
            "tokenreviews",
            "TokenReview",
            namespaced=False,
            extra={"verbs": ["create"]},
        ),
        _builtin("events.k8s.io", "v1", "events", "Event", short_names=("ev",), columns=event_columns),
        _builtin(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            columns=({"name": "Holder", "type": "string", "jsonPath": ".spec.holderIdentity"}, _AGE),
            schema=_LEASE_SCHEMA,
        ),
        _builtin(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            namespaced=False,
            short_names=("crd", "crds"),
            status=True,
            columns=({"name": "Created At", "type": "date", "jsonPath": ".metadata.creationTimestamp"},),
        ),
    ]


def crd_resource_type(crd: dict[str, Any]) -> ResourceType:
    """Describe the resource a ``CustomResourceDefinition`` defines.

    Args:
        crd: the CRD object (``apiextensions.k8s.io/v1``), already checked by :func:`crd_errors`.

    Returns:
        Its served resource type (only versions with ``served: true``).
    """
    spec = crd["spec"]
    names = spec["names"]
    versions = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        columns = version.get("additionalPrinterColumns")
        versions.append(
            ResourceVersionDef(
                name=version["name"],
                schema=(version.get("schema") or {}).get("openAPIV3Schema"),
                status_subresource="status" in (version.get("subresources") or {}),
                printer_columns=tuple(columns) if columns is not None else (_AGE,),
                storage=bool(version.get("storage")),
            )
        )
    return ResourceType(
        group=spec["group"],
        plural=names["plural"],
        singular=names.get("singular") or names["kind"].lower(),
        kind=names["kind"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        versions=tuple(versions),
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        list_kind=names.get("listKind") or f"{names['kind']}List",
    )
