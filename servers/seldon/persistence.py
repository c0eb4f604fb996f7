"""``--persistence 1``: the user object pickled to a private file, restored at the next start.

Seldon keeps it in Redis; we keep it in the platform's state folder,
``$ZEROSERVE_HOME/seldon/<name>/component.pickle`` (``~/.zeroserve`` without the variable), or in
the folder given with ``--persistence-path``. Saves happen every ``period`` seconds and once at
shutdown; each is written to a ``0600`` temporary file in the same folder and renamed over the old
one, so a crash mid-write never leaves a torn file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import tempfile
import threading
from pathlib import Path
from typing import Any

from zeroserve.process.private import private_folder

__all__ = ["Persistence", "default_folder"]

_log = logging.getLogger(__name__)
_FILE = "component.pickle"


def default_folder(name: str) -> Path:
    """``$ZEROSERVE_HOME/seldon/<name>`` (``~/.zeroserve`` when the variable is unset)."""
    home = os.environ.get("ZEROSERVE_HOME") or str(Path.home() / ".zeroserve")
    return Path(home) / "seldon" / (name or "component")


class Persistence:
    """Saves and restores one object.

    Args:
        folder: where the pickle lives (created ``0700``).
        period: seconds between periodic saves.
    """

    def __init__(self, folder: Path, period: float = 60.0) -> None:
        self.folder = folder
        self.path = folder / _FILE
        self.period = period
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.saves = 0

    def restore(self) -> Any | None:
        """The saved object, or ``None`` when nothing was saved (or it cannot be read back)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            obj = pickle.loads(data)
        except Exception as exc:
            _log.warning("ignoring the saved component %s: it cannot be unpickled (%s)", self.path, exc)
            return None
        _log.info("restored the component from %s", self.path)
        return obj

    def save(self, obj: Any) -> bool:
        """Write ``obj`` atomically (``0600``); ``False`` (logged) when it cannot be pickled now."""
        try:
            data = pickle.dumps(obj)
        except Exception as exc:  # e.g. mutated while pickling, or holds an unpicklable member
            _log.warning("could not pickle the component for persistence: %s", exc)
            return False
        with self._lock:
            private_folder(self.folder, tighten=False)
            fd, tmp = tempfile.mkstemp(prefix=".component-", dir=self.folder)  # mode 0600
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            self.saves += 1
        return True

    def start(self, obj: Any) -> None:
        """Save ``obj`` every ``period`` seconds in a background thread until :meth:`stop`."""
        if self._thread is not None:
            return

        def loop() -> None:
            while not self._stop.wait(self.period):
                self.save(obj)

        self._thread = threading.Thread(target=loop, name="seldon-persistence", daemon=True)
        self._thread.start()

    def stop(self, obj: Any) -> None:
        """Stop the periodic saves and save ``obj`` one last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.save(obj)
