"""The controller's configuration: domain, images and defaults.

Defaults are KServe's. On a cluster the ConfigMap ``inferenceservice-config`` (in the controller's
namespace) overrides them with KServe's own keys, each a JSON document (``ingress``,
``storageInitializer``, ``logger``, ``batcher``, ``router``) — see
:meth:`ControllerConfig.from_configmap`. Model servers are not configured here: they are
(Cluster)ServingRuntimes, the built-in ones in :mod:`.cluster_runtimes`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from zeroserve import __version__
from zeroserve.images import REPOSITORY, platform_image

__all__ = ["CONFIGMAP_NAME", "RETIRED_KEYS", "ControllerConfig"]

CONFIGMAP_NAME = "inferenceservice-config"
"""The ConfigMap KServe reads its configuration from; we read the same keys."""

RETIRED_KEYS: dict[str, str] = {
    "runtimes": (
        "model servers are ClusterServingRuntimes (serving.kserve.io/v1alpha1), as in KServe: "
        "'kubectl get clusterservingruntimes' lists them (the built-in ones are config/runtimes/); "
        "add or edit one, or a namespace's ServingRuntime, instead, and delete this key"
    ),
}
"""Keys zeroserve once read and no longer does (KServe has none of them) -> what to do instead; a
ConfigMap that sets one is still read, with a warning naming the key."""

log = logging.getLogger(__name__)

_IMAGE = REPOSITORY


class ControllerConfig(BaseModel):
    """Everything the builders and reconcilers read besides the objects themselves."""

    model_config = ConfigDict(extra="forbid")

    domain: str = "example.com"
    """``ingress.ingressDomain``: external URLs are ``<scheme>://<name>.<namespace>.<domain>``."""
    url_scheme: str = "http"
    """``ingress.urlScheme``."""
    cluster_domain: str = "svc.cluster.local"
    """Suffix of cluster-local hosts."""
    version: str = __version__
    """Tag of our images, ``{{.Version}}`` in runtimes' templates."""
    storage_initializer_image: str = platform_image(__version__)
    """Image of the ``storage-initializer`` init container (args ``storage-initializer <uri> <dir>``)."""
    storage_initializer_resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "100m", "memory": "100Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        }
    )
    router_image: str = platform_image(__version__)
    """Image of the InferenceGraph router (args ``router --graph-json <json>``)."""
    router_propagate_headers: list[str] = Field(default_factory=list)
    """``router.headers.propagate``: header name patterns the router forwards (``PROPAGATE_HEADERS``)."""
    ingress_gateway: str = "knative-serving/knative-ingress-gateway"
    """``ingress.ingressGateway``: ``<namespace>/<name>`` of the external Gateway for the HTTPRoute."""
    local_gateway: str = "knative-serving/knative-local-gateway"
    """``ingress.localGateway``: the cluster-local Gateway the HTTPRoute attaches to."""
    flag_aware_images: list[str] = Field(
        default_factory=lambda: [
            _IMAGE,
            "kserve/sklearnserver",
            "kserve/xgbserver",
            "kserve/pytorchserver",
        ]
    )
    """Image repositories whose servers take the payload-logger flags themselves; a component running
    any other image gets a ``logger-agent`` sidecar in front of it instead."""
    logger_default_url: str = "http://default-broker"
    """``logger.defaultUrl``: the sink when a component's ``logger.url`` is empty."""
    batcher_max_batch_size: int = 32
    batcher_max_latency_ms: int = 5000

    def takes_logger_flags(self, image: str) -> bool:
        """Whether a container of ``image`` accepts the payload-logger flags (see ``flag_aware_images``)."""
        repository = image.split("@", 1)[0]
        if ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        return repository in self.flag_aware_images

    def image_values(self, name: str, namespace: str) -> dict[str, str]:
        """Placeholder values for runtime templates."""
        return {"Name": name, "Namespace": namespace, "Version": self.version}

    @classmethod
    def from_configmap(
        cls, data: dict[str, str] | None, base: ControllerConfig | None = None
    ) -> ControllerConfig:
        """Overlay a ConfigMap's ``data`` on ``base`` (the defaults when ``None``).

        Args:
            data: ``ConfigMap.data``; unknown keys (KServe has many we do not use) are ignored, and
                :data:`RETIRED_KEYS` are ignored with a warning saying what replaced them.
            base: the configuration to start from.

        Returns:
            A new configuration; raises ``ValueError`` when a key we read is malformed.
        """
        config = (base or cls()).model_copy(deep=True)
        data = data or {}

        def section(key: str) -> dict[str, Any]:
            text = data.get(key)
            if not text:
                return {}
            try:
                value = json.loads(text)
            except ValueError as exc:
                raise ValueError(f"{CONFIGMAP_NAME}: key {key!r} is not JSON: {exc}") from exc
            if not isinstance(value, dict):
                raise ValueError(f"{CONFIGMAP_NAME}: key {key!r} must be a JSON object")
            return value

        ingress = section("ingress")
        config.domain = ingress.get("ingressDomain", config.domain)
        config.url_scheme = ingress.get("urlScheme", config.url_scheme)
        config.ingress_gateway = ingress.get("ingressGateway", config.ingress_gateway)
        config.local_gateway = ingress.get("localGateway", config.local_gateway)
        storage = section("storageInitializer")
        config.storage_initializer_image = storage.get("image", config.storage_initializer_image)
        resources = config.storage_initializer_resources
        for src, (group, res) in {
            "cpuRequest": ("requests", "cpu"),
            "memoryRequest": ("requests", "memory"),
            "cpuLimit": ("limits", "cpu"),
            "memoryLimit": ("limits", "memory"),
        }.items():
            if src in storage:
                resources.setdefault(group, {})[res] = storage[src]
        router = section("router")
        config.router_image = router.get("image", config.router_image)
        propagate = (router.get("headers") or {}).get("propagate")
        if propagate is not None:
            config.router_propagate_headers = list(propagate)
        logger = section("logger")
        config.logger_default_url = logger.get("defaultUrl", config.logger_default_url)
        batcher = section("batcher")
        if "maxBatchSize" in batcher:
            config.batcher_max_batch_size = int(batcher["maxBatchSize"])
        if "maxLatency" in batcher:
            config.batcher_max_latency_ms = int(batcher["maxLatency"])
        for key in sorted(RETIRED_KEYS.keys() & data.keys()):
            log.warning("%s: key %r is no longer read: %s", CONFIGMAP_NAME, key, RETIRED_KEYS[key])
        return config
