"""The skip budget: how many tests skipped, why, and whether that exceeds the allowed share.

A suite that skips quietly tests less than it claims. ``test/conftest.py`` prints a
:class:`SkipSummary` at the end of every run and fails the run when the share of skipped tests is over
``ZEROSERVE_MAX_SKIP_SHARE`` (default :data:`DEFAULT_MAX_SHARE`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

import pytest

MAX_SHARE_ENV = "ZEROSERVE_MAX_SKIP_SHARE"
DEFAULT_MAX_SHARE = 0.02


def max_share_from_env(environ: dict[str, str] | None = None) -> float:
    """The allowed share of skipped tests: ``$ZEROSERVE_MAX_SKIP_SHARE`` or 0.02.

    Raises:
        ValueError: The variable is not a number between 0 and 1, with the value it had.
    """
    raw = (os.environ if environ is None else environ).get(MAX_SHARE_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_SHARE
    try:
        share = float(raw)
    except ValueError:
        raise ValueError(f"{MAX_SHARE_ENV}={raw!r} is not a number (a share such as 0.02)") from None
    if not 0 <= share <= 1:
        raise ValueError(f"{MAX_SHARE_ENV}={raw!r} must be between 0 and 1 (a share such as 0.02)")
    return share


@dataclass
class SkipSummary:
    """Skips of one run, counted by reason.

    Attributes:
        total: Tests the run ran or skipped (collected and not deselected).
        reasons: Skipped tests by reason.
    """

    total: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        """How many tests skipped."""
        return sum(self.reasons.values())

    @property
    def share(self) -> float:
        """The skipped share of the run (0 for an empty run)."""
        return self.skipped / self.total if self.total else 0.0

    def lines(self) -> list[str]:
        """The report: the count and share, then each reason with its count, most frequent first."""
        head = f"{self.skipped} of {self.total} tests skipped ({self.share:.1%})"
        return [head, *(f"{count:5d}  {reason}" for reason, count in self.reasons.most_common())]

    def over_budget(self, max_share: float) -> str | None:
        """The failure message when more than ``max_share`` of the run skipped, else None."""
        if self.share <= max_share:
            return None
        return (
            f"{self.skipped} of {self.total} tests skipped ({self.share:.1%}), over the allowed "
            f"{max_share:.1%} ({MAX_SHARE_ENV}); reasons above"
        )


class SkipBudget:
    """A pytest plugin: counts skipped tests by reason, prints them and enforces the budget.

    Args:
        max_share: The share of the run allowed to skip; more fails the run.
    """

    def __init__(self, max_share: float) -> None:
        self.max_share = max_share
        self.summary = SkipSummary()
        self.verdict: str | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Count a skipped test (not an expected failure, not a subtest) under its reason."""
        if not report.skipped or hasattr(report, "wasxfail") or hasattr(report, "context"):
            return
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        self.summary.reasons[reason.removeprefix("Skipped: ")] += 1

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Judge the run; over budget, a run that otherwise passed fails."""
        self.summary.total = session.testscollected
        self.verdict = self.summary.over_budget(self.max_share)
        if self.verdict is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        """Print the skip count, its share and every reason with its count, then the verdict."""
        if self.summary.total == 0:
            return
        terminalreporter.section("skip budget")
        for line in self.summary.lines():
            terminalreporter.line(line)
        if self.verdict is not None:
            terminalreporter.line(self.verdict, red=True, bold=True)
