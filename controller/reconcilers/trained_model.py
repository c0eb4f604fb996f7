"""The TrainedModel reconciler: KServe's multi-model serving checks, status, and the model config.

For a TrainedModel on InferenceService ``<isvc>`` it sets KServe's conditions:

- ``InferenceServiceReady``: the InferenceService exists and is Ready;
- ``IsMMSPredictor``: its predictor is a multi-model server: the model has no ``storageUri`` /
  ``storage`` (KServe's rule: the TrainedModels are its models), or its runtime is ``multiModel``;
- ``FrameworkSupported``: the predictor's runtime lists ``spec.model.framework``;
- ``MemoryResourceAvailable``: the model's ``memory`` fits the predictor's memory limit (the model's
  or its runtime's). Deviation: KServe adds up every TrainedModel of the InferenceService; here the
  model server holds what fits its memory budget and unloads the least recently used (LRU), so only a
  model that could never load is refused;
- ``ModelLoaded`` (ours): what the predictor's model server says about the model
  (:mod:`.trained_model_state`): ``True`` when it serves it, ``False`` with the server's reason
  (``UnloadedLeastRecentlyUsed``, ``ExceedsMemoryBudget``, ``LoadFailed``) and message, ``Unknown``
  while it loads;
- ``Ready``: all of them.

and ``status.url`` / ``status.address.url`` (the InferenceService's URLs plus the model's predict
path). The models that pass are written, as KServe's agent reads them, to the ConfigMap
``modelconfig-<isvc>-0`` (key ``models.json``: ``[{modelName, modelSpec: {storageUri, framework,
memory}}]``), owned by the InferenceService; the predictor's model server loads and unloads what the
file lists (see docs/contracts.md, "TrainedModel"). A change of that file wakes the sibling
TrainedModels, which read the server every few seconds until it settled, then every few minutes.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from zeroserve.apis.conditions import ConditionSet
from zeroserve.apis.meta import Addressable
from zeroserve.apis.serving.v1alpha1.runtime_selection import RuntimeCandidate
from zeroserve.apis.serving.v1alpha1.runtime_validation import parse_memory
from zeroserve.apis.serving.v1alpha1.serving_runtime import TrainedModel, TrainedModelStatus
from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.controller.config import ControllerConfig
from zeroserve.controller.config.runtime_source import runtime_candidates
from zeroserve.controller.errors import AlreadyExists, Conflict, NotFound
from zeroserve.controller.events import WARNING, EventRecorder
from zeroserve.controller.kinds import CONFIG_MAP, INFERENCE_SERVICE, TRAINED_MODEL
from zeroserve.controller.reconcilers.apply import write_status
from zeroserve.controller.reconcilers.base import ReconcilerBase, utc_now
from zeroserve.controller.reconcilers.result import Result
from zeroserve.controller.reconcilers.trained_model_state import ModelStateReader
from zeroserve.controller.reconcilers.transitions import keep_transition_times, transitions
from zeroserve.controller.resources.owner import owner_reference
from zeroserve.controller.store import Obj, Store

__all__ = ["MODEL_CONFIG_KEY", "TrainedModelReconciler", "model_config_name"]

log = logging.getLogger(__name__)

INFERENCE_SERVICE_READY = "InferenceServiceReady"
IS_MMS_PREDICTOR = "IsMMSPredictor"
FRAMEWORK_SUPPORTED = "FrameworkSupported"
MEMORY_AVAILABLE = "MemoryResourceAvailable"
MODEL_LOADED = "ModelLoaded"
CONDITIONS = ConditionSet.living(
    INFERENCE_SERVICE_READY, IS_MMS_PREDICTOR, FRAMEWORK_SUPPORTED, MEMORY_AVAILABLE, MODEL_LOADED
)
IN_MODEL_CONFIG = (IS_MMS_PREDICTOR, FRAMEWORK_SUPPORTED, MEMORY_AVAILABLE)
"""The conditions that put a TrainedModel in its predictor's model config."""
MODEL_CONFIG_KEY = "models.json"
PARENT_LABEL = "serving.kserve.io/inferenceservice"
NOT_READY_RETRY_S = 5.0
POLL_S = 2.0
"""Seconds between reads of the model server while it applies a model config."""
REFRESH_S = 300.0
"""Seconds between reads once it settled (rare: a read counts as a request to the predictor, and a
predictor that may scale to zero must be left idle; changes the controller causes are read at once)."""


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
        model_states: reads what the predictors' model servers say (a direct one when ``None``).
    """

    def __init__(
        self,
        store: Store,
        config: ControllerConfig,
        recorder: EventRecorder,
        clock: Callable[[], datetime] = utc_now,
        model_states: ModelStateReader | None = None,
    ) -> None:
        super().__init__(store, config, recorder, clock)
        self._states = model_states if model_states is not None else ModelStateReader()

    def reconcile(self, namespace: str, name: str) -> Result:
        """Check one TrainedModel, write its status, and rewrite its InferenceService's model config.

        Args:
            namespace: the TrainedModel's namespace.
            name: its name (deleted: every model config of the namespace is rewritten).

        Returns:
            When to look again (soon while the InferenceService is not ready, the model server's
            answer is not final or the model config just changed; every few minutes once settled),
            and, when the model config changed, the TrainedModels it lists (to be read again now).
        """
        try:
            raw = self._store.get(TRAINED_MODEL, namespace, name)
        except NotFound:
            woken: list[tuple[str, str, str]] = []
            for isvc in sorted(self._isvcs_with_configs(namespace)):
                woken += self._write_model_config(namespace, isvc)
            return Result(also=tuple(woken))
        try:
            model = TrainedModel.from_dict(raw)
        except ValidationError as exc:
            log.warning("TrainedModel %s/%s does not parse: %s", namespace, name, exc)
            return Result()
        isvc_name = model.spec.inference_service
        status, retry = self._check(namespace, model)
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
        woken = self._write_model_config(namespace, isvc_name)
        if retry is not None and self._states.settling(namespace, isvc_name, self._clock()):
            retry = min(retry, POLL_S)
        return Result(requeue_after=retry, also=tuple(k for k in woken if k[2] != name))

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

    def _check(self, namespace: str, model: TrainedModel) -> tuple[TrainedModelStatus, float | None]:
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
            return status, NOT_READY_RETRY_S
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
                "IsNotMMSPredictor",
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
        need = parse_memory(model.spec.model.memory)
        if limit is None or need <= limit:
            manager.mark_true(MEMORY_AVAILABLE)
        else:
            manager.mark_false(
                MEMORY_AVAILABLE,
                "MemoryResourceNotAvailable",
                f"spec.model.memory: {model.spec.model.memory} ({need} bytes) is more than the memory limit "
                f"of {target!r}'s predictor ({limit} bytes); give the predictor more "
                "(spec.predictor.model.resources.limits.memory) or the model less",
            )
        retry: float | None = None if ready else NOT_READY_RETRY_S
        in_config = all((c := manager.get(t)) is not None and c.status == "True" for t in IN_MODEL_CONFIG)
        if ready and in_config:
            state = self._states.ask_predictor(self._store, namespace, target, model.name)
            if state.status == "True":
                manager.mark_true(MODEL_LOADED, state.reason, state.message)
            elif state.status == "False":
                manager.mark_false(MODEL_LOADED, state.reason or "NotLoaded", state.message or "")
            else:
                manager.mark_unknown(MODEL_LOADED, state.reason or "Unknown", state.message or "")
            retry = REFRESH_S if state.settled else POLL_S
        elif in_config:
            manager.mark_unknown(
                MODEL_LOADED,
                "InferenceServiceNotReady",
                "the model server is asked once the InferenceService is ready",
            )
        else:
            manager.mark_unknown(
                MODEL_LOADED,
                "NotInModelConfig",
                "the model is given to the predictor once the other conditions are True",
            )
        protocol = (spec_model.protocol_version if spec_model else None) or "v1"
        isvc_status = raw_isvc.get("status") or {}
        path = _predict_path(model.name, protocol)
        if isvc_status.get("url"):
            status.url = str(isvc_status["url"]) + path
        address = (isvc_status.get("address") or {}).get("url")
        if address:
            status.address = Addressable(url=str(address) + path)
        return status, retry

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

    def _write_model_config(self, namespace: str, isvc_name: str) -> list[tuple[str, str, str]]:
        """Write ``modelconfig-<isvc>-0``; when it changed, note it and return the models it lists
        (their state on the server may change: they are woken)."""
        try:
            raw_isvc = self._store.get(INFERENCE_SERVICE, namespace, isvc_name)
            isvc = InferenceService.from_dict(raw_isvc)
        except (NotFound, ValidationError):
            return []
        entries: list[dict[str, Any]] = []
        siblings = self._siblings(namespace, isvc_name)
        for model in siblings:
            try:
                stored = self._store.get(TRAINED_MODEL, namespace, model.name)
            except NotFound:
                continue
            conditions = (stored.get("status") or {}).get("conditions") or []
            ok = {c.get("type") for c in conditions if c.get("status") == "True"}
            if set(IN_MODEL_CONFIG) <= ok:
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
        if not self._apply_config(desired, isvc.metadata.uid or ""):
            return []
        self._states.config_changed(namespace, isvc_name, self._clock())
        return [(TRAINED_MODEL.kind, namespace, str(e["modelName"])) for e in entries]

    def _apply_config(self, desired: Obj, owner_uid: str) -> bool:
        # apply_owned compares spec; a ConfigMap carries data, so compare and replace that here
        meta = desired["metadata"]
        try:
            current = self._store.get(CONFIG_MAP, meta["namespace"], meta["name"])
        except NotFound:
            with contextlib.suppress(AlreadyExists):  # created meanwhile: the next reconcile compares
                self._store.create(CONFIG_MAP, desired)
            return True
        owners = (current.get("metadata") or {}).get("ownerReferences") or []
        if not any(ref.get("controller") and ref.get("uid") == owner_uid for ref in owners):
            log.warning(
                "ConfigMap %s/%s is not controlled by its InferenceService; left alone",
                meta["namespace"],
                meta["name"],
            )
            return False
        if current.get("data") == desired["data"]:
            return False
        current["data"] = desired["data"]
        try:
            self._store.update(CONFIG_MAP, current)
        except Conflict:  # changed meanwhile: the next TrainedModel event rewrites it
            return False
        return True
