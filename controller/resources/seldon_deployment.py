"""SeldonDeployment -> Knative Services: one per graph component, one orchestrator per predictor.

Component ``<sdep>-<predictor>-<unit>`` runs the unit's container from the predictor's
``componentSpecs`` (its image goes through the local engine's image table like any other), or, for a
prepackaged ``implementation`` (:data:`PREPACKAGED`), our runtime on our image with ``modelUri``
downloaded by the storage initializer into ``/mnt/models``. Every component gets Seldon's
environment (``PREDICTIVE_UNIT_ID``, ``PREDICTIVE_UNIT_PARAMETERS``, ``PREDICTOR_ID``,
``SELDON_DEPLOYMENT_ID``, ``PREDICTIVE_UNIT_IMAGE``). A unit whose image is one of Seldon's bandit
routers (:data:`BANDIT_IMAGES`) and the units Seldon's executor runs itself (``RANDOM_ABTEST``,
``AVERAGE_COMBINER``, ``SIMPLE_*``) get no Service: the orchestrator runs them.

The orchestrator ``<sdep>-<predictor>`` runs ``zeroserve router --seldon-json <json>`` on our image
(:mod:`zeroserve.router.seldon`). Scaling: components and orchestrators scale to zero unless
``replicas`` (componentSpec, predictor or spec, first set) gives a floor; ``hpaSpec.minReplicas`` /
``maxReplicas`` (or ``kedaSpec.minReplicaCount`` / ``maxReplicaCount``) give ``min-scale`` /
``max-scale``; ``autoscaling.knative.dev/*`` annotations of the deployment, predictor or
componentSpec metadata are kept. A unit's ``logger`` becomes the payload logger flags on servers
that take them, else a ``logger-agent`` sidecar in front of the component (which then listens on
``PREDICTIVE_UNIT_HTTP_SERVICE_PORT`` 9000), as for InferenceServices.
"""

from __future__ import annotations

import json
from typing import Any

from zeroserve.apis.seldon import PredictiveUnit, PredictorSpec, SeldonDeployment
from zeroserve.apis.seldon.validation import component_service_name
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.config.cluster_runtimes import server_args
from zeroserve.controller.names import cluster_local_host
from zeroserve.controller.resources.containers import LOGGER_AGENT_CONTAINER, LOGGER_AGENT_PORT
from zeroserve.controller.resources.owner import owner_reference
from zeroserve.controller.resources.storage import apply_storage_initializer
from zeroserve.images import runtime_image, target_of

__all__ = [
    "BANDIT_IMAGES",
    "IN_ORCHESTRATOR",
    "PREPACKAGED",
    "REST_TIMEOUT_ANNOTATION",
    "SELDON_DEPLOYMENT_LABEL",
    "SELDON_PREDICTOR_LABEL",
    "WRAPPER_PORT",
    "build_component_services",
    "build_orchestrator_service",
    "orchestrator_name",
    "seldon_json",
]

SELDON_DEPLOYMENT_LABEL = "seldon-deployment-id"
SELDON_PREDICTOR_LABEL = "seldon.io/predictor"
PREPACKAGED: dict[str, str] = {
    "SKLEARN_SERVER": "sklearn",
    "XGBOOST_SERVER": "xgboost",
    "MLFLOW_SERVER": "mlflow",
    "TENSORFLOW_SERVER": "tensorflow",
    "TRITON_SERVER": "triton",
    "HUGGINGFACE_SERVER": "huggingface",
}
"""Seldon's prepackaged servers -> the ``zeroserve serve`` runtime that serves them."""
BANDIT_IMAGES: dict[str, str] = {
    "seldonio/mab_epsilon_greedy": "EpsilonGreedy",
    "seldonio/mab_thompson_sampling": "ThompsonSampling",
}
IN_ORCHESTRATOR = ("RANDOM_ABTEST", "AVERAGE_COMBINER", "SIMPLE_MODEL", "SIMPLE_ROUTER")
_SCALE = "autoscaling.knative.dev/"
REST_TIMEOUT_ANNOTATION = "seldon.io/rest-timeout"
"""Milliseconds the orchestrator waits for one component call (Seldon's executor's REST timeout)."""
WRAPPER_PORT = 9000
"""Where a wrapper component listens behind a payload-logger sidecar (Seldon's default HTTP port)."""


def _repository(image: str) -> str:
    ref = image.split("@", 1)[0]
    if ":" in ref.rsplit("/", 1)[-1]:
        ref = ref.rsplit(":", 1)[0]
    return ref.removeprefix("docker.io/")


def orchestrator_name(sdep: SeldonDeployment, predictor: PredictorSpec) -> str:
    """The orchestrator's Knative Service name, ``<sdep>-<predictor>``."""
    return f"{sdep.name}-{predictor.name}".lower()


def _bandit(unit: PredictiveUnit, container: dict[str, Any] | None) -> dict[str, Any] | None:
    strategy = BANDIT_IMAGES.get(_repository(str((container or {}).get("image", ""))))
    if strategy is None:
        return None
    params = {p.name: p.value for p in unit.parameters or []}
    bandit: dict[str, Any] = {
        "strategy": strategy,
        "n_branches": params.get("n_branches", len(unit.children or [])),
    }
    for name in ("epsilon", "best_branch", "seed"):
        if name in params:
            bandit[name] = params[name]
    return bandit


def _served(unit: PredictiveUnit, predictor: PredictorSpec) -> bool:
    container = predictor.containers().get(unit.name)
    if container is not None:
        return _bandit(unit, container[1]) is None
    if unit.endpoint is not None and unit.endpoint.service_host:
        return False
    return unit.implementation not in IN_ORCHESTRATOR


def seldon_json(sdep: SeldonDeployment, predictor: PredictorSpec, config: ControllerConfig) -> str:
    """The orchestrator's ``--seldon-json``: the graph with each component's cluster-local endpoint.

    Args:
        sdep: the defaulted deployment.
        predictor: the predictor.
        config: for the cluster domain.

    Returns:
        Compact JSON (see :mod:`zeroserve.router.seldon.graph`); live predictors list the shadow
        predictors' orchestrators under ``shadows``.
    """
    namespace = sdep.namespace or "default"
    containers = predictor.containers()

    def unit_json(unit: PredictiveUnit) -> dict[str, Any]:
        raw = unit.to_dict()
        raw["children"] = [unit_json(child) for child in unit.children or []]
        container = containers.get(unit.name)
        bandit = _bandit(unit, container[1] if container else None)
        if bandit is not None:
            raw["bandit"] = bandit
        elif _served(unit, predictor):
            service = component_service_name(sdep.name, predictor.name, unit.name)
            raw["endpoint"] = {
                **raw.get("endpoint", {}),
                "service_host": cluster_local_host(service, namespace, config.cluster_domain),
                "service_port": 80,
            }
            if sdep.spec.transport == "grpc":  # as Seldon's operator: the transport sets endpoint.type
                raw["endpoint"]["type"] = "GRPC"
        raw["image"] = str(container[1].get("image")) if container else (unit.implementation or unit.name)
        return raw

    document: dict[str, Any] = {
        "deployment": sdep.name,
        "namespace": namespace,
        "predictor": predictor.name,
        "graph": unit_json(predictor.graph),
    }
    timeout = _rest_timeout(sdep, predictor)
    if timeout is not None:
        document["timeout"] = timeout
    if not predictor.shadow:
        shadows = [
            f"http://{cluster_local_host(orchestrator_name(sdep, p), namespace, config.cluster_domain)}"
            for p in sdep.spec.predictors
            if p.shadow
        ]
        if shadows:
            document["shadows"] = shadows
    return json.dumps(document, separators=(",", ":"))


def _rest_timeout(sdep: SeldonDeployment, predictor: PredictorSpec) -> float | None:
    """Seldon's ``seldon.io/rest-timeout`` (ms; predictor, spec or metadata annotations) in seconds."""
    for source in (predictor.annotations, sdep.spec.annotations, sdep.annotations):
        value = (source or {}).get(REST_TIMEOUT_ANNOTATION)
        if value is not None:
            try:
                milliseconds = float(value)
            except ValueError:
                return None
            return milliseconds / 1000 if milliseconds > 0 else None
    return None


def _annotations(*sources: dict[str, Any] | None) -> dict[str, str]:
    found: dict[str, str] = {}
    for source in sources:
        found.update({k: str(v) for k, v in (source or {}).items() if k.startswith(_SCALE)})
    return found


def _scaling(base: dict[str, str], replicas: int | None, hpa: dict[str, Any] | None) -> dict[str, str]:
    """Knative's scale bounds from Seldon's: ``replicas``, else ``hpaSpec.minReplicas`` /
    ``kedaSpec.minReplicaCount`` as the floor (0 otherwise); ``maxReplicas`` / ``maxReplicaCount``."""
    annotations = dict(base)
    bounds = hpa or {}
    floor = replicas if replicas is not None else bounds.get("minReplicas", bounds.get("minReplicaCount"))
    annotations.setdefault(_SCALE + "min-scale", str(floor or 0))
    if floor:
        annotations.setdefault(_SCALE + "initial-scale", str(floor))
    ceiling = bounds.get("maxReplicas", bounds.get("maxReplicaCount"))
    if ceiling is not None:
        annotations.setdefault(_SCALE + "max-scale", str(ceiling))
    return annotations


def _service(
    sdep: SeldonDeployment,
    predictor: PredictorSpec,
    name: str,
    pod: dict[str, Any],
    annotations: dict[str, str],
    component: str,
) -> dict[str, Any]:
    labels = {
        **sdep.labels,
        **(predictor.labels or {}),
        SELDON_DEPLOYMENT_LABEL: sdep.name,
        SELDON_PREDICTOR_LABEL: predictor.name,
        "seldon.io/component": component,
    }
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": sdep.namespace or "default",
            "labels": labels,
            "ownerReferences": [owner_reference(sdep)],
        },
        "spec": {
            "template": {"metadata": {"labels": dict(labels), "annotations": annotations}, "spec": pod},
            "traffic": [{"latestRevision": True, "percent": 100}],
        },
    }


def _seldon_env(
    sdep: SeldonDeployment, predictor: PredictorSpec, unit: PredictiveUnit, image: str
) -> list[dict[str, str]]:
    parameters = [p.to_dict() for p in unit.parameters or []]
    return [
        {"name": "PREDICTIVE_UNIT_ID", "value": unit.name},
        {"name": "PREDICTIVE_UNIT_PARAMETERS", "value": json.dumps(parameters)},
        {"name": "PREDICTIVE_UNIT_IMAGE", "value": image},
        {"name": "PREDICTOR_ID", "value": predictor.name},
        {"name": "SELDON_DEPLOYMENT_ID", "value": sdep.name},
    ]


def _logger_flags(sdep: SeldonDeployment, unit: PredictiveUnit, config: ControllerConfig) -> list[str]:
    assert unit.logger is not None
    return [
        "--log-url",
        unit.logger.url or config.logger_default_url,
        "--log-mode",
        unit.logger.mode or "all",
        "--inference-service",
        sdep.name,
        "--namespace",
        sdep.namespace or "default",
        "--component",
        unit.name,
    ]


def _with_logger(
    containers: list[dict[str, Any]], sdep: SeldonDeployment, unit: PredictiveUnit, config: ControllerConfig
) -> list[dict[str, Any]]:
    """Wire ``unit.logger``: flags on a server that takes them, else a ``logger-agent`` sidecar in front."""
    if unit.logger is None:
        return containers
    main = containers[0]
    flags = _logger_flags(sdep, unit, config)
    if config.takes_logger_flags(str(main.get("image", ""))):
        main["args"] = [*(main.get("args") or []), *flags]
        return containers
    main.pop("ports", None)
    main["env"] = [
        *(e for e in main.get("env") or [] if e.get("name") != "PREDICTIVE_UNIT_HTTP_SERVICE_PORT"),
        {"name": "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", "value": str(WRAPPER_PORT)},
    ]
    sidecar = {
        "name": LOGGER_AGENT_CONTAINER,
        "image": config.router_image,
        "args": [
            "logger-agent",
            "--upstream",
            f"http://127.0.0.1:{WRAPPER_PORT}",
            "--port",
            str(LOGGER_AGENT_PORT),
            *flags,
        ],
        "ports": [{"name": "http1", "containerPort": LOGGER_AGENT_PORT, "protocol": "TCP"}],
    }
    return [*containers, sidecar]


def _prepackaged_image(runtime: str, config: ControllerConfig) -> str:
    """Our image that holds a prepackaged server's framework, in the version of the platform image.

    A platform image replaced by one outside our repository is used as it is: its owner built it.
    """
    platform = config.router_image
    target = target_of(platform)
    if target is None:
        return platform
    version = platform.rpartition(":")[2].removesuffix(target.suffix)
    return runtime_image(runtime, version)


def build_component_services(
    sdep: SeldonDeployment, predictor: PredictorSpec, config: ControllerConfig
) -> list[dict[str, Any]]:
    """The Knative Services of a predictor's components.

    Args:
        sdep: the defaulted, valid deployment.
        predictor: one of its predictors.
        config: images, storage initializer, logger default.

    Returns:
        One ``serving.knative.dev/v1`` Service per unit that needs one, in graph order.
    """
    containers = predictor.containers()
    services = []
    for unit in predictor.graph.walk():
        if not _served(unit, predictor):
            continue
        name = component_service_name(sdep.name, predictor.name, unit.name)
        found = containers.get(unit.name)
        component = (predictor.component_specs or [])[found[0]] if found else None
        base_pod = dict((component.spec if component else None) or {})
        if found is not None:
            main = {k: v for k, v in found[1].items()}
            image = str(main.get("image", ""))
        else:
            runtime = PREPACKAGED.get(unit.implementation or "", "sklearn")
            image = _prepackaged_image(runtime, config)
            main = {
                "name": unit.name,
                "image": image,
                "args": server_args(runtime, unit.name),
            }
        env = [
            e
            for e in main.get("env") or []
            if e.get("name") not in {v["name"] for v in _seldon_env(sdep, predictor, unit, image)}
        ]
        main["env"] = [*env, *_seldon_env(sdep, predictor, unit, image)]
        pod: dict[str, Any] = {k: v for k, v in base_pod.items() if k != "containers"}
        pod["containers"] = _with_logger([main], sdep, unit, config)
        if unit.model_uri:
            pod = apply_storage_initializer(pod, 0, unit.model_uri, config)
        if unit.service_account_name:
            pod["serviceAccountName"] = unit.service_account_name
        replicas = component.replicas if component and component.replicas is not None else None
        if replicas is None:
            replicas = predictor.replicas if predictor.replicas is not None else sdep.spec.replicas
        annotations = _scaling(
            _annotations(
                sdep.spec.annotations,
                predictor.annotations,
                (component.metadata or {}).get("annotations") if component else None,
            ),
            replicas,
            (component.hpa_spec or component.keda_spec) if component else None,
        )
        services.append(_service(sdep, predictor, name, pod, annotations, unit.name))
    return services


def build_orchestrator_service(
    sdep: SeldonDeployment, predictor: PredictorSpec, config: ControllerConfig
) -> dict[str, Any]:
    """The orchestrator's Knative Service of one predictor.

    Args:
        sdep: the defaulted, valid deployment.
        predictor: the predictor.
        config: the router image.

    Returns:
        The ``serving.knative.dev/v1`` Service ``<sdep>-<predictor>``.
    """
    container: dict[str, Any] = {
        "name": "seldon-container-engine",
        "image": config.router_image,
        # gRPC engine API on a free port, named in the ready file (the local gateway relays to it)
        "args": ["router", "--seldon-json", seldon_json(sdep, predictor, config), "--grpc-port", "0"],
        "ports": [{"name": "http1", "containerPort": 8080, "protocol": "TCP"}],
    }
    if predictor.engine_resources:
        container["resources"] = predictor.engine_resources
    replicas = predictor.replicas if predictor.replicas is not None else sdep.spec.replicas
    annotations = _scaling(_annotations(sdep.spec.annotations, predictor.annotations), replicas, None)
    return _service(
        sdep,
        predictor,
        orchestrator_name(sdep, predictor),
        {"containers": [container]},
        annotations,
        "orchestrator",
    )
