"""The PMML model server runtime: one ``model.pmml`` (any ``*.pmml``) per model folder.

Requests (KServe's pmmlserver takes rows of values in the model's input-field order):

- V1 ``instances`` as rows in mining-schema order, as records ``{field: value}``, or columnar
  ``inputs: {field: [...]}``;
- V2 one ``[N, F]`` tensor (fields in order) or one input per field.

Answers: V1 ``{"predictions": [{<target>: value, <output field>: value, ...}, ...]}`` (one object
per row, as KServe's pmmlserver); V2 one output per result field (numbers ``FP64``, others
``BYTES``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydantic_settings import BaseSettings, SettingsConfigDict

from zeroserve.servers.errors import InvalidInput
from zeroserve.servers.predict_io import get_predict_input
from zeroserve.servers.runtimes.base import FileModel
from zeroserve.servers.runtimes.errors import ModelFormatError
from zeroserve.servers.runtimes.pmml.document import PMMLError
from zeroserve.servers.runtimes.pmml.reader import InvalidRecord, PMMLDocument
from zeroserve.servers.storage import ModelStorage
from zeroserve.servers.types import InferOutput, InferRequest, InferResponse

__all__ = ["PMMLModel", "PMMLOptions"]


class PMMLOptions(BaseSettings):
    """Options of the PMML runtime (none yet; env prefix ``ZEROSERVE_PMML_``)."""

    model_config = SettingsConfigDict(env_prefix="ZEROSERVE_PMML_", populate_by_name=True, extra="forbid")


class PMMLModel(FileModel):
    """Serves a PMML document with the pure-Python reader.

    Args:
        name: the model's name.
        model_dir: folder (or file, or storage URI) holding exactly one ``*.pmml`` file.
        options: runtime options.
        storage: resolves ``model_dir`` when it is a URI.
    """

    runtime = "pmml"
    platform = "pmml"
    patterns = ("*.pmml",)
    options_class = PMMLOptions
    options: PMMLOptions

    def __init__(
        self,
        name: str,
        model_dir: Path | str,
        options: PMMLOptions | None = None,
        *,
        storage: ModelStorage | None = None,
    ) -> None:
        super().__init__(name, model_dir, options, storage=storage)
        self.document: PMMLDocument | None = None

    def load_file(self, path: Path) -> None:
        try:
            self.document = PMMLDocument.from_file(path)
        except PMMLError as exc:
            raise ModelFormatError(f"pmml: {path}: {exc}") from None

    def records(self, payload: Any) -> list[dict[str, Any]]:
        """The request's rows as ``{field: value}`` records."""
        assert self.document is not None
        fields = self.document.active_fields
        if isinstance(payload, InferRequest) and len(payload.inputs) > 1:
            columns = {t.name: _plain(t.as_numpy()).reshape(-1).tolist() for t in payload.inputs}
            return _from_columns(self.name, columns, fields)
        if (
            isinstance(payload, dict)
            and isinstance(payload.get("inputs"), dict)
            and "instances" not in payload
        ):
            return _from_columns(self.name, payload["inputs"], fields)
        data = get_predict_input(payload)
        rows = _plain(data).tolist() if isinstance(data, np.ndarray) else list(data)
        if rows and not isinstance(rows[0], (list, dict)) and len(rows) == len(fields):
            rows = [rows]  # one instance as a flat row
        out = []
        for i, row in enumerate(rows):
            if isinstance(row, dict):
                unknown = sorted(set(row) - set(fields))
                if unknown:
                    raise InvalidInput(
                        f"model {self.name}: instance {i} has unknown field(s) {unknown}; fields: {fields}"
                    )
                out.append(row)
            elif isinstance(row, list) and len(row) == len(fields):
                out.append(dict(zip(fields, row, strict=True)))
            else:
                got = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
                raise InvalidInput(
                    f"model {self.name}: instance {i} must be {len(fields)} values in the order {fields} "
                    f"or an object {{field: value}}, got {got}"
                )
        return out

    def predict(self, payload: Any, headers: Mapping[str, str] | None = None) -> Any:
        """Score every row.

        Args:
            payload: a V1 dict or a V2 ``InferRequest``.
            headers: the request headers (unused).

        Returns:
            ``{"predictions": [{...}, ...]}`` for V1, an ``InferResponse`` with one output per
            result field for V2.
        """
        if self.document is None:
            raise RuntimeError(f"model {self.name} is not loaded")
        results = []
        for i, record in enumerate(self.records(payload)):
            try:
                results.append(self.document.evaluate(record))
            except InvalidRecord as exc:
                raise InvalidInput(f"model {self.name}: instance {i}: {exc}") from None
        if not isinstance(payload, InferRequest):
            return {"predictions": results}
        names = list(results[0]) if results else []
        outputs = []
        for name in names:
            column = [r.get(name) for r in results]
            if all(isinstance(v, (int, float)) or v is None for v in column):
                arr = np.array([np.nan if v is None else v for v in column], dtype=np.float64)
                tensor = InferOutput(name, [len(column)], "FP64")
            else:
                arr = np.array(["" if v is None else str(v) for v in column], dtype=object)
                tensor = InferOutput(name, [len(column)], "BYTES")
            tensor.set_data_from_numpy(arr)
            outputs.append(tensor)
        return InferResponse(payload.id or str(uuid.uuid4()), self.name, outputs)


def _plain(arr: np.ndarray) -> np.ndarray:
    if arr.dtype.kind in "SO":
        flat = [x.decode() if isinstance(x, bytes) else x for x in arr.ravel()]
        return np.array(flat, dtype=object).reshape(arr.shape)
    return arr


def _from_columns(model: str, columns: Mapping[str, Any], fields: list[str]) -> list[dict[str, Any]]:
    unknown = sorted(set(columns) - set(fields))
    if unknown:
        raise InvalidInput(f"model {model}: unknown field(s) {unknown}; the model's fields are {fields}")
    lengths = {k: len(v) if isinstance(v, list) else -1 for k, v in columns.items()}
    if len(set(lengths.values())) != 1 or -1 in lengths.values():
        raise InvalidInput(f"model {model}: each field must be a list of values of one length, got {lengths}")
    n = next(iter(lengths.values()), 0)
    return [{k: v[i] for k, v in columns.items()} for i in range(n)]
