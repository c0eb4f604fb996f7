"""A revision's ConfigMap, Secret and emptyDir volumes as local folders, kept in sync as kubelet does.

KServe mounts ``modelconfig-<isvc>-0`` at ``/mnt/configs`` in a multi-model predictor (its TrainedModels)
and users mount their own ConfigMaps and Secrets. Instances here are processes, so each such volume
becomes a folder under ``<state>/engine/volumes/<namespace>/<revision>/<volume>``: one file per key
(or per ``items`` entry), rewritten atomically (a temporary file renamed over it) when the object
changes, so a server polling the file sees either the old or the new text, never half of it. For a
process, the container's mount paths in ``command``, ``args`` and ``env`` are rewritten to those
folders, as ``/mnt/models`` is to the model folder. A container (an image run by podman or docker)
gets the folders bind-mounted at their ``mountPath`` instead (:func:`bind_mounts`): the folder, not
its files, so the renames of a later sync show inside it, as kubelet's symlink swap does. A
``subPath`` mounts that one entry, and like kubelet's ``subPath`` it does not follow later changes.

Environment from the API is resolved here too: ``valueFrom.secretKeyRef`` / ``configMapKeyRef`` and
``envFrom``; a missing object or key that is not ``optional`` raises :class:`ContainerConfigError`
(kubelet's ``CreateContainerConfigError``), one line naming it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zeroserve.process.private import private_folder

__all__ = [
    "BindMount",
    "ContainerConfigError",
    "ObjectReader",
    "Projection",
    "VolumeMount",
    "api_reader",
    "bind_mounts",
    "keep_in_sync",
    "mount_table",
    "resolve_env",
    "rewrite_paths",
    "sync_volumes",
]

_LOG = logging.getLogger(__name__)

ObjectReader = Callable[[str, str, str], dict[str, Any] | None]
"""``read(kind, namespace, name)`` -> the ConfigMap or Secret as the API returns it, ``None`` if missing."""

CONFIG_MAP = "ConfigMap"
SECRET = "Secret"
MODEL_MOUNT = "/mnt/models"
DEFAULT_MODE = 0o644
"""A projected file's mode when the volume gives none (Kubernetes' ``defaultMode`` 420)."""
FOLDER_MODE = 0o755
EMPTY_DIR_MODE = 0o777
"""kubelet makes an ``emptyDir`` writable by every user of the pod."""


class ContainerConfigError(Exception):
    """A ConfigMap, Secret or key a container needs is missing (kubelet's ``CreateContainerConfigError``)."""

    reason = "CreateContainerConfigError"


@dataclass(frozen=True)
class Projection:
    """One volume made a folder: which object it shows (``None``: an ``emptyDir``)."""

    volume: str
    kind: str | None
    name: str
    items: tuple[tuple[str, str, int | None], ...]
    """``(key, path, mode)``; empty: every key as a file of its name."""
    optional: bool
    folder: Path
    default_mode: int = DEFAULT_MODE
    """The files' mode (``defaultMode``; an item's ``mode`` wins), as kubelet writes them."""


@dataclass(frozen=True)
class VolumeMount:
    """A container mount path and the local path that replaces it."""

    mount_path: str
    local: Path


@dataclass(frozen=True)
class BindMount:
    """A projected folder (or a ``subPath`` in it) to mount into a container."""

    source: Path
    target: str
    read_only: bool


def _mode(value: object) -> int | None:
    """A ``mode`` / ``defaultMode`` (decimal in JSON, as the API serves it), limited to permission bits."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777:
        return value
    return None


def _projection(volume: Mapping[str, Any], folder: Path) -> Projection | None:
    name = str(volume.get("name") or "")
    for kind, field, name_key in ((CONFIG_MAP, "configMap", "name"), (SECRET, "secret", "secretName")):
        source = volume.get(field)
        if isinstance(source, Mapping):
            items = tuple(
                (str(i.get("key")), str(i.get("path") or i.get("key")), _mode(i.get("mode")))
                for i in source.get("items") or []
            )
            return Projection(
                name,
                kind,
                str(source.get(name_key) or ""),
                items,
                bool(source.get("optional")),
                folder / name,
                _mode(source.get("defaultMode")) or DEFAULT_MODE,
            )
    if "emptyDir" in volume:
        return Projection(name, None, "", (), True, folder / name)
    return None


def projections(volumes: list[dict[str, Any]], folder: Path) -> dict[str, Projection]:
    """The revision's volumes this module materializes, by volume name.

    Args:
        volumes: the pod's ``volumes``.
        folder: the revision's volume folder.

    Returns:
        ConfigMap, Secret and emptyDir volumes (others: PVCs, hostPath ... are not projected).
    """
    found = {}
    for volume in volumes:
        projection = _projection(volume, folder)
        if projection is not None and projection.volume:
            found[projection.volume] = projection
    return found


def mount_table(container: Mapping[str, Any], found: Mapping[str, Projection]) -> list[VolumeMount]:
    """The container's mounts of projected volumes, longest mount path first (``/mnt/models`` excluded).

    Args:
        container: the container (its ``volumeMounts``).
        found: :func:`projections`.

    Returns:
        The mounts to rewrite.
    """
    mounts = []
    for mount in container.get("volumeMounts") or []:
        projection = found.get(str(mount.get("name") or ""))
        path = str(mount.get("mountPath") or "").rstrip("/")
        if projection is None or not path or path == MODEL_MOUNT:
            continue
        local = projection.folder / str(mount["subPath"]) if mount.get("subPath") else projection.folder
        mounts.append(VolumeMount(path, local))
    mounts.sort(key=lambda m: len(m.mount_path), reverse=True)
    return mounts


def bind_mounts(container: Mapping[str, Any], found: Mapping[str, Projection]) -> list[BindMount]:
    """The container's mounts of projected volumes as bind mounts (``/mnt/models`` excluded).

    ConfigMap and Secret volumes are read-only, as kubelet mounts them; an ``emptyDir`` is writable
    unless the mount says ``readOnly``. A ``subPath`` that does not exist becomes an empty folder, as
    kubelet makes it.

    Args:
        container: the container (its ``volumeMounts``).
        found: :func:`projections` (already synced, so a ``subPath`` key is a file).

    Returns:
        The mounts, in the container's order.

    Raises:
        ContainerConfigError: a ``subPath`` that leaves its volume (absolute, or with ``..``).
    """
    mounts = []
    for index, mount in enumerate(container.get("volumeMounts") or []):
        projection = found.get(str(mount.get("name") or ""))
        path = str(mount.get("mountPath") or "").rstrip("/")
        if projection is None or not path or path == MODEL_MOUNT:
            continue
        source = projection.folder
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            if Path(sub_path).is_absolute() or ".." in Path(sub_path).parts:
                raise ContainerConfigError(
                    f"volumeMounts[{index}].subPath: {sub_path!r} must be a relative path inside volume "
                    f"{projection.volume!r} (no '..', not absolute)"
                )
            source = projection.folder / sub_path
            if not source.exists():
                _shared_folder(source, projection.folder)
        read_only = bool(mount.get("readOnly")) or projection.kind is not None
        mounts.append(BindMount(source, path, read_only))
    return mounts


def _rewrite(value: str, mounts: list[VolumeMount]) -> str:
    for mount in mounts:
        path = mount.mount_path
        start = value.find(path)
        while start >= 0:
            end = start + len(path)
            if end == len(value) or value[end] in "/ :,;=\"'":
                value = value[:start] + str(mount.local) + value[end:]
                end = start + len(str(mount.local))
            start = value.find(path, end)
    return value


def rewrite_paths(container: Mapping[str, Any], mounts: list[VolumeMount]) -> dict[str, Any]:
    """The container with its mount paths in ``command``, ``args`` and ``env`` values made local.

    Args:
        container: the container.
        mounts: :func:`mount_table`.

    Returns:
        A new container dict (``container`` itself is not changed).
    """
    out = dict(container)
    if not mounts:
        return out
    for key in ("command", "args"):
        if out.get(key):
            out[key] = [_rewrite(str(v), mounts) for v in out[key]]
    if out.get("env"):
        out["env"] = [
            {**item, "value": _rewrite(str(item["value"]), mounts)} if "value" in item else item
            for item in out["env"]
        ]
    return out


def _decoded(obj: Mapping[str, Any], kind: str) -> dict[str, bytes]:
    data: dict[str, bytes] = {}
    if kind == SECRET:
        for key, value in (obj.get("data") or {}).items():
            data[key] = base64.b64decode(str(value or ""))
        for key, value in (obj.get("stringData") or {}).items():
            data[key] = str(value).encode()
        return data
    for key, value in (obj.get("data") or {}).items():
        data[key] = str(value or "").encode()
    for key, value in (obj.get("binaryData") or {}).items():
        data[key] = base64.b64decode(str(value or ""))
    return data


def _shared_folder(path: Path, root: Path) -> None:
    """Create ``path`` (``root`` or a folder under it) and the folders between them ``0755``, as kubelet."""
    current = root
    for part in ("", *path.relative_to(root).parts):
        current = current / part if part else current
        current.mkdir(exist_ok=True)
        if stat.S_IMODE(current.stat().st_mode) != FOLDER_MODE:
            current.chmod(FOLDER_MODE)  # mkdir's mode passes through the umask


def _write_atomic(path: Path, content: bytes, mode: int, root: Path) -> bool:
    with contextlib.suppress(OSError):
        if path.read_bytes() == content:
            if stat.S_IMODE(path.stat().st_mode) != mode:
                path.chmod(mode)
            return False
    _shared_folder(path.parent, root)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def _project(projection: Projection, read: ObjectReader, namespace: str) -> bool:
    # The revision's folder above stays 0700 (nobody else on the host reaches it); inside, files have
    # the modes kubelet gives them, so a container that runs as another user can read its mounts.
    private_folder(projection.folder.parent)
    if projection.kind is None:
        projection.folder.mkdir(exist_ok=True)
        projection.folder.chmod(EMPTY_DIR_MODE)
        return False
    _shared_folder(projection.folder, projection.folder)
    obj = read(projection.kind, namespace, projection.name)
    if obj is None and not projection.optional:
        raise ContainerConfigError(
            f"{projection.kind.lower()} {projection.name!r} not found in namespace {namespace!r} "
            f"(volume {projection.volume!r})"
        )
    data = _decoded(obj or {}, projection.kind)
    files: dict[str, bytes] = {}
    modes: dict[str, int] = {}
    if projection.items:
        for key, path, mode in projection.items:
            if key not in data:
                if projection.optional:
                    continue
                raise ContainerConfigError(
                    f"key {key!r} not found in {projection.kind.lower()} {projection.name!r} "
                    f"(volume {projection.volume!r})"
                )
            files[path] = data[key]
            if mode is not None:
                modes[path] = mode
    else:
        files = data
    changed = False
    for path, content in files.items():
        if ".." in Path(path).parts or Path(path).is_absolute():
            continue
        mode = modes.get(path, projection.default_mode)
        changed = _write_atomic(projection.folder / path, content, mode, projection.folder) or changed
    for existing in projection.folder.rglob("*"):
        relative = existing.relative_to(projection.folder).as_posix()
        if existing.is_file() and relative not in files and not existing.name.startswith(".tmp-"):
            existing.unlink()
            changed = True
    return changed


def sync_volumes(found: Mapping[str, Projection], read: ObjectReader, namespace: str) -> list[str]:
    """Write every projected volume's files as its object holds them now.

    Args:
        found: :func:`projections`.
        read: reads ConfigMaps and Secrets.
        namespace: the revision's namespace.

    Returns:
        The volumes whose files changed.

    Raises:
        ContainerConfigError: a required object or key is missing.
    """
    return [name for name, projection in found.items() if _project(projection, read, namespace)]


async def keep_in_sync(
    found: Mapping[str, Projection], read: ObjectReader, namespace: str, interval: float
) -> None:
    """Re-project the volumes every ``interval`` seconds until cancelled (kubelet's periodic sync).

    A missing object keeps the files it had (kubelet keeps the last projection too) and is logged once.

    Args:
        found: :func:`projections`.
        read: reads ConfigMaps and Secrets.
        namespace: the revision's namespace.
        interval: seconds between syncs.
    """
    failing = False
    while True:
        await asyncio.sleep(interval)
        try:
            changed = await asyncio.to_thread(sync_volumes, found, read, namespace)
        except Exception as err:  # the API server restarting, a deleted ConfigMap: try again later
            if not failing:
                _LOG.warning("volumes of namespace %s not refreshed: %s", namespace, err)
            failing = True
            continue
        failing = False
        if changed:
            _LOG.info("volumes %s of namespace %s updated", changed, namespace)


def resolve_env(container: Mapping[str, Any], read: ObjectReader | None, namespace: str) -> dict[str, Any]:
    """The container with ``envFrom`` and ``valueFrom`` ConfigMap/Secret references made plain values.

    ``envFrom`` entries come first and ``env`` overrides them, as in Kubernetes; other ``valueFrom``
    kinds (``fieldRef`` ...) are left as they are.

    Args:
        container: the container.
        read: reads ConfigMaps and Secrets (``None``: no API; a reference then is an error unless optional).
        namespace: the pod's namespace.

    Returns:
        A new container dict.

    Raises:
        ContainerConfigError: a required object or key is missing.
    """
    env_from = container.get("envFrom") or []
    refs = [item for item in container.get("env") or [] if _key_ref(item) is not None]
    if not env_from and not refs:
        return dict(container)
    cache: dict[tuple[str, str], dict[str, bytes] | None] = {}

    def data(kind: str, name: str) -> dict[str, bytes] | None:
        if (kind, name) not in cache:
            obj = read(kind, namespace, name) if read is not None else None
            cache[(kind, name)] = _decoded(obj, kind) if obj is not None else None
        return cache[(kind, name)]

    env: list[dict[str, Any]] = []
    for source in env_from:
        kind, ref = (
            (SECRET, source["secretRef"])
            if source.get("secretRef")
            else (CONFIG_MAP, source.get("configMapRef"))
        )
        ref = ref or {}
        found = data(kind, str(ref.get("name") or ""))
        if found is None:
            if ref.get("optional"):
                continue
            raise ContainerConfigError(
                f"envFrom: {kind.lower()} {ref.get('name')!r} not found in namespace {namespace!r}"
            )
        prefix = str(source.get("prefix") or "")
        env += [{"name": prefix + key, "value": value.decode()} for key, value in found.items()]
    for item in container.get("env") or []:
        ref_kind = _key_ref(item)
        if ref_kind is None:
            env.append(item)
            continue
        kind, ref = ref_kind
        found = data(kind, str(ref.get("name") or ""))
        key = str(ref.get("key") or "")
        if found is None or key not in found:
            if ref.get("optional"):
                continue
            what = f"{kind.lower()} {ref.get('name')!r}"
            missing = (
                f"{what} not found in namespace {namespace!r}"
                if found is None
                else f"key {key!r} not in {what}"
            )
            raise ContainerConfigError(f"env {item.get('name')}: {missing}")
        env.append({"name": item["name"], "value": found[key].decode()})
    out = {k: v for k, v in container.items() if k != "envFrom"}
    out["env"] = env
    return out


def _key_ref(item: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    source = item.get("valueFrom")
    if not isinstance(source, Mapping):
        return None
    if isinstance(source.get("secretKeyRef"), Mapping):
        return SECRET, source["secretKeyRef"]
    if isinstance(source.get("configMapKeyRef"), Mapping):
        return CONFIG_MAP, source["configMapKeyRef"]
    return None


def api_reader(api_client: Any) -> ObjectReader:
    """An :data:`ObjectReader` over a ``kubernetes`` ApiClient (the platform's API server).

    Args:
        api_client: a ``kubernetes.client.ApiClient``.

    Returns:
        The reader; a 404 reads as ``None``.
    """
    from kubernetes import client

    core = client.CoreV1Api(api_client)

    def read(kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        call = core.read_namespaced_secret if kind == SECRET else core.read_namespaced_config_map
        try:
            obj = call(name, namespace)
        except client.ApiException as err:
            if err.status == 404:
                return None
            raise
        found: dict[str, Any] = api_client.sanitize_for_serialization(obj)
        return found

    return read
