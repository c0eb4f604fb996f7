"""Label and annotation keys, container names and paths shared by the builders (KServe's spellings)."""

from __future__ import annotations

__all__ = [
    "AUTOSCALER_CLASS",
    "BATCHER",
    "BATCHER_MAX_BATCH_SIZE",
    "BATCHER_MAX_LATENCY",
    "COMPONENT_LABEL",
    "DEFAULT_MIN_REPLICAS",
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
MODEL_DIR = "/mnt/models"
