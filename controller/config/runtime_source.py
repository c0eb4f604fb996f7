"""Where the controller finds serving runtimes: the API server's (Cluster)ServingRuntimes.

The namespace's ServingRuntimes and every ClusterServingRuntime are read at each reconcile (a
runtime added or changed with kubectl takes effect on the next one). When the API server does not
serve ClusterServingRuntimes, or holds none, the built-in ones
(:func:`~zeroserve.controller.config.cluster_runtimes.builtin_cluster_runtimes`) stand in, so a
controller on a bare cluster still serves the formats of docs/contracts.md.

:func:`select_model_runtime` is the one choice of a model's runtime (KServe's
:func:`~zeroserve.apis.serving.v1alpha1.runtime_selection.select_runtime`, plus the earlier runtime
table's names): the reconcilers call it with the API's runtimes, the builders with the built-in ones
when their caller gives none.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from zeroserve.apis.serving.v1alpha1.runtime_selection import RuntimeCandidate, select_runtime
from zeroserve.apis.serving.v1alpha1.serving_runtime import ServingRuntimeSpec
from zeroserve.apis.serving.v1beta1 import ModelSpec
from zeroserve.controller.config.cluster_runtimes import LEGACY_RUNTIME_NAMES, builtin_cluster_runtimes
from zeroserve.controller.errors import NotFound
from zeroserve.controller.kinds import CLUSTER_SERVING_RUNTIME, SERVING_RUNTIME, Kind
from zeroserve.controller.store import Store

__all__ = ["builtin_candidates", "candidates_from_objects", "runtime_candidates", "select_model_runtime"]

log = logging.getLogger(__name__)


def candidates_from_objects(kind: str, objects: list[dict[str, Any]]) -> list[RuntimeCandidate]:
    """Parse runtime objects; one that does not parse is skipped (and logged), never fatal.

    Args:
        kind: ``ServingRuntime`` or ``ClusterServingRuntime``.
        objects: the objects as the API server returns them.

    Returns:
        One candidate per parseable object.
    """
    found = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        try:
            spec = ServingRuntimeSpec.model_validate(obj.get("spec") or {})
        except ValidationError as exc:
            log.warning("%s %s does not parse, skipped: %s", kind, meta.get("name"), exc)
            continue
        found.append(
            RuntimeCandidate(kind, str(meta.get("name", "")), spec, str(meta.get("creationTimestamp") or ""))
        )
    return found


def builtin_candidates(version: str) -> list[RuntimeCandidate]:
    """The built-in ClusterServingRuntimes as selection candidates (images tagged ``version``)."""
    return candidates_from_objects(CLUSTER_SERVING_RUNTIME.kind, builtin_cluster_runtimes(version))


def select_model_runtime(
    model: ModelSpec,
    namespace_runtimes: list[RuntimeCandidate],
    cluster_runtimes: list[RuntimeCandidate],
    field: str = "spec.predictor.model",
) -> RuntimeCandidate:
    """Choose the runtime of an InferenceService's predictor ``model``.

    ``model.runtime`` naming a runtime of the earlier runtime table (``zeroserve-sklearn``, ...)
    means the ClusterServingRuntime now serving it, unless a runtime of that name exists.

    Args:
        model: ``spec.predictor.model`` (format, version, protocol and runtime name are read).
        namespace_runtimes: the namespace's ServingRuntimes.
        cluster_runtimes: the ClusterServingRuntimes (:func:`builtin_candidates` without an API).
        field: the field path the messages name.

    Returns:
        The chosen runtime.

    Raises:
        SelectionError: none fits (KServe's reason; the message lists what the runtimes serve).
    """
    runtime_name = model.runtime
    if runtime_name in LEGACY_RUNTIME_NAMES and not any(
        c.name == runtime_name for c in namespace_runtimes + cluster_runtimes
    ):
        runtime_name = LEGACY_RUNTIME_NAMES[runtime_name]
    return select_runtime(
        model_format=model.model_format.name if model.model_format else "",
        model_version=model.model_format.version if model.model_format else None,
        protocol=model.protocol_version or "v1",
        runtime_name=runtime_name,
        namespace_runtimes=namespace_runtimes,
        cluster_runtimes=cluster_runtimes,
        field=field,
    )


def _list(store: Store, kind: Kind, namespace: str | None) -> list[dict[str, Any]] | None:
    try:
        return list(store.list(kind, namespace).items)
    except NotFound:
        return None


def runtime_candidates(
    store: Store, namespace: str, version: str
) -> tuple[list[RuntimeCandidate], list[RuntimeCandidate]]:
    """The runtimes a model in ``namespace`` may use.

    Args:
        store: the API.
        namespace: the model's namespace.
        version: the image tag of the built-in runtimes (when they stand in).

    Returns:
        ``(namespace ServingRuntimes, ClusterServingRuntimes)``.

    Raises:
        StoreError: the API failed (the reconcile is retried).
    """
    namespaced = _list(store, SERVING_RUNTIME, namespace) or []
    cluster = _list(store, CLUSTER_SERVING_RUNTIME, None)
    return (
        candidates_from_objects(SERVING_RUNTIME.kind, namespaced),
        candidates_from_objects(CLUSTER_SERVING_RUNTIME.kind, cluster)
        if cluster
        else builtin_candidates(version),
    )
