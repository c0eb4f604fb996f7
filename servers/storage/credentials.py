"""Storage credentials as KServe passes them to its storage-initializer.

Two sources, both turned into environment variables the backends read:

- KServe's ``storage-config`` Secret: one JSON object per key (``{"type": "s3", "access_key_id": ...,
  "secret_access_key": ..., "endpoint_url": ..., "bucket": ..., "region": ..., "anonymous": ...}``,
  ``{"type": "gs", "base64_service_account": ...}``, ``{"type": "azure", ...}``), handed over as
  ``STORAGE_CONFIG`` (plus ``STORAGE_OVERRIDE_CONFIG``: the storage spec's ``parameters``);
  :func:`storage_config_env` maps it to ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, ``awsAnonymousCredential``, ``S3_VERIFY_SSL``,
  ``GOOGLE_APPLICATION_CREDENTIALS`` (a file written from the service account), ``AZURE_*``;
- variables set directly (a ServiceAccount's S3 secrets and ``serving.kserve.io/s3-*`` annotations),
  which need no translation.

:func:`storage_uri_for` builds the ``storageUri`` of a ``storage: {key, path, parameters}`` spec.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Mapping, MutableMapping
from typing import Any

from zeroserve.servers.storage.errors import StorageError

__all__ = [
    "STORAGE_CONFIG_ENV",
    "STORAGE_OVERRIDE_CONFIG_ENV",
    "StorageConfigError",
    "apply_storage_config",
    "parse_storage_config",
    "storage_config_env",
    "storage_uri_for",
]

STORAGE_CONFIG_ENV = "STORAGE_CONFIG"
"""The variable holding one ``storage-config`` entry (JSON), as KServe's initializer reads it."""
STORAGE_OVERRIDE_CONFIG_ENV = "STORAGE_OVERRIDE_CONFIG"
"""The variable holding the storage spec's ``parameters`` (JSON), laid over the entry."""

_S3 = {
    "access_key_id": "AWS_ACCESS_KEY_ID",
    "secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "endpoint_url": "AWS_ENDPOINT_URL",
    "region": "AWS_DEFAULT_REGION",
    "anonymous": "awsAnonymousCredential",
    "verify_ssl": "S3_VERIFY_SSL",
    "use_https": "S3_USE_HTTPS",
}
_AZURE = {
    "subscription_id": "AZURE_SUBSCRIPTION_ID",
    "tenant_id": "AZURE_TENANT_ID",
    "client_id": "AZURE_CLIENT_ID",
    "client_secret": "AZURE_CLIENT_SECRET",
    "access_key": "AZURE_STORAGE_ACCESS_KEY",
    "storage_access_key": "AZURE_STORAGE_ACCESS_KEY",
}
_TYPES = ("s3", "gs", "azure", "https", "http", "hdfs", "webhdfs")


class StorageConfigError(StorageError):
    """A ``storage-config`` entry or a storage spec is malformed; the message names the field."""


def parse_storage_config(text: str, where: str) -> dict[str, Any]:
    """Parse one ``storage-config`` entry.

    Args:
        text: the JSON text.
        where: how to name it in errors (e.g. ``secret storage-config key localMinIO``).

    Raises:
        StorageConfigError: not a JSON object, or ``type`` missing or unknown.
    """
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise StorageConfigError(f"{where} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise StorageConfigError(f"{where} must be a JSON object with a type (s3, gs, azure, https)")
    kind = str(doc.get("type") or "")
    if kind not in _TYPES:
        raise StorageConfigError(f"{where}: type {kind or '(none)'!r} is not one of {', '.join(_TYPES)}")
    return doc


def _flag(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip().lower()
    return {"true": "1", "false": "0"}.get(text, str(value))


def storage_config_env(
    config: Mapping[str, Any], override: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The environment a ``storage-config`` entry means (as KServe's storage initializer sets it).

    Args:
        config: the entry.
        override: the storage spec's ``parameters``, laid over the entry.

    Returns:
        Variable -> value. A ``gs`` service account is written to a private file, named by
        ``GOOGLE_APPLICATION_CREDENTIALS``.

    Raises:
        StorageConfigError: a ``gs`` entry whose ``base64_service_account`` is not base64 JSON.
    """
    merged = {**config, **(override or {})}
    kind = str(merged.get("type") or "")
    env: dict[str, str] = {}
    if kind == "s3":
        for key, name in _S3.items():
            if merged.get(key) not in (None, ""):
                env[name] = (
                    _flag(merged[key])
                    if key in ("anonymous", "verify_ssl", "use_https")
                    else str(merged[key])
                )
        if "AWS_DEFAULT_REGION" in env:
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
    elif kind == "gs" and merged.get("base64_service_account"):
        try:
            account = base64.b64decode(str(merged["base64_service_account"]), validate=True)
            json.loads(account)
        except (binascii.Error, ValueError):
            raise StorageConfigError(
                "storage-config gs entry: base64_service_account is not base64 JSON"
            ) from None
        fd, path = tempfile.mkstemp(prefix="gcloud-", suffix=".json")
        with os.fdopen(fd, "wb") as out:
            out.write(account)
        env["GOOGLE_APPLICATION_CREDENTIALS"] = path
    elif kind == "azure":
        for key, name in _AZURE.items():
            if merged.get(key):
                env[name] = str(merged[key])
    return env


def apply_storage_config(environ: MutableMapping[str, str]) -> list[str]:
    """Expand ``STORAGE_CONFIG`` / ``STORAGE_OVERRIDE_CONFIG`` in ``environ`` into the backends' variables.

    Variables already set win (an explicit ``AWS_ENDPOINT_URL`` beats the entry's).

    Returns:
        The names of the variables set.

    Raises:
        StorageConfigError: either variable is malformed.
    """
    text = environ.get(STORAGE_CONFIG_ENV)
    if not text:
        return []
    config = parse_storage_config(text, STORAGE_CONFIG_ENV)
    override: dict[str, Any] = {}
    if environ.get(STORAGE_OVERRIDE_CONFIG_ENV):
        try:
            override = json.loads(environ[STORAGE_OVERRIDE_CONFIG_ENV])
        except ValueError as exc:
            raise StorageConfigError(f"{STORAGE_OVERRIDE_CONFIG_ENV} is not JSON: {exc}") from None
        if not isinstance(override, dict):
            raise StorageConfigError(f"{STORAGE_OVERRIDE_CONFIG_ENV} must be a JSON object")
    added = []
    for name, value in storage_config_env(config, override).items():
        if name not in environ:
            environ[name] = value
            added.append(name)
    return added


def storage_uri_for(config: Mapping[str, Any], path: str, parameters: Mapping[str, Any] | None = None) -> str:
    """The ``storageUri`` a storage spec names: ``<type>://<bucket>/<path>`` (KServe's rule).

    Args:
        config: the ``storage-config`` entry.
        path: the spec's ``path``.
        parameters: the spec's ``parameters`` (``type``, ``bucket`` ... override the entry).

    Raises:
        StorageConfigError: no bucket for an s3/gs entry, or no account/container for azure.
    """
    merged = {**config, **(parameters or {})}
    kind = str(merged.get("type") or "")
    path = path.lstrip("/")
    if kind in ("s3", "gs"):
        bucket = str(merged.get("bucket") or "")
        if not bucket:
            raise StorageConfigError(
                f"storage: the {kind} entry has no bucket; set bucket in the storage-config entry "
                "or in spec.predictor.model.storage.parameters"
            )
        return f"{kind}://{bucket}/{path}"
    if kind == "azure":
        account, container = merged.get("account_name"), merged.get("container")
        if not account or not container:
            raise StorageConfigError("storage: an azure entry needs account_name and container")
        return f"https://{account}.blob.core.windows.net/{container}/{path}"
    if kind in ("https", "http"):
        host = str(merged.get("host") or "")
        if not host:
            raise StorageConfigError(f"storage: the {kind} entry has no host")
        return f"{kind}://{host}/{path}"
    raise StorageConfigError(f"storage: type {kind!r} cannot name a storageUri")
