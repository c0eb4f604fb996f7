"""Admission: default and validate an object the way KServe's and Knative's webhooks do.

On a cluster, KServe's and Knative's mutating webhooks default an object (an InferenceService's
``sklearn:`` becomes ``model:`` in what is stored) and their validating webhooks reject it with every
error. :func:`admit` does both for any kind in :mod:`zeroserve.apis`, so an API server (the embedded
one, or a test double) behaves like a cluster with those webhooks installed. It is meant for create
and update of the main resource, after the server has assigned ``metadata.name`` (from
``generateName``); status updates are not admitted, as webhooks do not see the status subresource.
On update, pass the stored object as ``old`` to check immutable fields (an InferenceService's
deployment mode, a Revision's spec, a Trigger's broker, a Broker's class, a named revision template).

KServe's defaulter rewrites a legacy framework key into ``model`` on every write, replacing the model
it finds. So an update that carries a legacy key beside the very ``model`` stored (``kubectl apply``
of a manifest with ``sklearn:`` merges it into the stored, already rewritten object) is rewritten
again, while an InferenceService created or updated with both a legacy key and a ``model`` of its own
is refused, as KServe's validator refuses two implementations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from zeroserve.apis.field_errors import FieldError, InvalidObjectError, from_pydantic
from zeroserve.apis.gateway.v1.defaults import default_http_route
from zeroserve.apis.gateway.v1.types import HTTPRoute
from zeroserve.apis.gateway.v1.validation import validate_http_route
from zeroserve.apis.knative.eventing.v1.defaults import default_broker, default_trigger
from zeroserve.apis.knative.eventing.v1.types import Broker, Trigger
from zeroserve.apis.knative.eventing.v1.validation import (
    validate_broker,
    validate_broker_update,
    validate_trigger,
    validate_trigger_update,
)
from zeroserve.apis.knative.serving.v1.defaults import (
    default_configuration,
    default_revision,
    default_route,
    default_service,
)
from zeroserve.apis.knative.serving.v1.types import Configuration, Revision, Route, Service
from zeroserve.apis.knative.serving.v1.validation import (
    validate_configuration,
    validate_configuration_update,
    validate_revision,
    validate_revision_update,
    validate_route,
    validate_service,
    validate_service_update,
)
from zeroserve.apis.meta import KubeObject
from zeroserve.apis.seldon.defaults import default_seldon_deployment
from zeroserve.apis.seldon.types import SeldonDeployment
from zeroserve.apis.seldon.validation import validate_seldon_deployment
from zeroserve.apis.serving.v1alpha1.defaults import default_inference_graph
from zeroserve.apis.serving.v1alpha1.runtime_validation import (
    default_runtime,
    default_trained_model,
    validate_runtime,
    validate_trained_model,
    validate_trained_model_update,
)
from zeroserve.apis.serving.v1alpha1.serving_runtime import (
    ClusterServingRuntime,
    ServingRuntime,
    TrainedModel,
)
from zeroserve.apis.serving.v1alpha1.types import InferenceGraph
from zeroserve.apis.serving.v1alpha1.validation import validate_inference_graph
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.apis.serving.v1beta1.types import LEGACY_FRAMEWORKS, InferenceService
from zeroserve.apis.serving.v1beta1.validation import (
    validate_inference_service,
    validate_inference_service_update,
)

__all__ = ["KindAdmission", "admission_table", "admit"]


@dataclass(frozen=True)
class KindAdmission:
    """How one kind is defaulted and validated, and what an update may not change."""

    model: type[KubeObject]
    default: Callable[[Any], KubeObject]
    validate: Callable[[Any], list[FieldError]]
    validate_update: Callable[[Any, Any], list[FieldError]] | None = None


def admission_table() -> dict[tuple[str, str], KindAdmission]:
    """The kinds :func:`admit` handles, keyed by ``(apiVersion, kind)``.

    Returns:
        A fresh table.
    """
    entries = [
        KindAdmission(
            InferenceService,
            default_inference_service,
            validate_inference_service,
            validate_inference_service_update,
        ),
        KindAdmission(InferenceGraph, default_inference_graph, validate_inference_graph),
        KindAdmission(ServingRuntime, default_runtime, validate_runtime),
        KindAdmission(ClusterServingRuntime, default_runtime, validate_runtime),
        KindAdmission(
            TrainedModel, default_trained_model, validate_trained_model, validate_trained_model_update
        ),
        KindAdmission(SeldonDeployment, default_seldon_deployment, validate_seldon_deployment),
        KindAdmission(Service, default_service, validate_service, validate_service_update),
        KindAdmission(
            Configuration, default_configuration, validate_configuration, validate_configuration_update
        ),
        KindAdmission(Revision, default_revision, validate_revision, validate_revision_update),
        KindAdmission(Route, default_route, validate_route),
        KindAdmission(Broker, default_broker, validate_broker, validate_broker_update),
        KindAdmission(Trigger, default_trigger, validate_trigger, validate_trigger_update),
        KindAdmission(HTTPRoute, default_http_route, validate_http_route),
    ]
    return {(entry.model.API_VERSION, entry.model.KIND): entry for entry in entries}


def admit(obj: dict[str, Any], old: dict[str, Any] | None = None) -> dict[str, Any]:
    """Default and validate an object (and, on update, what may not change).

    Args:
        obj: The object as sent to the API server.
        old: On update, the stored object; ``None`` on create.

    Returns:
        The defaulted object to store; an object of a kind this package does not define is returned
        unchanged. Raises :class:`~zeroserve.apis.field_errors.InvalidObjectError` carrying every
        error (wrong field types and broken rules alike).
    """
    entry = admission_table().get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if entry is None:
        return obj
    if entry.model is InferenceService and old is not None:
        obj = _legacy_key_replaces_stored_model(obj, old)
    try:
        parsed = entry.model.from_dict(obj)
    except ValidationError as exc:
        raise InvalidObjectError(from_pydantic(exc)) from exc
    defaulted = entry.default(parsed)
    errors = entry.validate(defaulted)
    if old is not None and entry.validate_update is not None:
        try:
            previous = entry.default(entry.model.from_dict(old))
        except ValidationError:
            previous = None
        if previous is not None:
            errors += entry.validate_update(previous, defaulted)
    if errors:
        raise InvalidObjectError(errors)
    return defaulted.to_dict()


def _legacy_key_replaces_stored_model(obj: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """Drop ``spec.predictor.model`` when it is the stored one and a legacy key now stands beside it."""
    predictor = (obj.get("spec") or {}).get("predictor")
    stored = (old.get("spec") or {}).get("predictor")
    if not isinstance(predictor, dict) or not isinstance(stored, dict):
        return obj
    legacy = [key for key in LEGACY_FRAMEWORKS if predictor.get(key) is not None]
    stored_legacy = [key for key in LEGACY_FRAMEWORKS if stored.get(key) is not None]
    if len(legacy) != 1 or stored_legacy or predictor.get("model") != stored.get("model"):
        return obj
    rewritten = {**obj, "spec": {**obj["spec"], "predictor": dict(predictor)}}
    del rewritten["spec"]["predictor"]["model"]
    return rewritten
