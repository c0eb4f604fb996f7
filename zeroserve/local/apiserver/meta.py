"""Object metadata rules: names, timestamps, uids and the fields the server owns."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from zeroserve.local.apiserver.errors import FieldError

__all__ = ["generate_name", "new_uid", "now_timestamp", "validate_metadata"]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def now_timestamp() -> str:
    """Returns: the current time as Kubernetes writes it (RFC 3339, seconds, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    """Returns: a fresh ``metadata.uid``."""
    return str(uuid.uuid4())


def generate_name(prefix: str) -> str:
    """Returns: ``prefix`` plus five random characters, as ``metadata.generateName`` asks."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(5))


def validate_metadata(metadata: dict[str, Any], *, dns_label: bool = False) -> list[FieldError]:
    """Check the parts of ``metadata`` every kind shares.

    Args:
        metadata: the object's metadata, after name generation.
        dns_label: names must be RFC 1123 labels (namespaces) instead of subdomains.

    Returns:
        Every error, with ``metadata.*`` paths.
    """
    errors: list[FieldError] = []
    name = metadata.get("name")
    if not name:
        errors.append(
            FieldError(
                "FieldValueRequired", "metadata.name", "Required value: name or generateName is required"
            )
        )
    elif not isinstance(name, str):
        errors.append(
            FieldError("FieldValueInvalid", "metadata.name", f"Invalid value: {name!r}: must be a string")
        )
    else:
        pattern, message, limit = (_LABEL, _LABEL_MSG, 63) if dns_label else (_SUBDOMAIN, _SUBDOMAIN_MSG, 253)
        if len(name) > limit:
            errors.append(
                FieldError(
                    "FieldValueInvalid",
                    "metadata.name",
                    f'Invalid value: "{name}": must be no more than {limit} characters',
                )
            )
        elif not pattern.match(name):
            errors.append(
                FieldError("FieldValueInvalid", "metadata.name", f'Invalid value: "{name}": {message}')
            )
    for field in ("labels", "annotations"):
        values = metadata.get(field)
        if values is None:
            continue
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            errors.append(
                FieldError(
                    "FieldValueTypeInvalid",
                    f"metadata.{field}",
                    "Invalid value: must be a map of string to string",
                )
            )
    for field in ("finalizers",):
        values = metadata.get(field)
        if values is not None and (
            not isinstance(values, list) or not all(isinstance(v, str) for v in values)
        ):
            errors.append(
                FieldError(
                    "FieldValueTypeInvalid", f"metadata.{field}", "Invalid value: must be a list of strings"
                )
            )
    refs = metadata.get("ownerReferences")
    if refs is not None:
        if not isinstance(refs, list):
            errors.append(
                FieldError(
                    "FieldValueTypeInvalid", "metadata.ownerReferences", "Invalid value: must be a list"
                )
            )
        else:
            for index, ref in enumerate(refs):
                for key in ("apiVersion", "kind", "name", "uid"):
                    if not isinstance(ref, dict) or not ref.get(key):
                        errors.append(
                            FieldError(
                                "FieldValueRequired",
                                f"metadata.ownerReferences[{index}].{key}",
                                "Required value",
                            )
                        )
    return errors
