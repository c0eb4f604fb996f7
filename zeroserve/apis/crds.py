"""CustomResourceDefinitions (``apiextensions.k8s.io/v1``) for every kind zeroserve serves, built
from the API types.

:func:`all_crds` is what the embedded API server installs at start (it works from an installed
package; nothing is read from ``config/``). ``hack/gen-crds.py`` writes the same CRDs, rendered by
:func:`crd_files`, to ``config/crd/`` for clusters; a test fails when those files are stale.

Names, short names, categories and printer columns are KServe's, Knative's and Gateway API's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from zeroserve.apis.gateway.v1.types import HTTPRoute
from zeroserve.apis.knative.eventing.v1.types import Broker, Trigger
from zeroserve.apis.knative.serving.v1.types import Configuration, Revision, Route, Service
from zeroserve.apis.meta import KubeObject
from zeroserve.apis.seldon.types import SeldonDeployment
from zeroserve.apis.serving.v1alpha1.serving_runtime import (
    ClusterServingRuntime,
    ServingRuntime,
    TrainedModel,
)
from zeroserve.apis.serving.v1alpha1.types import InferenceGraph
from zeroserve.apis.serving.v1beta1.types import InferenceService
from zeroserve.apis.structural import structural_schema

__all__ = ["CrdDefinition", "all_crds", "build_crd", "crd_definitions", "crd_files", "crd_for", "render_crd"]

_READY = ".status.conditions[?(@.type=='Ready')].status"
_REASON = ".status.conditions[?(@.type=='Ready')].reason"
_PREDICTOR_TRAFFIC = ".status.components.predictor.traffic"
_KNATIVE_SERVING = ("all", "knative", "serving")
_KNATIVE_EVENTING = ("all", "knative", "eventing")


def _column(name: str, json_path: str, kind: str = "string", priority: int | None = None) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": kind, "jsonPath": json_path}
    if priority is not None:
        column["priority"] = priority
    return column


_AGE = _column("Age", ".metadata.creationTimestamp", "date")


@dataclass(frozen=True)
class CrdDefinition:
    """How one kind is served: its type, names, version and ``kubectl get`` columns."""

    model: type[KubeObject]
    group: str
    version: str
    plural: str
    singular: str
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    columns: tuple[dict[str, Any], ...] = ()
    labels: dict[str, str] = field(default_factory=dict)
    scope: str = "Namespaced"

    @property
    def kind(self) -> str:
        """The kind, e.g. ``InferenceService``."""
        return self.model.KIND

    @property
    def name(self) -> str:
        """The CRD's name, ``<plural>.<group>``."""
        return f"{self.plural}.{self.group}"


def _runtime_definitions() -> list[CrdDefinition]:
    runtime_columns = (
        _column("Disabled", ".spec.disabled", "boolean"),
        _column("ModelType", ".spec.supportedModelFormats[*].name"),
        _column("Containers", ".spec.containers[*].name"),
        _AGE,
    )
    group, version = "serving.kserve.io", "v1alpha1"
    return [
        CrdDefinition(
            ServingRuntime, group, version, "servingruntimes", "servingruntime", columns=runtime_columns
        ),
        CrdDefinition(
            ClusterServingRuntime,
            group,
            version,
            "clusterservingruntimes",
            "clusterservingruntime",
            columns=runtime_columns,
            scope="Cluster",
        ),
        CrdDefinition(
            TrainedModel,
            group,
            version,
            "trainedmodels",
            "trainedmodel",
            short_names=("tm",),
            columns=(_column("URL", ".status.url"), _column("Ready", _READY), _AGE),
        ),
    ]


def crd_definitions() -> list[CrdDefinition]:
    """The kinds zeroserve serves, in install order.

    Returns:
        One definition per kind.
    """
    return [
        CrdDefinition(
            model=InferenceService,
            group="serving.kserve.io",
            version="v1beta1",
            plural="inferenceservices",
            singular="inferenceservice",
            short_names=("isvc",),
            columns=(
                _column("URL", ".status.url"),
                _column("Ready", _READY),
                _column("Prev", f"{_PREDICTOR_TRAFFIC}[?(@.tag=='prev')].percent", "integer"),
                _column("Latest", f"{_PREDICTOR_TRAFFIC}[?(@.latestRevision==true)].percent", "integer"),
                _column("PrevRolledoutRevision", f"{_PREDICTOR_TRAFFIC}[?(@.tag=='prev')].revisionName"),
                _column(
                    "LatestReadyRevision", f"{_PREDICTOR_TRAFFIC}[?(@.latestRevision==true)].revisionName"
                ),
                _AGE,
            ),
        ),
        CrdDefinition(
            model=InferenceGraph,
            group="serving.kserve.io",
            version="v1alpha1",
            plural="inferencegraphs",
            singular="inferencegraph",
            short_names=("ig",),
            columns=(_column("URL", ".status.url"), _column("Ready", _READY), _AGE),
        ),
        *_runtime_definitions(),
        CrdDefinition(
            model=SeldonDeployment,
            group="machinelearning.seldon.io",
            version="v1",
            plural="seldondeployments",
            singular="seldondeployment",
            short_names=("sdep",),
            columns=(_column("State", ".status.state"), _AGE),
        ),
        CrdDefinition(
            model=Service,
            group="serving.knative.dev",
            version="v1",
            plural="services",
            singular="service",
            short_names=("kservice", "ksvc"),
            categories=_KNATIVE_SERVING,
            columns=(
                _column("URL", ".status.url"),
                _column("LatestCreated", ".status.latestCreatedRevisionName"),
                _column("LatestReady", ".status.latestReadyRevisionName"),
                _column("Ready", _READY),
                _column("Reason", _REASON),
            ),
            labels={"duck.knative.dev/addressable": "true", "duck.knative.dev/podspecable": "true"},
        ),
        CrdDefinition(
            model=Configuration,
            group="serving.knative.dev",
            version="v1",
            plural="configurations",
            singular="configuration",
            short_names=("config", "cfg"),
            categories=_KNATIVE_SERVING,
            columns=(
                _column("LatestCreated", ".status.latestCreatedRevisionName"),
                _column("LatestReady", ".status.latestReadyRevisionName"),
                _column("Ready", _READY),
                _column("Reason", _REASON),
            ),
            labels={"duck.knative.dev/podspecable": "true"},
        ),
        CrdDefinition(
            model=Revision,
            group="serving.knative.dev",
            version="v1",
            plural="revisions",
            singular="revision",
            short_names=("rev",),
            categories=_KNATIVE_SERVING,
            columns=(
                _column("Config Name", ".metadata.labels['serving\\.knative\\.dev/configuration']"),
                _column("Generation", ".metadata.labels['serving\\.knative\\.dev/configurationGeneration']"),
                _column("Ready", _READY),
                _column("Reason", _REASON),
                _column("Actual Replicas", ".status.actualReplicas", "integer"),
                _column("Desired Replicas", ".status.desiredReplicas", "integer"),
            ),
        ),
        CrdDefinition(
            model=Route,
            group="serving.knative.dev",
            version="v1",
            plural="routes",
            singular="route",
            short_names=("rt",),
            categories=_KNATIVE_SERVING,
            columns=(_column("URL", ".status.url"), _column("Ready", _READY), _column("Reason", _REASON)),
            labels={"duck.knative.dev/addressable": "true"},
        ),
        CrdDefinition(
            model=Broker,
            group="eventing.knative.dev",
            version="v1",
            plural="brokers",
            singular="broker",
            categories=_KNATIVE_EVENTING,
            columns=(
                _column("URL", ".status.address.url"),
                _AGE,
                _column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                _column("Reason", '.status.conditions[?(@.type=="Ready")].reason'),
                _column("Class", ".metadata.annotations.eventing\\.knative\\.dev/broker\\.class", priority=1),
            ),
            labels={"duck.knative.dev/addressable": "true"},
        ),
        CrdDefinition(
            model=Trigger,
            group="eventing.knative.dev",
            version="v1",
            plural="triggers",
            singular="trigger",
            categories=_KNATIVE_EVENTING,
            columns=(
                _column("Broker", ".spec.broker"),
                _column("Subscriber_URI", ".status.subscriberUri"),
                _AGE,
                _column("Ready", '.status.conditions[?(@.type=="Ready")].status'),
                _column("Reason", '.status.conditions[?(@.type=="Ready")].reason'),
            ),
        ),
        CrdDefinition(
            model=HTTPRoute,
            group="gateway.networking.k8s.io",
            version="v1",
            plural="httproutes",
            singular="httproute",
            categories=("gateway-api",),
            columns=(_column("Hostnames", ".spec.hostnames"), _AGE),
        ),
    ]


def _object_schema(model: type[KubeObject]) -> dict[str, Any]:
    schema = structural_schema(model.model_json_schema(by_alias=True))
    properties = dict(schema.get("properties", {}))
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    properties["metadata"] = {"type": "object"}
    result: dict[str, Any] = {"type": "object", "properties": properties}
    if "description" in schema:
        result["description"] = schema["description"]
    required = [name for name in schema.get("required", []) if name not in ("apiVersion", "kind", "metadata")]
    if required:
        result["required"] = required
    return result


def build_crd(definition: CrdDefinition) -> dict[str, Any]:
    """Build one CRD.

    Args:
        definition: The kind's definition.

    Returns:
        An ``apiextensions.k8s.io/v1`` CustomResourceDefinition as a dict.
    """
    names: dict[str, Any] = {
        "kind": definition.kind,
        "listKind": f"{definition.kind}List",
        "plural": definition.plural,
        "singular": definition.singular,
    }
    if definition.short_names:
        names["shortNames"] = list(definition.short_names)
    if definition.categories:
        names["categories"] = list(definition.categories)
    metadata: dict[str, Any] = {"name": definition.name}
    labels = {"app.kubernetes.io/part-of": "zeroserve", **definition.labels}
    metadata["labels"] = labels
    version: dict[str, Any] = {
        "name": definition.version,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "schema": {"openAPIV3Schema": _object_schema(definition.model)},
    }
    if definition.columns:
        version["additionalPrinterColumns"] = [dict(column) for column in definition.columns]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": metadata,
        "spec": {"group": definition.group, "names": names, "scope": definition.scope, "versions": [version]},
    }


def all_crds() -> list[dict[str, Any]]:
    """Every CRD zeroserve serves (InferenceService, InferenceGraph, Knative's kinds, HTTPRoute).

    Returns:
        Fresh dicts, safe to change.
    """
    return [build_crd(definition) for definition in crd_definitions()]


def crd_for(kind: str) -> dict[str, Any]:
    """The CRD of one kind.

    Args:
        kind: e.g. ``"InferenceService"``.

    Returns:
        The CRD; raises ``KeyError`` for a kind zeroserve does not serve.
    """
    for definition in crd_definitions():
        if definition.kind == kind:
            return build_crd(definition)
    raise KeyError(kind)


def render_crd(crd: dict[str, Any]) -> str:
    """Render a CRD as YAML, deterministically (the form kept in ``config/crd/``).

    Args:
        crd: A CRD from :func:`all_crds`.

    Returns:
        The YAML text, with a generated-file header.
    """
    header = "# Generated by hack/gen-crds.py from zeroserve.apis; do not edit.\n"
    return header + yaml.safe_dump(crd, sort_keys=False, default_flow_style=False, width=120)


def crd_files() -> dict[str, str]:
    """The files of ``config/crd/``: one ``<group>_<plural>.yaml`` per CRD and a kustomization.

    Returns:
        File name to content.
    """
    files: dict[str, str] = {}
    for crd in all_crds():
        files[f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml"] = render_crd(crd)
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": sorted(files),
    }
    files["kustomization.yaml"] = render_crd(kustomization)
    return files
