"""Storage credentials for the storage-initializer, as KServe's credential builder finds them.

- ``spec.predictor.model.storage`` (``key``, ``path``, ``parameters``): the ``storage-config`` Secret's
  entry ``key`` (unset: ``default_<parameters.type>``, else ``default``) names the store; the model's
  ``storageUri`` becomes ``<type>://<bucket>/<path>`` and the initializer gets ``STORAGE_CONFIG``
  (the entry) and ``STORAGE_OVERRIDE_CONFIG`` (the parameters).
- the predictor's ``serviceAccountName`` (``default`` when unset, if it exists), for a model in S3, GCS
  or Azure Blob Storage (the kind of Secret that store uses): each of its Secrets
  with ``AWS_ACCESS_KEY_ID`` gives ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` and, from its
  ``serving.kserve.io/s3-*`` annotations, ``S3_ENDPOINT`` / ``AWS_ENDPOINT_URL``, ``S3_USE_HTTPS``,
  ``AWS_REGION``, ``S3_VERIFY_SSL``, ``awsAnonymousCredential``, ``AWS_CA_BUNDLE``; one with
  ``gcloud-application-credentials.json`` a GCS service account; one with ``AZURE_*`` keys Azure's.

As KServe, the Secrets' values are referenced with ``valueFrom.secretKeyRef`` (the S3 keys, the
``storage-config`` entry as ``STORAGE_CONFIG``, Azure's keys), never copied into the Knative Service:
kubelet resolves them on a cluster, the embedded platform's engine from its API server when it starts
the initializer. Only settings that are not secret (the S3 annotations, ``STORAGE_OVERRIDE_CONFIG``)
are plain values; a GCS service account is passed as a ``STORAGE_CONFIG`` value (the JSON our
initializer reads), where KServe mounts the Secret as a file.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zeroserve.apis.serving.v1beta1 import InferenceService
from zeroserve.controller.errors import BuildError
from zeroserve.controller.kinds import Kind
from zeroserve.controller.resources.constants import STORAGE_INITIALIZER

__all__ = [
    "SECRET",
    "SERVICE_ACCOUNT",
    "STORAGE_CONFIG_SECRET",
    "StorageAccess",
    "add_storage_env",
    "storage_access",
]

SECRET = Kind("", "v1", "Secret", "secrets")
SERVICE_ACCOUNT = Kind("", "v1", "ServiceAccount", "serviceaccounts")
STORAGE_CONFIG_SECRET = "storage-config"
"""KServe's ``storageSpecSecretName`` default."""

_S3_ANNOTATIONS = {
    "serving.kserve.io/s3-endpoint": "S3_ENDPOINT",
    "serving.kserve.io/s3-usehttps": "S3_USE_HTTPS",
    "serving.kserve.io/s3-region": "AWS_REGION",
    "serving.kserve.io/s3-verifyssl": "S3_VERIFY_SSL",
    "serving.kserve.io/s3-useanoncredential": "awsAnonymousCredential",
    "serving.kserve.io/s3-cabundle": "AWS_CA_BUNDLE",
}
_AZURE_KEYS = (
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_STORAGE_ACCESS_KEY",
)
_GCS_KEY = "gcloud-application-credentials.json"

Getter = Callable[[Kind, str, str], dict[str, Any] | None]
"""``(kind, namespace, name) -> object`` or ``None`` when it does not exist."""


@dataclass
class StorageAccess:
    """What the predictor's model storage needs beyond the InferenceService itself."""

    uri: str | None = None
    """The ``storageUri`` a storage spec names (``None``: the model's own ``storageUri``)."""
    env: list[dict[str, Any]] = field(default_factory=list)
    """Environment of the storage-initializer (credentials as ``secretKeyRef``, endpoint as values)."""


def _secret_ref(name: str, secret: str, key: str) -> dict[str, Any]:
    """``name`` from ``key`` of Secret ``secret`` (``valueFrom.secretKeyRef``), as KServe writes it."""
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _data(secret: dict[str, Any], where: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in (secret.get("data") or {}).items():
        try:
            found[key] = base64.b64decode(str(value), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise BuildError("InvalidStorageSecret", f"{where}: data.{key} is not base64 text") from None
    found.update({k: str(v) for k, v in (secret.get("stringData") or {}).items()})
    return found


def _entry(text: str, where: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise BuildError("InvalidStorageSpec", f"{where} is not JSON: {exc}") from None
    if not isinstance(config, dict) or not config.get("type"):
        raise BuildError(
            "InvalidStorageSpec", f'{where} must be a JSON object with a "type" (s3, gs, azure, https)'
        )
    return config


def _uri_for(merged: dict[str, Any], path: str) -> str:
    """``<type>://<bucket>/<path>`` (KServe's rule; azure and https name their host)."""
    kind = str(merged.get("type"))
    path = path.lstrip("/")
    where = "spec.predictor.model.storage"
    if kind in ("s3", "gs"):
        if not merged.get("bucket"):
            raise BuildError(
                "InvalidStorageSpec",
                f"{where}: the {kind} entry has no bucket; set bucket in the storage-config entry or in "
                f"{where}.parameters",
            )
        return f"{kind}://{merged['bucket']}/{path}"
    if kind == "azure" and merged.get("account_name") and merged.get("container"):
        return f"https://{merged['account_name']}.blob.core.windows.net/{merged['container']}/{path}"
    if kind in ("https", "http") and merged.get("host"):
        return f"{kind}://{merged['host']}/{path}"
    raise BuildError(
        "InvalidStorageSpec",
        f"{where}: a {kind} entry cannot name the model "
        "(s3/gs need bucket, azure account_name and container, https host)",
    )


def _storage_spec(isvc: InferenceService, get: Getter, ns: str) -> StorageAccess | None:
    model = isvc.spec.predictor.model
    spec = model.storage if model is not None else None
    if spec is None:
        return None
    raw: dict[str, Any] = spec if isinstance(spec, dict) else spec.to_dict()
    secret = get(SECRET, ns, STORAGE_CONFIG_SECRET)
    if secret is None:
        raise BuildError(
            "StorageSecretNotFound",
            f"spec.predictor.model.storage: secret {ns}/{STORAGE_CONFIG_SECRET} does not exist; "
            'create it with one JSON entry per key, e.g. {"type": "s3", "access_key_id": ..., "bucket": ...}',
        )
    entries = _data(secret, f"secret {ns}/{STORAGE_CONFIG_SECRET}")
    params = raw.get("parameters") or {}
    # KServe's default key: default_<type> when the parameters name a type, else default
    fallback = f"default_{params['type']}" if params.get("type") else "default"
    key = str(raw.get("key") or raw.get("storageKey") or fallback)
    if key not in entries:
        raise BuildError(
            "InvalidStorageSpec",
            f"spec.predictor.model.storage.key {key!r} is not in secret {ns}/{STORAGE_CONFIG_SECRET} "
            f"(keys: {', '.join(sorted(entries)) or 'none'})",
        )
    parameters = {str(k): v for k, v in (raw.get("parameters") or {}).items()}
    config = _entry(entries[key], f"secret {ns}/{STORAGE_CONFIG_SECRET} key {key}")
    uri = _uri_for({**config, **parameters}, str(raw.get("path") or ""))
    env: list[dict[str, Any]] = [_secret_ref("STORAGE_CONFIG", STORAGE_CONFIG_SECRET, key)]
    if parameters:
        env.append({"name": "STORAGE_OVERRIDE_CONFIG", "value": json.dumps(parameters, sort_keys=True)})
    return StorageAccess(uri, env)


def _s3_env(data: dict[str, str], annotations: dict[str, str], secret: str) -> list[dict[str, Any]]:
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    env: list[dict[str, Any]] = [_secret_ref(k, secret, k) for k in keys if k in data]
    for annotation, name in _S3_ANNOTATIONS.items():
        if annotations.get(annotation):
            env.append({"name": name, "value": annotations[annotation]})
    endpoint = annotations.get("serving.kserve.io/s3-endpoint")
    if endpoint:
        if "://" not in endpoint:
            https = annotations.get("serving.kserve.io/s3-usehttps", "1").lower() not in ("0", "false")
            endpoint = f"{'https' if https else 'http'}://{endpoint}"
        env.append({"name": "AWS_ENDPOINT_URL", "value": endpoint})
    if annotations.get("serving.kserve.io/s3-region"):
        env.append({"name": "AWS_DEFAULT_REGION", "value": annotations["serving.kserve.io/s3-region"]})
    return env


def _store_of(uri: str) -> str:
    """``s3``, ``gs``, ``azure`` or ``""``: which credentials a storage URI can use."""
    if uri.startswith("s3://"):
        return "s3"
    if uri.startswith("gs://"):
        return "gs"
    if uri.startswith("https://") and ".blob.core.windows.net" in uri.split("/", 3)[2]:
        return "azure"
    return ""


def _service_account(isvc: InferenceService, get: Getter, ns: str, store: str) -> list[dict[str, Any]]:
    explicit = isvc.spec.predictor.service_account_name
    name = explicit or "default"
    account = get(SERVICE_ACCOUNT, ns, name)
    if account is None:
        if explicit:
            raise BuildError(
                "ServiceAccountNotFound",
                f"spec.predictor.serviceAccountName: service account {ns}/{name} does not exist",
            )
        return []
    env: list[dict[str, Any]] = []
    for ref in account.get("secrets") or []:
        secret_name = str(ref.get("name") or "")
        secret = get(SECRET, ns, secret_name) if secret_name else None
        if secret is None:
            continue  # as KServe: a listed secret that is gone is skipped
        data = _data(secret, f"secret {ns}/{secret_name} (service account {name})")
        annotations = (secret.get("metadata") or {}).get("annotations") or {}
        if "AWS_ACCESS_KEY_ID" in data or any(a in annotations for a in _S3_ANNOTATIONS):
            env += _s3_env(data, annotations, secret_name) if store == "s3" else []
        elif _GCS_KEY in data and store == "gs":
            encoded = base64.b64encode(data[_GCS_KEY].encode()).decode()
            config = {"type": "gs", "base64_service_account": encoded}
            env.append({"name": "STORAGE_CONFIG", "value": json.dumps(config)})
        elif any(k in data for k in _AZURE_KEYS) and store == "azure":
            env += [_secret_ref(k, secret_name, k) for k in _AZURE_KEYS if k in data]
    return env


def storage_access(isvc: InferenceService, get: Getter) -> StorageAccess:
    """The storage spec's URI and the credentials of the predictor's model storage.

    Args:
        isvc: the defaulted InferenceService.
        get: reads a Secret or ServiceAccount of the InferenceService's namespace.

    Returns:
        The URI override and the initializer's environment (empty when nothing applies).

    Raises:
        BuildError: the ``storage-config`` secret or its key is missing or malformed, or the named
            service account does not exist (the message names the field and what would work).
    """
    ns = isvc.namespace or "default"
    access = _storage_spec(isvc, get, ns) or StorageAccess()
    model = isvc.spec.predictor.model
    uri = access.uri or (model.storage_uri if model is not None else None) or ""
    store = _store_of(uri)
    if not store:
        return access  # a local, pvc or plain http(s) model needs no credentials
    names = {e["name"] for e in access.env}
    access.env += [e for e in _service_account(isvc, get, ns, store) if e["name"] not in names]
    return access


def add_storage_env(ksvc: dict[str, Any], env: list[dict[str, Any]]) -> dict[str, Any]:
    """Put ``env`` on the storage-initializer of a built Knative Service (in place; returned)."""
    if not env:
        return ksvc
    pod = ksvc["spec"]["template"]["spec"]
    for container in pod.get("initContainers") or []:
        if container.get("name") == STORAGE_INITIALIZER:
            names = {e["name"] for e in env}
            container["env"] = [e for e in container.get("env") or [] if e.get("name") not in names] + env
    return ksvc
