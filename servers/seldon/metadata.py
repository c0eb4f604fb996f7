"""A component's metadata (``GET /metadata``, gRPC ``Model/Metadata``).

What ``init_metadata()`` returns, overlaid by the ``MODEL_METADATA`` environment variable (YAML or
JSON; it wins), then checked against ``SeldonModelMetadata``: ``name`` and ``platform`` strings,
``versions`` a list of strings, ``inputs`` / ``outputs`` lists of objects, ``custom`` string to
string. A bad document is kept as an error: ``/metadata`` then answers 500
``MICROSERVICE_BAD_METADATA`` while predictions keep working, as in Seldon.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

from zeroserve.servers.seldon.errors import SeldonError

if TYPE_CHECKING:
    from zeroserve.servers.seldon.component import SeldonComponent

__all__ = ["build_metadata", "metadata_or_error"]

_ERROR_KEY = "__error__"


def build_metadata(component: SeldonComponent) -> dict[str, Any]:
    """The component's metadata document (with an error marker when it is invalid)."""
    doc: dict[str, Any] = {}
    fn = component.hook("init_metadata")
    try:
        if fn is not None:
            found = fn()
            if found is not None and not isinstance(found, dict):
                raise SeldonError("init_metadata() must return an object")
            doc.update(found or {})
        env = os.environ.get("MODEL_METADATA")
        if env:
            doc.update(_parse_env(env))
        return _validated(doc, component.name or component.unit_id)
    except SeldonError as exc:
        return {_ERROR_KEY: exc.reason}
    except Exception as exc:
        return {_ERROR_KEY: f"init_metadata() failed: {str(exc).strip() or 'no message'}"}


def _parse_env(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        import yaml

        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            raise SeldonError("MODEL_METADATA is neither JSON nor YAML") from None
    if not isinstance(value, dict):
        raise SeldonError("MODEL_METADATA must be an object")
    return value


def _validated(doc: dict[str, Any], default_name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": doc.get("name", default_name),
        "versions": doc.get("versions", []),
        "platform": doc.get("platform", ""),
        "inputs": doc.get("inputs", []),
        "outputs": doc.get("outputs", []),
        "custom": doc.get("custom", {}),
    }
    for key in ("name", "platform"):
        if not isinstance(out[key], str):
            raise SeldonError(f"metadata {key} must be a string")
    if not isinstance(out["versions"], list) or not all(isinstance(v, str) for v in out["versions"]):
        raise SeldonError("metadata versions must be a list of strings")
    for key in ("inputs", "outputs"):
        if not isinstance(out[key], list) or not all(isinstance(v, dict) for v in out[key]):
            raise SeldonError(f"metadata {key} must be a list of objects")
    custom = out["custom"]
    if not isinstance(custom, dict) or not all(isinstance(v, str) for v in custom.values()):
        raise SeldonError("metadata custom must map strings to strings")
    return out


def metadata_or_error(component: SeldonComponent) -> dict[str, Any]:
    """The metadata, or raise the 500 ``MICROSERVICE_BAD_METADATA`` it was kept as."""
    doc = component.metadata
    if _ERROR_KEY in doc:
        raise SeldonError(doc[_ERROR_KEY], 500, "MICROSERVICE_BAD_METADATA")
    return doc
