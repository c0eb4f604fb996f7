"""``zeroserve up --trace``: the collector's URL in platform.json, and ``zeroserve traces`` finding it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from zeroserve.local.testing import platform_process

pytestmark = [pytest.mark.e2e]


def _traces(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "zeroserve", "traces", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_up_trace_publishes_its_collector_and_traces_reads_it(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with platform_process(state, components=[], args=["--trace"]) as platform:
        url = str(platform.info["extra"]["traces"])
        one_span = {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "ab" * 16,
                                    "spanId": "cd" * 8,
                                    "name": "hello",
                                    "startTimeUnixNano": "1000000",
                                    "endTimeUnixNano": "4000000",
                                }
                            ]
                        }
                    ]
                }
            ]
        }
        assert httpx.post(f"{url}/v1/traces", json=one_span, trust_env=False).status_code == 200
        listed = _traces("--state-dir", str(state))
        shown = _traces("--state-dir", str(state), "abababab")
    assert listed.returncode == 0 and "ab" * 16 in listed.stdout and "hello [unknown]" in listed.stdout
    assert shown.returncode == 0 and "3.00 ms  hello" in shown.stdout
    gone = _traces("--state-dir", str(state))
    assert gone.returncode == 1 and "zeroserve up --trace" in gone.stderr
