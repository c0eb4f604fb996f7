"""Label and annotation keys, container names and paths shared by the builders (KServe's spellings)."""

from __future__ import annotations

from zeroserve.controller.config.cluster_runtimes import MODEL_DIR

__all__ = [
    "AUTOSCALER_CLASS",
    "BATCHER",
    "BATCHER_MAX_BATCH_SIZE",
    "BATCHER_MAX_LATENCY",
    "COMPONENT_LABEL",
    "DEFAULT_MIN_REPLICAS",
    "ENABLE_AUTH",
    "ENABLE_TAG_ROUTING",
    "INFERENCE_GRAPH_LABEL",
    "INFERENCE_SERVICE_LABEL",
    "KPA_CLASS",
    "LOGGER",
    "LOGGER_MODE",
    "LOGGER_SINK_URL",
    "MAX_SCALE",
    "METRIC",
    "MIN_SCALE",
    "MODEL_CONTAINER",
    "MODEL_DIR",
    "MODEL_VOLUME",
    "ROLLOUT_DURATION",
    "STORAGE_INITIALIZER",
    "STORAGE_URI_ANNOTATION",
    "TARGET",
    "auth_annotations",
]

INFERENCE_SERVICE_LABEL = "serving.kserve.io/inferenceservice"
INFERENCE_GRAPH_LABEL = "serving.kserve.io/inferencegraph"
COMPONENT_LABEL = "component"

AUTOSCALER_CLASS = "autoscaling.knative.dev/class"
KPA_CLASS = "kpa.autoscaling.knative.dev"
MIN_SCALE = "autoscaling.knative.dev/min-scale"
MAX_SCALE = "autoscaling.knative.dev/max-scale"
TARGET = "autoscaling.knative.dev/target"
METRIC = "autoscaling.knative.dev/metric"
DEFAULT_MIN_REPLICAS = 1

ROLLOUT_DURATION = "serving.knative.dev/rollout-duration"
ENABLE_TAG_ROUTING = "serving.kserve.io/enable-tag-routing"
ENABLE_AUTH = "serving.kserve.io/enable-auth"
"""On an InferenceService or InferenceGraph: callers must present a ServiceAccount token; the
controller copies it onto every Knative Service and HTTPRoute it builds, where the gateway reads it."""

LOGGER = "internal.serving.kserve.io/logger"
LOGGER_SINK_URL = "internal.serving.kserve.io/logger-sink-url"
LOGGER_MODE = "internal.serving.kserve.io/logger-mode"
BATCHER = "internal.serving.kserve.io/batcher"
BATCHER_MAX_BATCH_SIZE = "internal.serving.kserve.io/batcher-max-batchsize"
BATCHER_MAX_LATENCY = "internal.serving.kserve.io/batcher-max-latency"
STORAGE_URI_ANNOTATION = "internal.serving.kserve.io/storage-initializer-sourceuri"

MODEL_CONTAINER = "kserve-container"
STORAGE_INITIALIZER = "storage-initializer"
MODEL_VOLUME = "kserve-provision-location"


def auth_annotations(annotations: dict[str, str]) -> dict[str, str]:
    """``{ENABLE_AUTH: "true"}`` when the owner's annotations turn authentication on, else ``{}``.

    Args:
        annotations: the InferenceService's or InferenceGraph's annotations.

    Returns:
        The annotation to copy onto the objects built for it.
    """
    return {ENABLE_AUTH: "true"} if annotations.get(ENABLE_AUTH, "").strip().lower() == "true" else {}
