"""TorchServe models: one :class:`TorchServeModel` per archive, and :class:`TorchServeRepository`, the
``zeroserve serve torchserve`` runtime that turns a KServe ``pytorch`` model folder into them.

Requests reach the handler as TorchServe's KServe envelopes pass them: V1 ``instances`` are the batch
rows (each row as sent); TorchServe's own body (``{"data": ...}``) is one row ``{"data", "body"}``; a
V2 request with one input gives the rows of that tensor, several inputs one row per input (its data).
The handler's list is V1 ``predictions`` or the V2 output ``predict``. A snapshot ``batchSize > 1``
batches as TorchServe does: the server joins concurrent requests' rows (up to ``batchSize``, waiting
``maxBatchDelay`` ms at most) into one ``handle`` call.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from zeroserve.servers.batching import BatchConfig
from zeroserve.servers.errors import InferenceError, InvalidInput
from zeroserve.servers.model import Model
from zeroserve.servers.runtimes.errors import ModelFormatError, ModelMissingError
from zeroserve.servers.runtimes.torchserve.archive import open_archive
from zeroserve.servers.runtimes.torchserve.context import Context
from zeroserve.servers.runtimes.torchserve.handlers import Handler, load_handler
from zeroserve.servers.runtimes.torchserve.properties import SnapshotModel, read_config
from zeroserve.servers.storage import ModelStorage
from zeroserve.servers.tensors import datatype_of
from zeroserve.servers.types import InferOutput, InferRequest, InferResponse

__all__ = ["TorchServeModel", "TorchServeRepository", "build_torchserve"]

_log = logging.getLogger(__name__)


class TorchServeModel(Model):
    """One ``.mar`` served under its ``modelName``.

    Args:
        archive_path: the ``.mar`` file.
        snapshot: its ``model_snapshot`` entry, when the config names one.
        gpu_id: the GPU index handlers see (``None``: CPU).
    """

    def __init__(self, archive_path: Path, snapshot: SnapshotModel | None = None, gpu_id: int | None = None):
        self.archive = open_archive(archive_path)
        super().__init__(snapshot.name if snapshot else self.archive.name)
        self.snapshot = snapshot
        self.version = snapshot.version if snapshot else self.archive.version
        self.platform = "torchserve"
        self.context = Context(
            self.name,
            str(self.archive.model_dir),
            self.archive.manifest,
            snapshot.batch_size if snapshot else 1,
            gpu_id,
        )
        self._handle: Handler | None = None
        if snapshot is not None and snapshot.batch_size > 1:
            # TorchServe's batchSize / maxBatchDelay: the server joins requests' rows into one handle()
            self.batching = BatchConfig(snapshot.batch_size, float(snapshot.max_batch_delay_ms))

    def load(self) -> bool:
        """Import and initialise the archive's handler."""
        self._handle = load_handler(self.archive, self.context)
        self.ready = True
        return True

    def stop(self) -> None:
        """Remove the extracted archive."""
        shutil.rmtree(self.archive.model_dir, ignore_errors=True)

    def _rows(self, payload: Any) -> list[Any]:
        if isinstance(payload, InferRequest):
            if not payload.inputs:
                raise InvalidInput(f"model {self.name}: request has no inputs")
            if len(payload.inputs) == 1:
                return list(payload.inputs[0].as_numpy().tolist())
            return [np.asarray(t.as_numpy()).reshape(-1).tolist() for t in payload.inputs]
        if not isinstance(payload, dict):
            raise InvalidInput(f"model {self.name}: expected a JSON object with instances or data")
        if "instances" in payload:
            rows = payload["instances"]
            if not isinstance(rows, list):
                raise InvalidInput(f"model {self.name}: instances must be a list")
            return rows
        if "data" in payload:
            return [{"data": payload["data"], "body": payload}]
        raise InvalidInput(
            f'model {self.name}: expected "instances" (KServe V1) or "data" (TorchServe) in the body, '
            f"got keys: {', '.join(map(str, payload)) or 'none'}"
        )

    async def explain(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Run the handler as TorchServe's explanations API does (``explain: True`` in its context).

        Returns:
            ``{"explanations": [...]}`` (KServe's torchserve answer).

        Raises:
            InvalidInput: the handler has no ``get_insights`` (the message says so).
        """
        try:
            answer = self._run(payload, {**(headers or {}), "explain": "True"})
        except NotImplementedError as exc:
            raise InvalidInput(f"model {self.name}: cannot explain: {exc}") from None
        return {"explanations": answer}

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Run the handler on the request's rows.

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            headers: the request headers (visible to the handler through its context).

        Returns:
            ``{"predictions": [...]}`` for V1, an ``InferResponse`` with output ``predict`` for V2.
        """
        predictions = self._run(payload, headers)
        if not isinstance(payload, InferRequest):
            return {"predictions": predictions}
        arr = np.asarray(predictions)
        if arr.dtype == object or arr.dtype.kind in "US":
            arr = np.asarray([str(p) for p in predictions], dtype=object)
        out = InferOutput("predict", list(arr.shape), datatype_of(arr))
        out.set_data_from_numpy(arr)
        return InferResponse(payload.id or str(uuid.uuid4()), self.name, [out], model_version=self.version)

    def _run(self, payload: Any, headers: Mapping[str, str] | None) -> list[Any]:
        if self._handle is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        rows = self._rows(payload)
        request_id = payload.id if isinstance(payload, InferRequest) and payload.id else str(uuid.uuid4())
        self.context.begin(headers, len(rows), request_id)
        try:
            result = self._handle(rows, self.context)
        except NotImplementedError:
            raise
        except (TypeError, ValueError, RuntimeError, KeyError, IndexError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InvalidInput(f"model {self.name}: the handler rejected the input: {first}") from exc
        for code, phrase in self.context.response_status.values():
            if code >= 400:
                cls = InvalidInput if code < 500 else InferenceError
                raise cls(f"model {self.name}: the handler answered {code}: {phrase or 'error'}")
        if result is None:
            raise InferenceError(f"model {self.name}: the handler returned nothing")
        return list(result) if isinstance(result, (list, tuple)) else [result]


class TorchServeRepository(Model):
    """A KServe ``pytorch`` model folder: ``model-store/*.mar`` and ``config/config.properties``.

    :meth:`served_models` reads the folder and returns the models to serve: every archive named by
    the ``model_snapshot`` (its default version), or every ``.mar`` when there is no snapshot. A folder
    with no ``.mar`` but a TorchScript ``*.pt`` is served by the ``torchscript`` runtime (logged once).

    Args:
        name: the ``--model_name`` (used only for a bare TorchScript file).
        model_dir: the model folder or a storage URI.
        options: runtime options (``device`` for the TorchScript fallback, ``gpu_id``).
        storage: resolves URIs.
    """

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: Mapping[str, Any] | None = None,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name)
        self.model_dir = model_dir
        self.options = dict(options or {})
        self._storage = storage
        self._members: list[Model] | None = None
        self._single: Any = None

    def _local(self) -> Path:
        where = self.model_dir
        if isinstance(where, str) and "://" in where:
            return (self._storage or ModelStorage()).resolve(where)
        return Path(where)

    def served_models(self) -> list[Model]:
        """The models this folder holds (not yet loaded).

        Raises:
            ModelMissingError: the folder holds no archive and no TorchScript file.
            ModelFormatError: an archive is malformed or the snapshot names a missing one.
        """
        if self._members is not None:
            return self._members
        root = self._local()
        if not root.is_dir():
            raise ModelMissingError(f"torchserve: model folder {root} does not exist")
        config = read_config(root)
        archives = sorted(config.model_store.glob("*.mar")) if config.model_store.is_dir() else []
        gpu = self.options.get("gpu_id")
        if gpu in (None, "") and config.properties.get("number_of_gpu", "0").strip() not in ("", "0"):
            gpu = 0  # TorchServe's number_of_gpu: handlers get gpu_id 0 (used when CUDA is available)
        try:
            gpu_id = int(gpu) if gpu not in (None, "") else None
        except (TypeError, ValueError):
            raise ModelFormatError(f"torchserve: gpu_id must be an integer, got {gpu!r}") from None
        if not archives:
            self._members = [self._torchscript_fallback(root, config.model_store)]
            return self._members
        members: list[Model] = []
        if config.models:
            for entry in config.models:
                path = config.model_store / entry.mar_name
                if not path.is_file():
                    raise ModelFormatError(
                        f"torchserve: config.properties model_snapshot.models.{entry.name}.{entry.version}"
                        f".marName {entry.mar_name!r} is not in {config.model_store} (found: "
                        f"{', '.join(a.name for a in archives)})"
                    )
                if entry.batch_size > 1:
                    _log.info(
                        "torchserve: model %s batches up to %d rows, waiting %d ms at most",
                        entry.name,
                        entry.batch_size,
                        entry.max_batch_delay_ms,
                    )
                members.append(TorchServeModel(path, entry, gpu_id))
        else:
            members = [TorchServeModel(path, None, gpu_id) for path in archives]
        self._members = members
        return members

    def _torchscript_fallback(self, root: Path, store: Path) -> Model:
        from zeroserve.servers.runtimes.pytorch import TorchScriptModel

        if not any(root.rglob("*.pt")):
            raise ModelMissingError(
                f"torchserve: no model archive (*.mar) in {store} and no TorchScript model.pt in {root}; "
                "KServe's pytorch format wants model-store/NAME.mar and config/config.properties"
            )
        _log.info(
            "torchserve: %s has no model-store/*.mar but a TorchScript file: serving it as torchscript",
            root,
        )
        known = {k: v for k, v in self.options.items() if k in ("device", "input_dtype", "num_threads")}
        return TorchScriptModel.from_options(self.name, root, known, self._storage)

    def load(self) -> bool:
        """Load a folder that holds exactly one model and answer for it under this object's name.

        ``zeroserve serve torchserve`` serves :meth:`served_models` instead (each under its own
        name); this path serves callers that load one model per folder (the repository extension).
        """
        members = self.served_models()
        if len(members) != 1:
            raise ModelFormatError(
                f"torchserve: {self.model_dir} holds {len(members)} models "
                f"({', '.join(m.name for m in members)}); serve it with `zeroserve serve torchserve`, "
                "which serves each under its own name"
            )
        self._single = members[0]
        self._single.load()
        self.ready = True
        return True

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Answer with the folder's single model (after :meth:`load`)."""
        if self._single is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        return self._single.predict(payload, headers)


def build_torchserve(
    name: str,
    model_dir: Path | str | None,
    options: Mapping[str, Any],
    storage: ModelStorage | None = None,
) -> Model:
    """The runtime registry's factory of ``torchserve``."""
    if model_dir is None:
        raise ModelFormatError("torchserve: a model folder (--model-dir or --storage-uri) is required")
    unknown = sorted(set(options) - {"gpu_id", "device", "input_dtype", "num_threads"})
    if unknown:
        from zeroserve.servers.runtimes.errors import RuntimeOptionsError

        raise RuntimeOptionsError(
            f"torchserve: unknown option(s) {', '.join(unknown)}; "
            "known: device, gpu_id, input_dtype, num_threads"
        )
    return TorchServeRepository(name, model_dir, options, storage)
