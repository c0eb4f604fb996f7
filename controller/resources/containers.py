"""The containers of each component: the runtime's model server, custom containers, and the args the
controller adds (transformer/explainer wiring, payload-logger flags, batcher settings).

Pure functions from the (defaulted) InferenceService and the configuration to container dicts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from zeroserve.apis.serving.v1alpha1.runtime_selection import RuntimeCandidate, SelectionError
from zeroserve.apis.serving.v1beta1 import (
    Batcher,
    ComponentExtensionSpec,
    ExplainerSpec,
    InferenceService,
    LoggerSpec,
    ModelSpec,
    PredictorSpec,
    TransformerSpec,
)
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.config.cluster_runtimes import protocol_ports
from zeroserve.controller.config.runtime_source import builtin_candidates, select_model_runtime
from zeroserve.controller.errors import BuildError
from zeroserve.controller.names import component_service_name
from zeroserve.controller.resources.constants import MODEL_CONTAINER

__all__ = [
    "LOGGER_AGENT_CONTAINER",
    "LOGGER_AGENT_PORT",
    "apply_logger",
    "apply_model_config",
    "batcher_env",
    "builtin_runtime",
    "component_containers",
    "logger_flags",
    "main_container_index",
    "merge_runtime_container",
    "predictor_protocol",
]

LOGGER_AGENT_CONTAINER = "logger-agent"
LOGGER_AGENT_PORT = 9081

# ModelSpec fields that describe the model, not the container.
_MODEL_ONLY = ("modelFormat", "runtime", "storageUri", "protocolVersion", "runtimeVersion", "storage")


def predictor_protocol(isvc: InferenceService) -> str:
    """The predictor's protocol version (``v1`` unless the model says otherwise)."""
    model = isvc.spec.predictor.model
    return (model.protocol_version if model is not None else None) or "v1"


def main_container_index(containers: list[dict[str, Any]]) -> int:
    """KServe's rule: the container named ``kserve-container``, else the first one."""
    for i, container in enumerate(containers):
        if container.get("name") == MODEL_CONTAINER:
            return i
    return 0


def _merge_env(base: list[dict[str, Any]], override: list[dict[str, Any]]) -> list[dict[str, Any]]:
    merged = {e["name"]: dict(e) for e in base}
    for env in override:
        merged[env["name"]] = dict(env)
    return list(merged.values())


def _has_arg(args: list[str], flag: str) -> bool:
    return any(a == flag or a.startswith(flag + "=") for a in args)


_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)(?:\.([\w./-]+))?\s*\}\}")


def _render(text: str, values: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if match.group(2) is not None:
            # {{.Labels.key}} / {{.Annotations.key}}: empty when the key is absent, as Go templates do
            return str((value or {}).get(match.group(2), "")) if isinstance(value, dict | None) else ""
        return match.group(0) if value is None else str(value)

    return _PLACEHOLDER.sub(fill, text)


def _merge_resources(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def merge_runtime_container(
    runtime_container: dict[str, Any], model: dict[str, Any], values: dict[str, Any]
) -> dict[str, Any]:
    """KServe's merge of a runtime's container with the predictor's ``model`` container fields.

    The predictor wins field by field; ``args`` are the runtime's followed by the predictor's;
    ``env`` and ``ports`` are merged by ``name`` / ``containerPort`` (the predictor's entry wins);
    ``resources`` are merged per ``requests`` / ``limits`` key. Placeholders ``{{.Name}}``,
    ``{{.Namespace}}``, ``{{.Version}}``, ``{{.Labels.<key>}}`` and ``{{.Annotations.<key>}}`` are
    filled in everywhere in the result (an absent label or annotation is empty, as in KServe).

    Args:
        runtime_container: the runtime's main container.
        model: the predictor's ``model`` as a dict, its model-only fields removed.
        values: placeholder values.

    Returns:
        The merged container, named ``kserve-container``.
    """
    merged = json.loads(json.dumps(runtime_container))
    user = dict(model)
    user.pop("name", None)
    merged["args"] = list(merged.get("args") or []) + list(user.pop("args", None) or [])
    env = _merge_env(list(merged.get("env") or []), list(user.pop("env", None) or []))
    if env:
        merged["env"] = env
    ports = {p.get("containerPort"): dict(p) for p in merged.get("ports") or []}
    for port in user.pop("ports", None) or []:
        ports[port.get("containerPort")] = dict(port)
    if ports:
        merged["ports"] = list(ports.values())
    resources = _merge_resources(merged.get("resources") or {}, user.pop("resources", None) or {})
    if resources:
        merged["resources"] = resources
    merged.update(user)
    merged["name"] = MODEL_CONTAINER
    if not merged["args"]:
        merged.pop("args")
    rendered: dict[str, Any] = json.loads(_render(json.dumps(merged), values))
    return rendered


def builtin_runtime(model: ModelSpec, config: ControllerConfig) -> RuntimeCandidate:
    """The built-in ClusterServingRuntime serving ``model``, chosen by KServe's rules.

    For callers that build without the API's runtimes: the same choice the reconciler makes on a
    cluster that holds only the built-in ones.

    Raises:
        BuildError: none serves the model (KServe's reason; the message lists the runtimes).
    """
    try:
        return select_model_runtime(model, [], builtin_candidates(config.version))
    except SelectionError as exc:
        raise BuildError(exc.reason, exc.message) from exc


def _model_container(
    isvc: InferenceService, model: ModelSpec, config: ControllerConfig, runtime: RuntimeCandidate | None
) -> dict[str, Any]:
    if runtime is None:
        runtime = builtin_runtime(model, config)
    values: dict[str, Any] = {
        **config.image_values(isvc.name, isvc.namespace),
        "Labels": isvc.metadata.labels or {},
        "Annotations": isvc.metadata.annotations or {},
    }
    containers = [c.to_dict() for c in runtime.spec.containers]
    if not containers:
        raise BuildError("InvalidRuntime", f"{runtime.kind} {runtime.name!r}: spec.containers is empty")
    base = containers[main_container_index(containers)]
    user = {k: v for k, v in model.to_dict().items() if k not in _MODEL_ONLY}
    container = merge_runtime_container(base, user, values)
    if not container.get("ports"):
        container["ports"] = protocol_ports(model.protocol_version or "v1")
    return container


def _predictor_containers(
    isvc: InferenceService, config: ControllerConfig, runtime: RuntimeCandidate | None
) -> list[dict[str, Any]]:
    predictor: PredictorSpec = isvc.spec.predictor
    if predictor.model is not None:
        return [_model_container(isvc, predictor.model, config, runtime)]
    containers = [c.to_dict() for c in predictor.containers or []]
    if not containers:
        raise BuildError(
            "InvalidPredictorSpec",
            "spec.predictor: no model and no containers (legacy framework keys must be defaulted to model)",
        )
    return containers


def _wired_containers(
    isvc: InferenceService, spec: TransformerSpec | ExplainerSpec, component: str, predictor_host: str
) -> list[dict[str, Any]]:
    containers = [c.to_dict() for c in spec.containers or []]
    if not containers:
        raise BuildError("InvalidSpec", f"spec.{component}: containers must be given")
    main = containers[main_container_index(containers)]
    args: list[str] = list(main.get("args") or [])
    extra: list[str] = []
    if not _has_arg(args, "--model_name"):
        extra += ["--model_name", isvc.name]
    if not _has_arg(args, "--predictor_host"):
        extra += ["--predictor_host", predictor_host]
    if not _has_arg(args, "--http_port"):
        ports = main.get("ports") or [{"containerPort": 8080}]
        extra += ["--http_port", str(ports[0].get("containerPort", 8080))]
    protocol = predictor_protocol(isvc)
    if protocol != "v1" and not _has_arg(args, "--predictor_protocol"):
        extra += ["--predictor_protocol", protocol]
    if component == "transformer" and spec.container_concurrency and not _has_arg(args, "--workers"):
        extra += ["--workers", str(spec.container_concurrency)]
    main["args"] = args + extra
    main["env"] = _merge_env(main.get("env") or [], [{"name": "PROTOCOL", "value": protocol}])
    return containers


def component_containers(
    isvc: InferenceService, component: str, config: ControllerConfig, runtime: RuntimeCandidate | None = None
) -> list[dict[str, Any]]:
    """The containers of a component, before storage, logger and batcher wiring.

    Args:
        isvc: the defaulted InferenceService.
        component: ``predictor``, ``transformer`` or ``explainer``.
        config: the controller configuration (images, version).
        runtime: the predictor model's (Cluster)ServingRuntime, chosen by the reconciler; ``None``:
            :func:`builtin_runtime` chooses one of the built-in ones.

    Returns:
        Container dicts; the main one is :func:`main_container_index`'s.

    Raises:
        BuildError: no runtime serves the model, or a component has no container.
    """
    ns = isvc.namespace or "default"
    if component == "predictor":
        return _predictor_containers(isvc, config, runtime)
    if component == "transformer":
        assert isvc.spec.transformer is not None
        host = f"{component_service_name(isvc.name, 'predictor')}.{ns}"
        return _wired_containers(isvc, isvc.spec.transformer, component, host)
    if component == "explainer":
        assert isvc.spec.explainer is not None
        target = "transformer" if isvc.spec.transformer is not None else "predictor"
        host = f"{component_service_name(isvc.name, target)}.{ns}"
        return _wired_containers(isvc, isvc.spec.explainer, component, host)
    raise ValueError(f"unknown component {component!r}")


def logger_flags(
    logger: LoggerSpec, isvc: InferenceService, component: str, config: ControllerConfig
) -> list[str]:
    """The payload-logger flags of docs/contracts.md for a component's ``logger``.

    Args:
        logger: ``spec.<component>.logger``.
        isvc: the InferenceService (its name and namespace go into the CloudEvents).
        component: the component the events come from.
        config: for the default sink URL.

    Returns:
        ``--log-url ... --log-mode ... [--log-metadata-headers a,b] --inference-service ... ...``.
    """
    flags = ["--log-url", logger.url or config.logger_default_url, "--log-mode", logger.mode or "all"]
    if logger.metadata_headers:
        flags += ["--log-metadata-headers", ",".join(logger.metadata_headers)]
    flags += [
        "--inference-service",
        isvc.name,
        "--namespace",
        isvc.namespace or "default",
        "--component",
        component,
    ]
    return flags


def batcher_env(batcher: Batcher, config: ControllerConfig) -> list[dict[str, Any]]:
    """The batcher's settings as the model server's environment (``ZEROSERVE_BATCHER_*``)."""
    size = batcher.max_batch_size or config.batcher_max_batch_size
    latency = batcher.max_latency or config.batcher_max_latency_ms
    env = [
        {"name": "ZEROSERVE_BATCHER_ENABLED", "value": "true"},
        {"name": "ZEROSERVE_BATCHER_MAX_BATCH_SIZE", "value": str(size)},
        {"name": "ZEROSERVE_BATCHER_MAX_LATENCY_MS", "value": str(latency)},
    ]
    if batcher.timeout:
        env.append({"name": "ZEROSERVE_BATCHER_TIMEOUT_SECONDS", "value": str(batcher.timeout)})
    return env


def apply_logger(
    containers: list[dict[str, Any]],
    ext: ComponentExtensionSpec,
    isvc: InferenceService,
    component: str,
    config: ControllerConfig,
) -> list[dict[str, Any]]:
    """Carry ``ext.logger`` to the data plane: as flags on a server that takes them, else a sidecar.

    Args:
        containers: the component's containers (not changed; a new list is returned).
        ext: the component's extension spec.
        isvc: the InferenceService.
        component: the component's name.
        config: the controller configuration.

    Returns:
        The containers with the logger wired in (unchanged when there is no logger).
    """
    if ext.logger is None:
        return containers
    containers = [dict(c) for c in containers]
    index = main_container_index(containers)
    main = containers[index]
    flags = logger_flags(ext.logger, isvc, component, config)
    if config.takes_logger_flags(str(main.get("image", ""))):
        main["args"] = list(main.get("args") or []) + flags
        return containers
    ports = main.pop("ports", None) or [{"containerPort": 8080}]
    upstream_port = int(ports[0].get("containerPort", 8080))
    sidecar = {
        "name": LOGGER_AGENT_CONTAINER,
        "image": f"{config.flag_aware_images[0]}:{config.version}",
        "args": [
            "logger-agent",
            "--upstream",
            f"http://127.0.0.1:{upstream_port}",
            "--port",
            str(LOGGER_AGENT_PORT),
            *flags,
        ],
        "ports": [{"name": "http1", "containerPort": LOGGER_AGENT_PORT, "protocol": "TCP"}],
    }
    containers.append(sidecar)
    return containers


MODEL_CONFIG_VOLUME = "model-config"
MODEL_CONFIG_DIR = "/mnt/configs"


def _memory_bytes(value: str) -> int | None:
    from zeroserve.apis.serving.v1alpha1.runtime_validation import parse_memory

    try:
        return parse_memory(value)
    except ValueError:
        return None


def apply_model_config(
    pod: dict[str, Any], isvc: InferenceService, main_index: int, config: ControllerConfig
) -> dict[str, Any]:
    """Make a multi-model predictor (a ``model`` without ``storageUri``) serve its TrainedModels.

    Mounts the ConfigMap ``modelconfig-<isvc>-0`` (optional, written by the TrainedModel reconciler)
    at ``/mnt/configs`` and, when the main container runs our image, passes
    ``--model_config_file=/mnt/configs/models.json --models_dir=/mnt/models`` (an ``emptyDir``) and
    ``--memory_budget=<its memory limit in bytes>`` (KServe's agent does this beside the server).

    Args:
        pod: the component's pod spec (not changed; a new one is returned).
        isvc: the InferenceService.
        main_index: the main container's index.
        config: which images take our flags.

    Returns:
        The pod spec, unchanged unless the predictor is a multi-model server.
    """
    model = isvc.spec.predictor.model
    if model is None or model.storage_uri or model.storage:
        return pod
    pod = dict(pod)
    containers = [dict(c) for c in pod["containers"]]
    main = containers[main_index]
    mounts = [m for m in main.get("volumeMounts") or [] if m.get("name") != MODEL_CONFIG_VOLUME]
    mounts.append({"name": MODEL_CONFIG_VOLUME, "mountPath": MODEL_CONFIG_DIR, "readOnly": True})
    volumes = [v for v in pod.get("volumes") or [] if v.get("name") != MODEL_CONFIG_VOLUME]
    volumes.append(
        {"name": MODEL_CONFIG_VOLUME, "configMap": {"name": f"modelconfig-{isvc.name}-0", "optional": True}}
    )
    if config.takes_logger_flags(str(main.get("image", ""))):
        args = list(main.get("args") or [])
        if not _has_arg(args, "--model_config_file"):
            args.append(f"--model_config_file={MODEL_CONFIG_DIR}/models.json")
        if not _has_arg(args, "--models_dir"):
            args.append("--models_dir=/mnt/models")
            mounts.append({"name": "trained-models", "mountPath": "/mnt/models"})
            volumes.append({"name": "trained-models", "emptyDir": {}})
        limit = ((main.get("resources") or {}).get("limits") or {}).get("memory")
        budget = _memory_bytes(str(limit)) if limit else None
        if budget and not _has_arg(args, "--memory_budget"):
            args.append(f"--memory_budget={budget}")
        main["args"] = args
    main["volumeMounts"] = mounts
    containers[main_index] = main
    pod["containers"] = containers
    pod["volumes"] = volumes
    return pod
