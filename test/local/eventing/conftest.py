"""Fixtures for the broker tests: real servers on port 0 and CloudEvents subscribers.

The servers and the sink are ``zeroserve.logger.testing``'s (shared with the logger's tests).
"""

from __future__ import annotations

import pytest

from zeroserve.logger.testing import EventSink, RunningServer, serve

__all__ = ["EventSink", "RunningServer", "serve"]


@pytest.fixture
def sink() -> EventSink:
    return EventSink()
