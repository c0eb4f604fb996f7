"""Download progress: counts bytes and emits a structured log line at most every few seconds.

The clock is injected, so tests drive the interval without sleeping.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DownloadProgress", "ProgressReporter", "log_progress"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadProgress:
    """A snapshot of one download."""

    uri: str
    """The URI (or object) being downloaded."""
    bytes: int
    """Bytes received so far."""
    total: int | None
    """Expected size in bytes when the store told us, else ``None``."""
    done: bool = False
    """``True`` on the final snapshot."""

    @property
    def percent(self) -> float | None:
        """Percentage received, or ``None`` when the total is unknown."""
        if not self.total:
            return None
        return round(100.0 * self.bytes / self.total, 1)


def log_progress(progress: DownloadProgress) -> None:
    """Default progress sink: one ``INFO`` line with ``uri``, ``bytes``, ``total`` and ``percent`` fields.

    Args:
        progress: the snapshot to log.
    """
    percent = progress.percent
    text = f"{percent:.1f}%" if percent is not None else "?%"
    _LOG.info(
        "%s %s: %d/%s bytes (%s)",
        "downloaded" if progress.done else "downloading",
        progress.uri,
        progress.bytes,
        progress.total if progress.total is not None else "?",
        text,
        extra={
            "uri": progress.uri,
            "bytes": progress.bytes,
            "total": progress.total,
            "percent": percent,
            "done": progress.done,
        },
    )


class ProgressReporter:
    """Accumulates the bytes of one download and reports at most once per interval, plus at the end.

    Args:
        uri: what is downloaded, repeated in every report.
        total: expected size in bytes, if known.
        sink: called with each snapshot; :func:`log_progress` by default.
        interval: minimum seconds between two reports (the first and the final one always go out).
        clock: monotonic time source in seconds.
    """

    def __init__(
        self,
        uri: str,
        total: int | None = None,
        *,
        sink: Callable[[DownloadProgress], None] = log_progress,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.uri = uri
        self.total = total
        self.received = 0
        self._sink = sink
        self._interval = interval
        self._clock = clock
        self._last: float | None = None

    def advance(self, n: int) -> None:
        """Count ``n`` more bytes and report if the interval has passed.

        Args:
            n: bytes just received.
        """
        self.received += n
        now = self._clock()
        if self._last is None or now - self._last >= self._interval:
            self._last = now
            self._sink(DownloadProgress(self.uri, self.received, self.total))

    def finish(self) -> None:
        """Send the final report."""
        self._sink(DownloadProgress(self.uri, self.received, self.total, done=True))
