"""The TrainedModel reconciler: KServe's multi-model serving checks, status, and the model config.

For a TrainedModel on InferenceService ``<isvc>`` it sets KServe's conditions:

- ``InferenceServiceReady``: the InferenceService exists and is Ready;
- ``IsMMSPredictor``: its predictor is a multi-model server: the model has no ``storageUri`` /
  ``storage`` (KServe's rule: the TrainedModels are its models), or its runtime is ``multiModel``;
- ``FrameworkSupported``: the predictor's runtime lists ``spec.model.framework``;
- ``MemoryResourceAvailable``: the memory of the InferenceService's TrainedModels, oldest first, up to
  and including this one, fits the predictor's memory limit (the model's or its runtime's);
- ``Ready``: all of them.

and ``status.url`` / ``status.address.url`` (the InferenceService's URLs plus the model's predict
path). The models that pass are written, as KServe's agent reads them, to the ConfigMap
``modelconfig-<isvc>-0`` (key ``models.json``: ``[{modelName, modelSpec: {storageUri, framework,
memory}}]``), owned by the InferenceService; the predictor's model server loads and unloads what the
file lists (see docs/contracts.md, "TrainedModel").
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from pydantic import ValidationError

from zeroserve.apis.conditions import ConditionSet
from zeroserve.apis.meta import Addressable
from zeroserve.apis.serving.v1alpha1.runtime_selection import RuntimeCandidate
from zeroserve.apis.serving.v1alpha1.runtime_validation import parse_memory
from zeroserve.apis.serving.v1alpha1.serving_runtime import TrainedModel, TrainedModelStatus
from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.controller.config.runtime_source import runtime_candidates
from zeroserve.controller.errors import AlreadyExists, Conflict, NotFound
from zeroserve.controller.events import WARNING
from zeroserve.controller.kinds import CONFIG_MAP, INFERENCE_SERVICE, TRAINED_MODEL
from zeroserve.controller.reconcilers.apply import write_status
from zeroserve.controller.reconcilers.base import ReconcilerBase
from zeroserve.controller.reconcilers.result import Result
from zeroserve.controller.reconcilers.transitions import keep_transition_times, transitions
from zeroserve.controller.resources.owner import owner_reference
from zeroserve.controller.store import Obj

__all__ = ["MODEL_CONFIG_KEY", "TrainedModelReconciler", "model_config_name"]

log = logging.getLogger(__name__)

INFERENCE_SERVICE_READY = "InferenceServiceReady"
IS_MMS_PREDICTOR = "IsMMSPredictor"
FRAMEWORK_SUPPORTED = "FrameworkSupported"
MEMORY_AVAILABLE = "MemoryResourceAvailable"
CONDITIONS = ConditionSet.living(
    INFERENCE_SERVICE_READY, IS_MMS_PREDICTOR, FRAMEWORK_SUPPORTED, MEMORY_AVAILABLE
)
MODEL_CONFIG_KEY = "models.json"
PARENT_LABEL = "serving.kserve.io/inferenceservice"
NOT_READY_RETRY_S = 5.0


def model_config_name(isvc: str, shard: int = 0) -> str:
    """KServe's name of the ConfigMap listing an InferenceService's TrainedModels."""
    return f"modelconfig-{isvc}-{shard}"


def _predict_path(name: str, protocol: str) -> str:
    return f"/v2/models/{name}/infer" if protocol.endswith("v2") else f"/v1/models/{name}:predict"


class TrainedModelReconciler(ReconcilerBase):
    """Reconciles TrainedModels and the ``modelconfig-<isvc>-0`` ConfigMaps.

    Args:
        store: the API.
        config: the controller configuration.
        recorder: where user-visible Events go.
        clock: current UTC time, for condition transition times.
    """

    def reconcile(self, namespace: str, name: str) -> Result:
        """Check one TrainedModel, write its status, and rewrite its InferenceService's model config.

        Args:
            namespace: the TrainedModel's namespace.
            name: its name (deleted: every model config of the namespace is rewritten).

        Returns:
            A retry while the InferenceService is not ready yet.
        """
        try:
            raw = self._store.get(TRAINED_MODEL, namespace, name)
        except NotFound:
            for isvc in self._isvcs_with_configs(namespace):
                self._write_model_config(namespace, isvc)
            return Result()
        try:
            model = TrainedModel.from_dict(raw)
        except ValidationError as exc:
            log.warning("TrainedModel %s/%s does not parse: %s", namespace, name, exc)
            return Result()
        status, retry = self._check(namespace, model, self._siblings(namespace, model.spec.inference_service))
        for condition in status.conditions or []:
            if condition.status == "False" and transitions(
                raw, condition.type, "False", condition.reason, condition.message
            ):
                self._recorder.event(
                    raw, WARNING, condition.reason or condition.type, condition.message or ""
                )
        status.observed_generation = (raw.get("metadata") or {}).get("generation")
        try:
            write_status(
                self._store, TRAINED_MODEL, raw, keep_transition_times(raw.get("status"), status.to_dict())
            )
        except NotFound:
            return Result()
        self._write_model_config(namespace, model.spec.inference_service)
        return Result(requeue_after=NOT_READY_RETRY_S if retry else None)

    # -- checks ------------------------------------------------------------------------------------
    def _siblings(self, namespace: str, isvc: str) -> list[TrainedModel]:
        found = []
        for obj in self._store.list(TRAINED_MODEL, namespace).items:
            if (obj.get("metadata") or {}).get("deletionTimestamp"):
                continue
            try:
                model = TrainedModel.from_dict(obj)
            except ValidationError:
                continue
            if model.spec.inference_service == isvc:
                found.append(model)
        found.sort(key=lambda m: (m.metadata.creation_timestamp or "", m.name))
        return found

    def _check(
        self, namespace: str, model: TrainedModel, siblings: list[TrainedModel]
    ) -> tuple[TrainedModelStatus, bool]:
        status = TrainedModelStatus()
        manager = CONDITIONS.manage(status, self._clock)
        manager.initialize()
        target = model.spec.inference_service
        try:
            raw_isvc = self._store.get(INFERENCE_SERVICE, namespace, target)
            isvc = default_inference_service(InferenceService.from_dict(raw_isvc))
        except (NotFound, ValidationError):
            message = (
                f"spec.inferenceService: InferenceService {target!r} not found in namespace {namespace!r}"
            )
            manager.mark_false(INFERENCE_SERVICE_READY, "InferenceServiceNotFound", message)
            return status, True
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in (raw_isvc.get("status") or {}).get("conditions") or []
        )
        if ready:
            manager.mark_true(INFERENCE_SERVICE_READY)
        else:
            manager.mark_false(
                INFERENCE_SERVICE_READY,
                "InferenceServiceNotReady",
                f"InferenceService {target!r} needs to be ready before the TrainedModel can be ready",
            )
        spec_model = isvc.spec.predictor.model
        runtime_name = (raw_isvc.get("status") or {}).get("servingRuntimeName") or (
            (raw_isvc.get("status") or {}).get("clusterServingRuntimeName")
        )
        namespaced, cluster = runtime_candidates(self._store, namespace, self._config.version)
        runtime = next((r for r in namespaced + cluster if r.name == runtime_name), None)
        has_storage = spec_model is not None and bool(spec_model.storage_uri or spec_model.storage)
        if spec_model is None or (has_storage and not (runtime and runtime.spec.multi_model)):
            why = "has no model" if spec_model is None else "serves its own storageUri"
            manager.mark_false(
                IS_MMS_PREDICTOR,
                "NotMMSPredictor",
                f"spec.inferenceService: InferenceService {target!r} is not a multi-model server "
                f"(its predictor {why}); use a predictor model without storageUri, "
                "or a runtime with multiModel: true",
            )
        else:
            manager.mark_true(IS_MMS_PREDICTOR)
        framework = model.spec.model.framework
        formats = [f.name for f in (runtime.spec.supported_model_formats or [])] if runtime else []
        if runtime is None and spec_model is not None and spec_model.model_format is not None:
            formats = [spec_model.model_format.name]
        if framework.lower() in {f.lower() for f in formats}:
            manager.mark_true(FRAMEWORK_SUPPORTED)
        else:
            manager.mark_false(
                FRAMEWORK_SUPPORTED,
                "FrameworkNotSupported",
                f"spec.model.framework: InferenceService {target!r} "
                f"(runtime {runtime_name or 'unknown'}) does not support {framework!r}; "
                f"it supports: {', '.join(formats) or 'nothing yet'}",
            )
        limit = self._memory_limit(isvc, runtime)
        used = 0
        for sibling in siblings:
            used += parse_memory(sibling.spec.model.memory)
            if sibling.name == model.name:
                break
        if limit is None or used <= limit:
            manager.mark_true(MEMORY_AVAILABLE)
        else:
            manager.mark_false(
                MEMORY_AVAILABLE,
                "MemoryResourceNotAvailable",
                f"spec.model.memory: the TrainedModels of {target!r} up to this one need {used} bytes, more "
                f"than the predictor's memory limit of {limit} bytes",
            )
        protocol = (spec_model.protocol_version if spec_model else None) or "v1"
        isvc_status = raw_isvc.get("status") or {}
        path = _predict_path(model.name, protocol)
        if isvc_status.get("url"):
            status.url = str(isvc_status["url"]) + path
        address = (isvc_status.get("address") or {}).get("url")
        if address:
            status.address = Addressable(url=str(address) + path)
        return status, not ready

    def _memory_limit(self, isvc: InferenceService, runtime: RuntimeCandidate | None) -> int | None:
        model = isvc.spec.predictor.model
        for resources in (
            model.resources.to_dict() if model is not None and model.resources is not None else None,
            (
                runtime.spec.containers[0].resources.to_dict()
                if runtime and runtime.spec.containers[0].resources
                else None
            ),
        ):
            memory = ((resources or {}).get("limits") or {}).get("memory")
            if memory:
                try:
                    return parse_memory(str(memory))
                except ValueError:
                    return None
        return None

    # -- the model config ------------------------------------------------------------------------------
    def _isvcs_with_configs(self, namespace: str) -> set[str]:
        names = set()
        for obj in self._store.list(CONFIG_MAP, namespace).items:
            meta = obj.get("metadata") or {}
            parent = (meta.get("labels") or {}).get(PARENT_LABEL)
            if parent and str(meta.get("name", "")) == model_config_name(str(parent)):
                names.add(str(parent))
        return names

    def _write_model_config(self, namespace: str, isvc_name: str) -> None:
        try:
            raw_isvc = self._store.get(INFERENCE_SERVICE, namespace, isvc_name)
            isvc = InferenceService.from_dict(raw_isvc)
        except (NotFound, ValidationError):
            return
        entries: list[dict[str, Any]] = []
        for model in self._siblings(namespace, isvc_name):
            try:
                stored = self._store.get(TRAINED_MODEL, namespace, model.name)
            except NotFound:
                continue
            conditions = (stored.get("status") or {}).get("conditions") or []
            ok = {c.get("type") for c in conditions if c.get("status") == "True"}
            if {IS_MMS_PREDICTOR, FRAMEWORK_SUPPORTED, MEMORY_AVAILABLE} <= ok:
                spec = model.spec.model
                entries.append(
                    {
                        "modelName": model.name,
                        "modelSpec": {
                            "storageUri": spec.storage_uri,
                            "framework": spec.framework,
                            "memory": spec.memory,
                        },
                    }
                )
        desired: Obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": model_config_name(isvc_name),
                "namespace": namespace,
                "labels": {PARENT_LABEL: isvc_name},
                "ownerReferences": [owner_reference(isvc)],
            },
            "data": {MODEL_CONFIG_KEY: json.dumps(entries, sort_keys=True)},
        }
        self._apply_config(desired, isvc.metadata.uid or "")

    def _apply_config(self, desired: Obj, owner_uid: str) -> None:
        # apply_owned compares spec; a ConfigMap carries data, so compare and replace that here
        meta = desired["metadata"]
        try:
            current = self._store.get(CONFIG_MAP, meta["namespace"], meta["name"])
        except NotFound:
            with contextlib.suppress(AlreadyExists):  # created meanwhile: the next reconcile compares
                self._store.create(CONFIG_MAP, desired)
            return
        owners = (current.get("metadata") or {}).get("ownerReferences") or []
        if not any(ref.get("controller") and ref.get("uid") == owner_uid for ref in owners):
            log.warning(
                "ConfigMap %s/%s is not controlled by its InferenceService; left alone",
                meta["namespace"],
                meta["name"],
            )
            return
        if current.get("data") == desired["data"]:
            return
        current["data"] = desired["data"]
        with contextlib.suppress(Conflict):  # changed meanwhile: the next TrainedModel event rewrites it
            self._store.update(CONFIG_MAP, current)
