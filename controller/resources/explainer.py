"""Built-in explainers: ``spec.explainer.art`` (KServe's ART explainer) and
``spec.explainer.model`` with ``modelFormat: {name: kernelshap}`` (our Kernel SHAP explainer), each as
``zeroserve serve art|kernelshap`` on our image, wired to the predictor (or the transformer, when there
is one) as KServe wires its explainers. An explainer given as ``containers`` is left to
:mod:`.containers`.

KServe's ART container args: ``--model_name <isvc> --http_port 8080 --predictor_host <host>
--adversary_type <type>`` and then every ``config`` key, sorted, as ``--<key> <value>``.
"""

from __future__ import annotations

from typing import Any

from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.config.cluster_runtimes import HTTP_PORT
from zeroserve.controller.errors import BuildError
from zeroserve.controller.names import component_service_name
from zeroserve.controller.resources.constants import MODEL_CONTAINER, MODEL_DIR
from zeroserve.images import REPOSITORY, runtime_image

__all__ = ["BUILTIN_EXPLAINERS", "EXPLAINER_IMAGE", "builtin_explainer_containers", "explainer_kind"]

EXPLAINER_IMAGE = REPOSITORY
"""The repository of the image the built-in explainers run (``zeroserve serve art|kernelshap``), tagged
with our version (:func:`zeroserve.images.runtime_image`); ``runtimeVersion`` replaces the tag."""

BUILTIN_EXPLAINERS = ("art", "kernelshap")
"""Explainers the controller builds itself."""

# ArtExplainerSpec fields that configure the explainer rather than the container
_ART_ONLY = ("type", "config", "storageUri", "runtimeVersion")
_MODEL_ONLY = ("modelFormat", "storageUri", "runtime", "runtimeVersion", "protocolVersion")


def explainer_kind(isvc: InferenceService) -> str | None:
    """``art``, ``kernelshap``, or ``None`` for an explainer given as containers (or no explainer).

    Raises:
        BuildError: ``spec.explainer.model`` names a format no built-in explainer serves.
    """
    explainer = isvc.spec.explainer
    if explainer is None:
        return None
    if explainer.art is not None:
        return "art"
    if explainer.model is not None:
        fmt = explainer.model.model_format.name if explainer.model.model_format else ""
        if fmt != "kernelshap":
            raise BuildError(
                "InvalidExplainerSpec",
                f"spec.explainer.model.modelFormat.name {fmt!r} is not a built-in explainer; "
                "use kernelshap, spec.explainer.art, or spec.explainer.containers",
            )
        return "kernelshap"
    return None


def _target_host(isvc: InferenceService) -> str:
    target = "transformer" if isvc.spec.transformer is not None else "predictor"
    return f"{component_service_name(isvc.name, target)}.{isvc.namespace or 'default'}"


def _container(
    isvc: InferenceService,
    config: ControllerConfig,
    spec: dict[str, Any],
    skip: tuple[str, ...],
    args: list[str],
) -> dict[str, Any]:
    user = {k: v for k, v in spec.items() if k not in skip}
    container: dict[str, Any] = {
        "name": MODEL_CONTAINER,
        "image": user.pop("image", None)
        or (f"{EXPLAINER_IMAGE}:{spec['runtimeVersion']}" if spec.get("runtimeVersion") else None)
        or runtime_image(args[1], config.version),
        "args": args + list(user.pop("args", [])),
        "ports": user.pop("ports", None) or [{"containerPort": HTTP_PORT, "protocol": "TCP"}],
    }
    env = list(user.pop("env", []) or [])
    uri = spec.get("storageUri")
    if uri:
        env = [e for e in env if e.get("name") != "STORAGE_URI"] + [{"name": "STORAGE_URI", "value": uri}]
    if env:
        container["env"] = env
    user.pop("name", None)
    container.update(user)
    return container


def builtin_explainer_containers(
    isvc: InferenceService, config: ControllerConfig
) -> list[dict[str, Any]] | None:
    """The containers of a built-in explainer, or ``None`` when the explainer is given as containers.

    Args:
        isvc: the defaulted InferenceService.
        config: the controller configuration (our image's version).

    Returns:
        One container running ``zeroserve serve art|kernelshap``; a ``storageUri`` becomes its
        ``STORAGE_URI`` (the storage-initializer then fills ``/mnt/models``).

    Raises:
        BuildError: an unknown ``spec.explainer.model`` format.
    """
    kind = explainer_kind(isvc)
    explainer = isvc.spec.explainer
    if kind is None or explainer is None:
        return None
    common = [
        "--model_name",
        isvc.name,
        "--http_port",
        str(HTTP_PORT),
        "--predictor_host",
        _target_host(isvc),
    ]
    if kind == "art":
        art = dict(explainer.art or {})
        args = ["serve", "art", *common, "--adversary_type", str(art.get("type") or "SquareAttack")]
        for key in sorted(art.get("config") or {}):
            args += [f"--{key}", str(art["config"][key])]
        return [_container(isvc, config, art, _ART_ONLY, args)]
    assert explainer.model is not None
    model = explainer.model.to_dict()
    args = ["serve", "kernelshap", *common]
    if model.get("storageUri"):
        args += ["--model_dir", MODEL_DIR]
    return [_container(isvc, config, model, _MODEL_ONLY, args)]
