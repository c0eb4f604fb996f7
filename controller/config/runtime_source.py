"""Where the controller finds serving runtimes: the API server's (Cluster)ServingRuntimes.

The namespace's ServingRuntimes and every ClusterServingRuntime are read at each reconcile (a
runtime added or changed with kubectl takes effect on the next one). When the API server does not
serve ClusterServingRuntimes, or holds none, the built-in ones
(:func:`~zeroserve.controller.config.cluster_runtimes.builtin_cluster_runtimes`) stand in, so a
controller on a bare cluster still serves the formats of docs/contracts.md.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from zeroserve.apis.serving.v1alpha1.runtime_selection import RuntimeCandidate
from zeroserve.apis.serving.v1alpha1.serving_runtime import ServingRuntimeSpec
from zeroserve.controller.config.cluster_runtimes import builtin_cluster_runtimes
from zeroserve.controller.errors import NotFound
from zeroserve.controller.kinds import CLUSTER_SERVING_RUNTIME, SERVING_RUNTIME, Kind
from zeroserve.controller.store import Store

__all__ = ["candidates_from_objects", "runtime_candidates"]

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
    if not cluster:
        cluster = builtin_cluster_runtimes(version)
    return (
        candidates_from_objects(SERVING_RUNTIME.kind, namespaced),
        candidates_from_objects(CLUSTER_SERVING_RUNTIME.kind, cluster),
    )
