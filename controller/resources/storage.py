"""The storage-initializer: an init container that downloads ``storageUri`` into ``/mnt/models``.

As KServe's storage-initializer injector does: an ``emptyDir`` volume ``kserve-provision-location``
is written by the init container (``["storage-initializer", <uri>, "/mnt/models"]`` on our image) and
mounted read-only at ``/mnt/models`` in the model container; a ``STORAGE_URI`` environment variable
of that container is rewritten to the local path.
"""

from __future__ import annotations

from typing import Any

from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.resources.constants import MODEL_DIR, MODEL_VOLUME, STORAGE_INITIALIZER

__all__ = ["apply_storage_initializer", "storage_uri"]


def storage_uri(isvc: InferenceService, component: str, main: dict[str, Any]) -> str | None:
    """Where a component's model comes from, if anywhere.

    Args:
        isvc: the defaulted InferenceService.
        component: the component's name.
        main: the component's main container (its ``STORAGE_URI`` env counts, as in KServe).

    Returns:
        The predictor model's ``storageUri``, else the container's ``STORAGE_URI``, else ``None``.
    """
    model = isvc.spec.predictor.model
    if component == "predictor" and model is not None and model.storage_uri:
        return model.storage_uri
    for env in main.get("env") or []:
        if env.get("name") == "STORAGE_URI" and env.get("value"):
            return str(env["value"])
    return None


def apply_storage_initializer(
    pod_spec: dict[str, Any], main_index: int, uri: str, config: ControllerConfig
) -> dict[str, Any]:
    """Add the init container, the volume and the read-only mount to a revision's pod spec.

    Args:
        pod_spec: the revision spec (``containers`` ...); not changed, a new dict is returned.
        main_index: index of the model container in ``containers``.
        uri: the model's storage URI.
        config: for the initializer's image and resources.

    Returns:
        The new pod spec.
    """
    spec = dict(pod_spec)
    containers = [dict(c) for c in spec.get("containers") or []]
    main = containers[main_index]
    mounts = [m for m in main.get("volumeMounts") or [] if m.get("name") != MODEL_VOLUME]
    main["volumeMounts"] = [*mounts, {"name": MODEL_VOLUME, "mountPath": MODEL_DIR, "readOnly": True}]
    if main.get("env"):
        main["env"] = [
            {"name": "STORAGE_URI", "value": MODEL_DIR} if e.get("name") == "STORAGE_URI" else e
            for e in main["env"]
        ]
    spec["containers"] = containers
    initializer = {
        "name": STORAGE_INITIALIZER,
        "image": config.storage_initializer_image,
        "args": ["storage-initializer", uri, MODEL_DIR],
        "resources": config.storage_initializer_resources,
        "volumeMounts": [{"name": MODEL_VOLUME, "mountPath": MODEL_DIR}],
    }
    others = [c for c in spec.get("initContainers") or [] if c.get("name") != STORAGE_INITIALIZER]
    spec["initContainers"] = [*others, initializer]
    volumes = [v for v in spec.get("volumes") or [] if v.get("name") != MODEL_VOLUME]
    spec["volumes"] = [*volumes, {"name": MODEL_VOLUME, "emptyDir": {}}]
    return spec
