"""TorchServe's ``config/config.properties``: Java properties with a ``model_snapshot`` JSON value.

Only what decides which models are served is interpreted: ``model_store`` (where the ``.mar`` files
are) and ``model_snapshot`` (``models.<name>.<version>`` with ``defaultVersion``, ``marName``,
``minWorkers``, ``batchSize``, ``maxBatchDelay`` ...). Every other key (``inference_address``,
``enable_envvars_config``, ``service_envelope`` ...) is kept in :attr:`TorchServeConfig.properties`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zeroserve.servers.runtimes.errors import ModelFormatError

__all__ = ["SnapshotModel", "TorchServeConfig", "parse_properties", "read_config"]


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java ``.properties`` text: ``key=value`` / ``key: value`` lines, ``#``/``!`` comments,
    trailing-backslash continuations.

    Args:
        text: the file's text.

    Returns:
        key -> value (whitespace around both stripped).
    """
    props: dict[str, str] = {}
    pending = ""
    for raw in text.splitlines():
        line = raw.strip() if not pending else raw.lstrip()
        if not pending and (not line or line[0] in "#!"):
            continue
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending += line[:-1]
            continue
        line, pending = pending + line, ""
        cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        key, value = (line[:cut], line[cut + 1 :]) if cut >= 0 else (line, "")
        props[key.strip()] = value.strip()
    if pending:
        cut = pending.find("=")
        props[pending[:cut].strip() if cut >= 0 else pending.strip()] = pending[cut + 1 :].strip()
    return props


@dataclass(frozen=True)
class SnapshotModel:
    """One ``model_snapshot.models.<name>.<version>`` entry."""

    name: str
    version: str
    mar_name: str
    default: bool = False
    batch_size: int = 1
    max_batch_delay_ms: int = 100
    min_workers: int = 1
    settings: dict[str, Any] = field(default_factory=dict)
    """The entry as written (``maxWorkers``, ``responseTimeout`` ...)."""


@dataclass(frozen=True)
class TorchServeConfig:
    """What ``config.properties`` says about the models to serve."""

    model_store: Path
    """Where the ``.mar`` archives are (``model_store``, relative paths against the model folder)."""
    models: list[SnapshotModel]
    """The ``model_snapshot`` entries, one per name (its default version); empty: every archive."""
    properties: dict[str, str]
    """Every key of the file."""


def _int(value: Any, where: str, default: int) -> int:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ModelFormatError(f"torchserve: {where} must be an integer, got {value!r}") from None


def _snapshot(text: str, path: Path) -> list[SnapshotModel]:
    where = f"{path}: model_snapshot"
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ModelFormatError(f"torchserve: {where} is not JSON ({exc})") from None
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, dict):
        raise ModelFormatError(
            f'torchserve: {where} has no "models" object; expected {{"models": {{NAME: {{VERSION: '
            f'{{"marName": "NAME.mar", "defaultVersion": true}}}}}}}}'
        )
    found: list[SnapshotModel] = []
    for name, versions in models.items():
        if not isinstance(versions, dict) or not versions:
            raise ModelFormatError(f"torchserve: {where}.models.{name} must map versions to settings")
        entries = []
        for version, settings in versions.items():
            at = f"{where}.models.{name}.{version}"
            if not isinstance(settings, dict):
                raise ModelFormatError(f"torchserve: {at} must be an object")
            entries.append(
                SnapshotModel(
                    name=name,
                    version=str(version),
                    mar_name=str(settings.get("marName") or f"{name}.mar"),
                    default=bool(settings.get("defaultVersion", False)),
                    batch_size=_int(settings.get("batchSize"), f"{at}.batchSize", 1),
                    max_batch_delay_ms=_int(settings.get("maxBatchDelay"), f"{at}.maxBatchDelay", 100),
                    min_workers=_int(settings.get("minWorkers"), f"{at}.minWorkers", 1),
                    settings=dict(settings),
                )
            )
        defaults = [e for e in entries if e.default]
        found.append(defaults[0] if defaults else entries[-1])
    return found


def read_config(model_dir: Path) -> TorchServeConfig:
    """Read ``model_dir/config/config.properties`` (defaults when absent: ``model_dir/model-store``).

    Args:
        model_dir: the model folder (``/mnt/models``).

    Returns:
        The configuration.

    Raises:
        ModelFormatError: the snapshot is malformed (the message names the key).
    """
    path = model_dir / "config" / "config.properties"
    props = parse_properties(path.read_text(encoding="utf-8")) if path.is_file() else {}
    store_text = props.get("model_store", "")
    store = Path(store_text) if store_text else model_dir / "model-store"
    if not store.is_absolute():
        store = model_dir / store
    if not store.is_dir():
        # KServe's sample writes model_store=/mnt/models/model-store; locally the folder is elsewhere.
        store = model_dir / "model-store"
    snapshot = props.get("model_snapshot")
    models = _snapshot(snapshot, path) if snapshot else []
    return TorchServeConfig(store, models, props)
