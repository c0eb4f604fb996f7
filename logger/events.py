"""KServe's payload-logging CloudEvents: what a logged request and response look like on the wire.

Both events of one inference share ``id`` (the request's ``ce-id`` header, else a new UUID), so a
consumer joins them on it. ``datacontenttype`` is the *request's* content type for both events,
as KServe does. Extensions: ``inferenceservicename``, ``namespace``, ``component``, ``endpoint``,
``metadata`` (JSON ``{"Header-Name": ["value", ...]}`` of the allow-listed request headers, only
when one is present) and, on responses, ``statuscode`` (every status is logged, not only 200).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

import orjson

from zeroserve.cloudevents import CloudEvent
from zeroserve.logger.config import LoggerConfig

__all__ = ["REQUEST_TYPE", "RESPONSE_TYPE", "metadata_attribute", "request_event", "response_event"]

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"


def _timestamp(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def metadata_attribute(config: LoggerConfig, headers: Mapping[str, list[str]]) -> str | None:
    """The ``metadata`` extension: allow-listed request headers as JSON, ``None`` when none is present.

    Args:
        config: holds the allow-list (``metadata_headers``, matched case-insensitively).
        headers: request headers, lower-case names to every value.

    Returns:
        JSON such as ``{"X-User": ["alice"]}`` or ``None``.
    """
    found = {
        _canonical(name): headers[name.lower()] for name in config.metadata_headers if name.lower() in headers
    }
    return orjson.dumps(found).decode() if found else None


def _base_attributes(config: LoggerConfig, event_id: str, event_type: str, when: datetime) -> dict[str, str]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "type": event_type,
        "source": config.source_uri,
        "time": _timestamp(when),
        "inferenceservicename": config.inference_service,
        "namespace": config.namespace,
        "component": config.component,
        "endpoint": config.endpoint,
    }


def request_event(
    config: LoggerConfig,
    *,
    event_id: str,
    body: bytes,
    content_type: str | None,
    metadata: str | None,
    when: datetime,
) -> CloudEvent:
    """The ``org.kubeflow.serving.inference.request`` event of one inference.

    Args:
        config: the logged component's identity.
        event_id: shared with the response event.
        body: the request body, unchanged.
        content_type: the request's content type (becomes ``datacontenttype``).
        metadata: the ``metadata`` extension, from :func:`metadata_attribute`.
        when: request arrival time (``time``).

    Returns:
        The event.
    """
    attributes = _base_attributes(config, event_id, REQUEST_TYPE, when)
    if metadata:
        attributes["metadata"] = metadata
    return CloudEvent(attributes=attributes, data=body, datacontenttype=content_type or "application/json")


def response_event(
    config: LoggerConfig,
    *,
    event_id: str,
    body: bytes,
    content_type: str | None,
    status: int,
    metadata: str | None,
    when: datetime,
) -> CloudEvent:
    """The ``org.kubeflow.serving.inference.response`` event of one inference.

    Args:
        config: the logged component's identity.
        event_id: the request event's id.
        body: the response body, unchanged (an error body for a failed inference).
        content_type: the *request's* content type, as KServe sets it.
        status: the HTTP status of the response (``statuscode`` extension).
        metadata: the ``metadata`` extension.
        when: response time (``time``).

    Returns:
        The event.
    """
    attributes = _base_attributes(config, event_id, RESPONSE_TYPE, when)
    attributes["statuscode"] = str(status)
    if metadata:
        attributes["metadata"] = metadata
    return CloudEvent(attributes=attributes, data=body, datacontenttype=content_type or "application/json")
