"""Fixtures of the Seldon wrapper tests (helpers in ``seldon_support``)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from seldon_support import COMPONENTS, Component, start_components, stop_process


@pytest.fixture(scope="session")
def components() -> Iterator[dict[str, Component]]:
    """Every example, served by ``seldon-core-microservice`` (one process each)."""
    with tempfile.TemporaryDirectory(prefix="zeroserve-seldon-") as tmp:
        running = start_components(COMPONENTS, Path(tmp))
        try:
            yield running
        finally:
            for component in running.values():
                stop_process(component.process)


@pytest.fixture(scope="session")
def wrapper_schema(shared_specs: Path) -> dict[str, Any]:
    """Seldon's ``wrapper.oas3.json`` (the test skips without ``../shared``)."""
    return dict(json.loads((shared_specs / "seldon" / "wrapper.oas3.json").read_text()))
