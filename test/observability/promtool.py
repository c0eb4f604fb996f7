"""``promtool check metrics`` over a scraped exposition (skips with the reason when promtool is absent)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

__all__ = ["promtool_lint"]


def promtool_lint(text: bytes, where: str) -> None:
    """Fail with promtool's findings when ``text`` does not pass ``promtool check metrics``.

    Args:
        text: a Prometheus text exposition.
        where: which component served it (named in the failure).
    """
    binary = shutil.which("promtool")
    if binary is None:
        pytest.skip("promtool not found (hack/install-system.sh installs Debian's prometheus package)")
    command = [binary, "check", "metrics"]
    done = subprocess.run(command, input=text, capture_output=True, timeout=30, check=False)
    findings = (done.stdout + done.stderr).decode().strip()
    assert done.returncode == 0 and not findings, f"promtool check metrics on {where}'s /metrics:\n{findings}"
