"""The API kinds the controller reads and writes, as (group, version, plural) coordinates.

A :class:`Kind` is all the store needs to build a REST path; objects themselves are plain Kubernetes
JSON (``dict``), the same shape the API server stores.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CLUSTER_SERVING_RUNTIME",
    "CONFIG_MAP",
    "EVENT",
    "HTTP_ROUTE",
    "INFERENCE_GRAPH",
    "INFERENCE_SERVICE",
    "KNATIVE_SERVICE",
    "LEASE",
    "REVISION",
    "SELDON_DEPLOYMENT",
    "SERVING_RUNTIME",
    "TRAINED_MODEL",
    "Kind",
]


@dataclass(frozen=True)
class Kind:
    """Coordinates of one resource type."""

    group: str
    """API group; ``""`` for the core group."""
    version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        """``group/version``, or just ``version`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        """The REST path of a collection or of one object.

        Args:
            namespace: the namespace; ``None`` for every namespace (or a cluster-scoped kind).
            name: the object's name; ``None`` for the collection.
            subresource: e.g. ``"status"``.

        Returns:
            A path such as ``/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/x``.
        """
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            prefix += f"/namespaces/{namespace}"
        path = f"{prefix}/{self.plural}"
        if name:
            path += f"/{name}"
            if subresource:
                path += f"/{subresource}"
        return path


INFERENCE_SERVICE = Kind("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices")
INFERENCE_GRAPH = Kind("serving.kserve.io", "v1alpha1", "InferenceGraph", "inferencegraphs")
SELDON_DEPLOYMENT = Kind("machinelearning.seldon.io", "v1", "SeldonDeployment", "seldondeployments")
KNATIVE_SERVICE = Kind("serving.knative.dev", "v1", "Service", "services")
REVISION = Kind("serving.knative.dev", "v1", "Revision", "revisions")
HTTP_ROUTE = Kind("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes")
EVENT = Kind("", "v1", "Event", "events")
LEASE = Kind("coordination.k8s.io", "v1", "Lease", "leases")
CONFIG_MAP = Kind("", "v1", "ConfigMap", "configmaps")
SERVING_RUNTIME = Kind("serving.kserve.io", "v1alpha1", "ServingRuntime", "servingruntimes")
CLUSTER_SERVING_RUNTIME = Kind(
    "serving.kserve.io", "v1alpha1", "ClusterServingRuntime", "clusterservingruntimes", namespaced=False
)
TRAINED_MODEL = Kind("serving.kserve.io", "v1alpha1", "TrainedModel", "trainedmodels")
