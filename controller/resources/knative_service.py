"""InferenceService component -> Knative Service ``<isvc>-<component>`` (KServe's Knative mode).

:func:`build_component_service` assembles, from the defaulted InferenceService alone:

- metadata: the name, labels ``serving.kserve.io/inferenceservice`` and ``component`` over the
  InferenceService's and the component's labels, ``serving.knative.dev/rollout-duration`` when set,
  and an owner reference;
- the revision template: autoscaling annotations (:mod:`.autoscaling`), the user's annotations,
  KServe's ``internal.serving.kserve.io/*`` markers; the containers (:mod:`.containers`) with the
  storage-initializer (:mod:`.storage`), logger and batcher wired in; ``containerConcurrency``,
  ``timeoutSeconds``/``responseStartTimeoutSeconds``; other pod fields passed through;
- ``traffic``: the canary split (:mod:`.traffic`) from the status' rolled-out revision, or, for a
  component listed in the ``serving.zeroserve.io/traffic`` annotation, the A/B/N targets it pins.
"""

from __future__ import annotations

from typing import Any

from pydantic.alias_generators import to_camel

from zeroserve.apis.serving.v1alpha1.runtime_selection import RuntimeCandidate
from zeroserve.apis.serving.v1beta1 import (
    LEGACY_FRAMEWORKS,
    ComponentExtensionSpec,
    ExplainerSpec,
    InferenceService,
    PredictorSpec,
    TransformerSpec,
)
from zeroserve.apis.serving.v1beta1.traffic_split import TRAFFIC_ANNOTATION, traffic_splits
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.names import component_service_name
from zeroserve.controller.resources import constants as c
from zeroserve.controller.resources.autoscaling import autoscaling_annotations
from zeroserve.controller.resources.containers import (
    apply_logger,
    apply_model_config,
    batcher_env,
    builtin_runtime,
    component_containers,
    main_container_index,
)
from zeroserve.controller.resources.explainer import builtin_explainer_containers
from zeroserve.controller.resources.owner import owner_reference
from zeroserve.controller.resources.storage import apply_storage_initializer, storage_uri
from zeroserve.controller.resources.traffic import component_traffic

__all__ = ["DISALLOWED_ANNOTATIONS", "build_component_service", "component_labels", "component_spec"]

DISALLOWED_ANNOTATIONS: frozenset[str] = frozenset(
    {
        c.MIN_SCALE,
        c.MAX_SCALE,
        c.STORAGE_URI_ANNOTATION,
        c.ROLLOUT_DURATION,
        TRAFFIC_ANNOTATION,
        "kubectl.kubernetes.io/last-applied-configuration",
    }
)
"""InferenceService annotations not copied to revision templates: KServe's disallowed list, plus the
A/B/N traffic annotation (a traffic change must not stamp a new revision)."""

_EXTENSION_FIELDS = frozenset(f.alias or to_camel(n) for n, f in ComponentExtensionSpec.model_fields.items())
_PREDICTOR_ONLY = frozenset(
    {*LEGACY_FRAMEWORKS, "model", "name", "storageUris", "storageContainerName", "workerSpec"}
)


def component_spec(isvc: InferenceService, component: str) -> PredictorSpec | TransformerSpec | ExplainerSpec:
    """The spec of ``component``; raises ``KeyError`` when the InferenceService has none."""
    return isvc.spec.components()[component]


def component_labels(isvc: InferenceService, ext: ComponentExtensionSpec, component: str) -> dict[str, str]:
    """Labels of a component's Knative Service and revisions."""
    return {
        **isvc.labels,
        **(ext.labels or {}),
        c.INFERENCE_SERVICE_LABEL: isvc.name,
        c.COMPONENT_LABEL: component,
    }


def _pod_fields(spec: PredictorSpec | TransformerSpec | ExplainerSpec) -> dict[str, Any]:
    skip = _EXTENSION_FIELDS | _PREDICTOR_ONLY | {"art", "containers"}
    return {k: v for k, v in spec.to_dict().items() if k not in skip}


def _template_annotations(
    isvc: InferenceService, ext: ComponentExtensionSpec, config: ControllerConfig, uri: str | None
) -> dict[str, str]:
    user = {k: v for k, v in isvc.annotations.items() if k not in DISALLOWED_ANNOTATIONS}
    user.update({k: v for k, v in (ext.annotations or {}).items() if k not in DISALLOWED_ANNOTATIONS})
    annotations = {
        **user,
        **autoscaling_annotations(
            user, ext.min_replicas, ext.max_replicas, ext.scale_target, ext.scale_metric
        ),
    }
    if ext.logger is not None:
        annotations[c.LOGGER] = "true"
        annotations[c.LOGGER_SINK_URL] = ext.logger.url or config.logger_default_url
        annotations[c.LOGGER_MODE] = ext.logger.mode or "all"
    if ext.batcher is not None:
        annotations[c.BATCHER] = "true"
        annotations[c.BATCHER_MAX_BATCH_SIZE] = str(
            ext.batcher.max_batch_size or config.batcher_max_batch_size
        )
        annotations[c.BATCHER_MAX_LATENCY] = str(ext.batcher.max_latency or config.batcher_max_latency_ms)
    if uri:
        annotations[c.STORAGE_URI_ANNOTATION] = uri
    return annotations


def build_component_service(
    isvc: InferenceService,
    component: str,
    config: ControllerConfig,
    runtime: RuntimeCandidate | None = None,
) -> dict[str, Any]:
    """Build the Knative Service of one InferenceService component.

    Args:
        isvc: the InferenceService, defaulted (legacy framework keys already rewritten to ``model``);
            its status supplies the rolled-out revision the canary split needs.
        component: ``predictor``, ``transformer`` or ``explainer``.
        config: the controller configuration.
        runtime: the predictor model's (Cluster)ServingRuntime (its container is merged with the
            model's, its pod annotations and volumes added); ``None``: the built-in
            ClusterServingRuntime KServe's rules choose (:func:`.containers.builtin_runtime`).

    Returns:
        The ``serving.knative.dev/v1`` Service as a dict.

    Raises:
        BuildError: no runtime serves the model, or a component lacks containers.
    """
    spec = component_spec(isvc, component)
    name = component_service_name(isvc.name, component)
    namespace = isvc.namespace or "default"
    labels = component_labels(isvc, spec, component)

    builtin = builtin_explainer_containers(isvc, config) if component == "explainer" else None
    if component != "predictor":
        runtime = None
    elif runtime is None and isvc.spec.predictor.model is not None:
        runtime = builtin_runtime(isvc.spec.predictor.model, config)
    containers = builtin if builtin is not None else component_containers(isvc, component, config, runtime)
    main_index = main_container_index(containers)
    uri = storage_uri(isvc, component, containers[main_index])
    if runtime is not None and (runtime.spec.storage_helper or {}).get("disabled"):
        uri = None
    if spec.batcher is not None:
        main = dict(containers[main_index])
        env = [
            e for e in main.get("env") or [] if not str(e.get("name", "")).startswith("ZEROSERVE_BATCHER_")
        ]
        main["env"] = env + batcher_env(spec.batcher, config)
        containers[main_index] = main
    containers = apply_logger(containers, spec, isvc, component, config)

    pod: dict[str, Any] = {}
    if spec.container_concurrency is not None:
        pod["containerConcurrency"] = spec.container_concurrency
    if spec.timeout is not None:
        pod["timeoutSeconds"] = spec.timeout
        pod["responseStartTimeoutSeconds"] = spec.timeout
    pod["containers"] = containers
    pod.update(_pod_fields(spec))
    if runtime is not None and runtime.spec.volumes:
        pod["volumes"] = list(runtime.spec.volumes) + list(pod.get("volumes") or [])
    if component == "predictor" and builtin is None:
        pod = apply_model_config(pod, isvc, main_index, config)
    if uri:
        pod = apply_storage_initializer(pod, main_index, uri, config)

    metadata: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "ownerReferences": [owner_reference(isvc)],
    }
    annotations = c.auth_annotations(isvc.annotations)
    if isvc.annotations.get(c.ROLLOUT_DURATION):
        annotations[c.ROLLOUT_DURATION] = isvc.annotations[c.ROLLOUT_DURATION]
    if annotations:
        metadata["annotations"] = annotations

    pinned = traffic_splits(isvc).get(component)
    if pinned is not None:  # A/B/N: the serving.zeroserve.io/traffic annotation, validated beforehand
        traffic = [{k: v for k, v in t.to_dict().items() if k != "url"} for t in pinned]
    else:
        status = (isvc.status.components or {}).get(component) if isvc.status else None
        traffic = component_traffic(
            spec.canary_traffic_percent,
            status.latest_rolledout_revision if status else None,
            isvc.annotations.get(c.ENABLE_TAG_ROUTING, "").lower() == "true",
        )
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {
                        **((runtime.spec.annotations or {}) if runtime is not None else {}),
                        **_template_annotations(isvc, spec, config, uri),
                    },
                },
                "spec": pod,
            },
            "traffic": traffic,
        },
    }
