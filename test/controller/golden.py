"""Golden files: compare a built object with ``test/controller/golden/<name>.yaml``.

Run with ``ZEROSERVE_UPDATE_GOLDEN=1`` to (re)write the files after an intended change, then review
the diff like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

GOLDEN = Path(__file__).parent / "golden"


def assert_golden(name: str, documents: list[dict[str, Any]]) -> None:
    """Assert ``documents`` equal the golden file ``name`` (or rewrite it when updating)."""
    path = GOLDEN / f"{name}.yaml"
    text = yaml.safe_dump_all(documents, sort_keys=False, width=120)
    if os.environ.get("ZEROSERVE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} missing: run with ZEROSERVE_UPDATE_GOLDEN=1 to create it"
    expected = list(yaml.safe_load_all(path.read_text()))
    assert documents == expected, f"{name}: differs from {path} (ZEROSERVE_UPDATE_GOLDEN=1 rewrites it)"
