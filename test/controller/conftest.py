"""Fixtures of the controller tests: a fake clock and the in-memory API store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .memstore import MemStore


class FakeClock:
    """A clock tests advance by hand; gives both monotonic seconds and UTC datetimes."""

    def __init__(self) -> None:
        self.seconds = 1000.0
        self._epoch = datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self._epoch + timedelta(seconds=self.seconds)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store() -> MemStore:
    return MemStore()
