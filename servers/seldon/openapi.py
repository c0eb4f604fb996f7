"""``GET /seldon.json``: the OpenAPI 3 description of a component's REST API.

Written here, field by field after Seldon's ``wrapper.oas3.json``: the same paths, the JSON and
form-encoded request bodies and the SeldonMessage / Feedback / SeldonMessageList schemas.
"""

from __future__ import annotations

from typing import Any

from zeroserve import __version__

__all__ = ["openapi_document"]

_MSG = {"$ref": "#/components/schemas/SeldonMessage"}


def _operation(summary: str, schema: dict[str, Any]) -> dict[str, Any]:
    form = {"type": "object", "properties": {"json": {"type": "string", "description": "the JSON request"}}}
    ok = {"200": {"description": "the answer", "content": {"application/json": {"schema": _MSG}}}}
    bad = {
        "400": {
            "description": "a malformed request (status.status FAILURE)",
            "content": {"application/json": {"schema": _MSG}},
        }
    }
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "content": {
                    "application/json": {"schema": schema},
                    "application/x-www-form-urlencoded": {"schema": form},
                }
            },
            "responses": {**ok, **bad},
        },
        "get": {
            "summary": summary,
            "parameters": [{"name": "json", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {**ok, **bad},
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict each call)."""
    feedback = {"$ref": "#/components/schemas/Feedback"}
    msg_list = {"$ref": "#/components/schemas/SeldonMessageList"}
    paths: dict[str, Any] = {
        "/predict": _operation("Predict", _MSG),
        "/api/v1.0/predictions": _operation("Predict", _MSG),
        "/send-feedback": _operation("Send feedback", feedback),
        "/api/v1.0/feedback": _operation("Send feedback", feedback),
        "/route": _operation("Route", _MSG),
        "/aggregate": _operation("Aggregate", msg_list),
        "/transform-input": _operation("Transform input", _MSG),
        "/transform-output": _operation("Transform output", _MSG),
        "/health/ping": {"get": {"summary": "Liveness", "responses": {"200": {"description": "pong"}}}},
        "/health/status": {
            "get": {"summary": "Health", "responses": {"200": {"description": "health_status()"}}}
        },
        "/metadata": {
            "get": {"summary": "Metadata", "responses": {"200": {"description": "SeldonModelMetadata"}}}
        },
    }
    value = {"description": "any JSON value"}
    schemas = {
        "SeldonMessage": {
            "type": "object",
            "properties": {
                "status": {"$ref": "#/components/schemas/Status"},
                "meta": {"$ref": "#/components/schemas/Meta"},
                "data": {"$ref": "#/components/schemas/DefaultData"},
                "binData": {"type": "string", "format": "byte"},
                "strData": {"type": "string"},
                "jsonData": value,
            },
        },
        "DefaultData": {
            "type": "object",
            "properties": {
                "names": {"type": "array", "items": {"type": "string"}},
                "tensor": {
                    "type": "object",
                    "properties": {
                        "shape": {"type": "array", "items": {"type": "integer"}},
                        "values": {"type": "array", "items": {"type": "number"}},
                    },
                },
                "ndarray": {"type": "array", "items": value},
                "tftensor": {"type": "object"},
            },
        },
        "Meta": {
            "type": "object",
            "properties": {
                "puid": {"type": "string"},
                "tags": {"type": "object", "additionalProperties": value},
                "routing": {"type": "object", "additionalProperties": {"type": "integer"}},
                "requestPath": {"type": "object", "additionalProperties": {"type": "string"}},
                "metrics": {"type": "array", "items": {"$ref": "#/components/schemas/Metric"}},
            },
        },
        "Metric": {
            "type": "object",
            "properties": {
                "key": {"type": "string"},
                "type": {"type": "string", "enum": ["COUNTER", "GAUGE", "TIMER"]},
                "value": {"type": "number"},
                "tags": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "Status": {
            "type": "object",
            "properties": {
                "code": {"type": "integer"},
                "info": {"type": "string"},
                "reason": {"type": "string"},
                "status": {"type": "string", "enum": ["SUCCESS", "FAILURE"]},
            },
        },
        "Feedback": {
            "type": "object",
            "properties": {"request": _MSG, "response": _MSG, "reward": {"type": "number"}, "truth": _MSG},
        },
        "SeldonMessageList": {
            "type": "object",
            "properties": {"seldonMessages": {"type": "array", "items": _MSG}},
        },
    }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Seldon component (zeroserve)", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas},
    }
