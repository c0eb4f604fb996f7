"""Small models built on the spot, one module per model format, for tests, benchmarks and demos.

Each module ``zeroserve.servers.samples.<format>`` has ``build(folder: Path) -> Sample``: it trains or writes
a tiny model (iris-sized; no downloads) into ``folder`` in the layout its runtime expects and returns what
a request for it should look like and what the framework itself predicted in-process, so a test can check
a served answer against the framework's own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Sample"]


@dataclass(frozen=True)
class Sample:
    """A model written to a folder, with a request for it and the answer the framework gave in-process."""

    model_format: str
    """``modelFormat.name`` as an InferenceService names it (``lightgbm``, ``onnx``, ...)."""
    model_dir: Path
    """The folder to point ``storageUri`` / ``--model_dir`` at."""
    v1_request: dict[str, Any]
    """A KServe V1 body: ``{"instances": [...]}``."""
    v2_request: dict[str, Any] | None
    """An Open Inference Protocol body (``{"inputs": [...]}``), or None when the runtime has no V2."""
    expected: list[Any]
    """The predictions, row by row, that the framework computed in-process for ``v1_request``."""
    tolerance: float = 1e-5
    """Absolute tolerance when comparing numbers."""
    runtime: str = ""
    """The KServe runtime name that serves it (``kserve-lgbserver``), when there is one."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything format-specific a test may need (e.g. the V2 output name)."""
