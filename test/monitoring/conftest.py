"""Fixtures for the detector tests: real servers on port 0 and a CloudEvents sink.

The servers and the sink are ``zeroserve.logger.testing``'s (shared with the payload logger's and
the broker's tests); the sink parses with the ``cloudevents`` library, so the wire format is
checked independently of zeroserve's codec.
"""

from __future__ import annotations

import pytest

from zeroserve.logger.testing import EventSink, RunningServer, serve

__all__ = ["EventSink", "RunningServer", "serve"]


@pytest.fixture
def sink() -> EventSink:
    return EventSink()
