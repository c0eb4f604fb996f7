"""Triton model repositories served by ``zeroserve serve triton``: one :class:`TritonModel` per model
folder (its newest selected version), all in one server, over V2 REST and V2 gRPC as Triton answers.

The model metadata reports the config's ``platform``, its version and the tensors with the batch
dimension (``-1``) when ``max_batch_size > 0``; ``get_model_config`` returns the parsed
``config.pbtxt``. Triton speaks only the V2 protocol, so a V1 body is a 400 saying so.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.errors import ModelFormatError, ModelMissingError, RuntimeOptionsError
from zeroserve.servers.runtimes.triton.backends import Backend, load_backend
from zeroserve.servers.runtimes.triton.config import ModelConfig, read_model_config, select_versions
from zeroserve.servers.storage import ModelStorage
from zeroserve.servers.tensors import datatype_of
from zeroserve.servers.types import InferOutput, InferRequest, InferResponse

__all__ = ["TritonModel", "TritonRepository", "build_triton"]

_log = logging.getLogger(__name__)


class TritonModel(Model):
    """One model folder of a Triton repository, at one version.

    Args:
        model_dir: the model's folder (``<repository>/<name>``).
        config: its parsed ``config.pbtxt``.
        version: the version folder to load.
    """

    def __init__(self, model_dir: Path, config: ModelConfig, version: int) -> None:
        super().__init__(config.name)
        self.model_dir = model_dir
        self.config = config
        self.version = str(version)
        self.platform = config.platform
        self._backend: Backend | None = None

    def load(self) -> bool:
        """Load the version's model file with the config's backend."""
        self._backend = load_backend(self.config, self.model_dir, int(self.version))
        self.ready = True
        return True

    def stop(self) -> None:
        """Finalise the backend (the Python backend's ``finalize``)."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def get_input_types(self) -> list[dict[str, Any]]:
        """The config's inputs (V2 metadata; requests are checked against them)."""
        return [
            {"name": t.name, "datatype": t.datatype, "shape": self.config.shape(t)}
            for t in self.config.inputs
        ]

    def get_output_types(self) -> list[dict[str, Any]]:
        """The config's outputs (V2 metadata)."""
        return [
            {"name": t.name, "datatype": t.datatype, "shape": self.config.shape(t)}
            for t in self.config.outputs
        ]

    def get_model_config(self) -> dict[str, Any]:
        """The parsed ``config.pbtxt`` as Triton answers ``GET /v2/models/<name>/config`` (and gRPC
        ``ModelConfig``): every field of the file, tensors with Triton's defaults filled in."""
        config = dict(self.config.raw)
        for key in ("input", "output"):
            entries = []
            for entry in config.get(key) or []:
                full = {
                    "name": entry["name"],
                    "data_type": entry["data_type"],
                    "dims": list(entry.get("dims") or []),
                }
                full.update({k: v for k, v in entry.items() if k not in full})
                entries.append(full)
            config[key] = entries
        batching = config.get("dynamic_batching")
        if isinstance(batching, dict):
            preferred = batching.get("preferred_batch_size") or []
            config["dynamic_batching"] = {
                **batching,
                "preferred_batch_size": [
                    int(v) for v in (preferred if isinstance(preferred, list) else [preferred])
                ],
                "max_queue_delay_microseconds": int(batching.get("max_queue_delay_microseconds", 0)),
                "preserve_ordering": bool(batching.get("preserve_ordering", False)),
            }
        config.setdefault("version_policy", {"latest": {"num_versions": 1}})
        config.setdefault("default_model_filename", self.config.default_model_filename)
        return config

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Run the backend.

        Args:
            payload: a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            The outputs the request asked for (every configured one when it named none).
        """
        if self._backend is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        if not isinstance(payload, InferRequest):
            raise InvalidInput(
                f"model {self.name}: Triton models speak the V2 protocol; POST /v2/models/{self.name}/infer "
                'with {"inputs": [{"name", "shape", "datatype", "data"}]}'
            )
        inputs = {t.name: t.as_numpy() for t in payload.inputs}
        known = {t.name for t in self.config.inputs}
        missing = sorted(known - set(inputs))
        if missing:
            raise InvalidInput(f"model {self.name}: missing input(s) {', '.join(missing)}")
        wanted = [o.name for o in payload.request_outputs or []]
        request_id = payload.id or str(uuid.uuid4())
        arrays = self._backend.run(inputs, wanted, request_id)
        declared = {t.name: t.datatype for t in self.config.outputs}
        outputs = []
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            out = InferOutput(name, list(arr.shape), declared.get(name) or datatype_of(arr))
            out.set_data_from_numpy(arr)
            outputs.append(out)
        return InferResponse(payload.id, self.name, outputs, model_version=self.version)


class TritonRepository(Model):
    """A Triton model repository folder: ``<model>/config.pbtxt`` and ``<model>/<version>/model.*``.

    Args:
        name: the ``--model_name`` (unused: models keep their folder names, as in Triton).
        model_dir: the repository folder (or one model's folder) or a storage URI.
        storage: resolves URIs.
    """

    def __init__(self, name: str, model_dir: Path | str, storage: ModelStorage | None = None) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self._storage = storage
        self._members: list[Model] | None = None

    def served_models(self) -> list[Model]:
        """One :class:`TritonModel` per model folder (its newest version the policy selects).

        Raises:
            ModelMissingError: no folder with a ``config.pbtxt``.
            ModelFormatError: a config is malformed or names an unsupported backend.
        """
        if self._members is not None:
            return self._members
        where = self.model_dir
        if isinstance(where, str) and "://" in where:
            root = (self._storage or ModelStorage()).resolve(where)
        else:
            root = Path(where)
        if not root.is_dir():
            raise ModelMissingError(f"triton: model repository {root} does not exist")
        folders = (
            [root]
            if (root / "config.pbtxt").is_file()
            else sorted(p for p in root.iterdir() if p.is_dir() and (p / "config.pbtxt").is_file())
        )
        if not folders:
            raise ModelMissingError(
                f"triton: {root} holds no model folder with a config.pbtxt "
                "(expected <repository>/<model>/config.pbtxt and <repository>/<model>/1/model.onnx|pt|py)"
            )
        members: list[Model] = []
        for folder in folders:
            config = read_model_config(folder)
            if folder is not root and config.raw.get("name") and config.name != folder.name:
                raise ModelFormatError(
                    f"triton: {folder}/config.pbtxt: name {config.name!r} must match its folder "
                    f"{folder.name!r}"
                )
            versions = select_versions(folder, config)
            if len(versions) > 1:
                _log.info("triton: model %s: serving version %d of %s", config.name, versions[0], versions)
            members.append(TritonModel(folder, config, versions[0]))
        self._members = members
        return members

    def load(self) -> bool:
        """Triton repositories are served through :meth:`served_models`."""
        raise ModelFormatError(
            f"triton: {self.model_dir} is a model repository; serve it with `zeroserve serve triton`"
        )


def build_triton(
    name: str, model_dir: Path | str | None, options: Mapping[str, Any], storage: ModelStorage | None = None
) -> Model:
    """The runtime registry's factory of ``triton``."""
    if model_dir is None:
        raise ModelFormatError("triton: a model repository (--model-dir or --storage-uri) is required")
    if options:
        raise RuntimeOptionsError(f"triton: unknown option(s) {', '.join(sorted(options))}; triton has none")
    return TritonRepository(name, model_dir, storage)
