"""Admission: default and validate an object the way KServe's and Knative's webhooks do.

On a cluster, KServe's and Knative's mutating webhooks default an object (an InferenceService's
``sklearn:`` becomes ``model:`` in what is stored) and their validating webhooks reject it with every
error. :func:`admit` does both for any kind in :mod:`zeroserve.apis`, so an API server (the embedded
one, or a test double) behaves like a cluster with those webhooks installed. It is meant for create
and update of the main resource, after the server has assigned ``metadata.name`` (from
``generateName``); status updates are not admitted, as webhooks do not see the status subresource.
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
from zeroserve.apis.knative.eventing.v1.validation import validate_broker, validate_trigger
from zeroserve.apis.knative.serving.v1.defaults import (
    default_configuration,
    default_revision,
    default_route,
    default_service,
)
from zeroserve.apis.knative.serving.v1.types import Configuration, Revision, Route, Service
from zeroserve.apis.knative.serving.v1.validation import (
    validate_configuration,
    validate_revision,
    validate_route,
    validate_service,
)
from zeroserve.apis.meta import KubeObject
from zeroserve.apis.serving.v1alpha1.defaults import default_inference_graph
from zeroserve.apis.serving.v1alpha1.types import InferenceGraph
from zeroserve.apis.serving.v1alpha1.validation import validate_inference_graph
from zeroserve.apis.serving.v1beta1.defaults import default_inference_service
from zeroserve.apis.serving.v1beta1.types import InferenceService
from zeroserve.apis.serving.v1beta1.validation import validate_inference_service

__all__ = ["KindAdmission", "admission_table", "admit"]


@dataclass(frozen=True)
class KindAdmission:
    """How one kind is defaulted and validated."""

    model: type[KubeObject]
    default: Callable[[Any], KubeObject]
    validate: Callable[[Any], list[FieldError]]


def admission_table() -> dict[tuple[str, str], KindAdmission]:
    """The kinds :func:`admit` handles, keyed by ``(apiVersion, kind)``.

    Returns:
        A fresh table.
    """
    entries = [
        KindAdmission(InferenceService, default_inference_service, validate_inference_service),
        KindAdmission(InferenceGraph, default_inference_graph, validate_inference_graph),
        KindAdmission(Service, default_service, validate_service),
        KindAdmission(Configuration, default_configuration, validate_configuration),
        KindAdmission(Revision, default_revision, validate_revision),
        KindAdmission(Route, default_route, validate_route),
        KindAdmission(Broker, default_broker, validate_broker),
        KindAdmission(Trigger, default_trigger, validate_trigger),
        KindAdmission(HTTPRoute, default_http_route, validate_http_route),
    ]
    return {(entry.model.API_VERSION, entry.model.KIND): entry for entry in entries}


def admit(obj: dict[str, Any]) -> dict[str, Any]:
    """Default and validate an object.

    Args:
        obj: The object as sent to the API server.

    Returns:
        The defaulted object to store; an object of a kind this package does not define is returned
        unchanged. Raises :class:`~zeroserve.apis.field_errors.InvalidObjectError` carrying every
        error (wrong field types and broken rules alike).
    """
    entry = admission_table().get((str(obj.get("apiVersion")), str(obj.get("kind"))))
    if entry is None:
        return obj
    try:
        parsed = entry.model.from_dict(obj)
    except ValidationError as exc:
        raise InvalidObjectError(from_pydantic(exc)) from exc
    defaulted = entry.default(parsed)
    errors = entry.validate(defaulted)
    if errors:
        raise InvalidObjectError(errors)
    return defaulted.to_dict()
