"""Fixtures of the engine tests: short autoscaler windows and a stand-in image."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from zeroserve.local.engine.engine import Engine
from zeroserve.local.engine.images import ImageTable
from zeroserve.local.engine.settings import EngineSettings

STANDIN = Path(__file__).with_name("standin_server.py")
STANDIN_IMAGE = "test.local/standin:latest"


def fast_settings(**overrides: object) -> EngineSettings:
    """Engine settings with windows short enough for tests."""
    values: dict[str, object] = {
        "stable_window": 1.0,
        "scale_to_zero_grace_period": 0.5,
        "tick_interval": 0.1,
        "metric_bucket": 0.1,
        "restart_backoff_initial": 0.2,
        "use_zygote": False,
        "gpus": [],
        "ready_timeout": 30.0,
        "activator_deadline": 30.0,
    }
    values.update(overrides)
    return EngineSettings(**values)  # type: ignore[arg-type]


def standin_images() -> ImageTable:
    """The packaged image table plus the stand-in image."""
    table = ImageTable.load()
    table.add(STANDIN_IMAGE, ["python", str(STANDIN)])
    return table


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    """A started engine (gateway on a free port, no zygote) that knows the stand-in image."""
    eng = Engine(fast_settings(), tmp_path, images=standin_images(), resolve_model=lambda uri: Path(uri))
    await eng.start("127.0.0.1", 0)
    try:
        yield eng
    finally:
        await eng.stop()


def python() -> str:
    return sys.executable
