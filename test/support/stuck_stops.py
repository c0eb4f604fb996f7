"""A pytest plugin that lists, at the end of the run, every stop that had to be cut short.

``zeroserve.process.stopping.finish_within`` cancels a stop that passes its limit and logs where it
waited. The test that caused it still passes (the bound did its job), so the warning would vanish
with the test's captured output; this plugin keeps it and prints it in the run's summary.
"""

from __future__ import annotations

import logging

import pytest

__all__ = ["StuckStops"]

_MARK = "did not finish within"


class _Collector(logging.Handler):
    def __init__(self, owner: StuckStops) -> None:
        super().__init__(logging.WARNING)
        self.owner = owner

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if _MARK in message:
            self.owner.found.append((self.owner.current, message))


class StuckStops:
    """Collects the bounded stops' warnings per test."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []
        self.current = "(outside a test)"
        self._handler = _Collector(self)
        logging.getLogger("zeroserve").addHandler(self._handler)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logstart(self, nodeid: str, location: object) -> None:
        self.current = nodeid

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if not self.found:
            return
        terminalreporter.section("stops cut short")
        for nodeid, message in self.found:
            terminalreporter.line(f"{nodeid}: {message}")
