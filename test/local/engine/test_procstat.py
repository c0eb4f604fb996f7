"""Process CPU/memory readings and resource quantities."""

from __future__ import annotations

import os

import pytest

from zeroserve.local.engine.procstat import cpu_seconds, parse_cpu, parse_memory_mib, rss_mib


@pytest.mark.parametrize(("text", "cores"), [("500m", 0.5), ("2", 2.0), (1.5, 1.5), ("", 1.0), ("bad", 1.0)])
def test_parse_cpu(text: object, cores: float) -> None:
    assert parse_cpu(text) == pytest.approx(cores)


@pytest.mark.parametrize(
    ("text", "mib"), [("512Mi", 512), ("2Gi", 2048), ("1048576", 1), ("1M", 1e6 / 2**20), ("x", 0.0)]
)
def test_parse_memory(text: str, mib: float) -> None:
    assert parse_memory_mib(text) == pytest.approx(mib)


def test_readings_of_this_process() -> None:
    used = cpu_seconds(os.getpid())
    rss = rss_mib(os.getpid())
    assert used is not None and used > 0
    assert rss is not None and rss > 1
    assert cpu_seconds(2**22 + 7) is None
