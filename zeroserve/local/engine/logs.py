"""Where instance logs live, and how ``zeroserve logs <isvc|ksvc|revision>`` finds them.

Layout: ``<state_dir>/engine/logs/<namespace>/<revision>/instance-<n>.log`` (one file per instance
started, appended across restarts of the same slot) and ``init-<container>.log`` for init containers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["follow_logs", "log_files", "logs_root"]

_COMPONENTS = ("predictor", "transformer", "explainer")


def logs_root(state_dir: Path) -> Path:
    """The folder holding every revision's logs.

    Args:
        state_dir: the platform's state folder.

    Returns:
        ``<state_dir>/engine/logs``.
    """
    return Path(state_dir) / "engine" / "logs"


def log_files(state_dir: Path, namespace: str, name: str) -> list[Path]:
    """The log files of an InferenceService, a Knative Service or a Revision, oldest first.

    ``name`` matches a Revision by its name, a Knative Service ``<ksvc>`` by its Revisions
    ``<ksvc>-0000N``, and an InferenceService ``<isvc>`` by the Revisions of ``<isvc>-predictor``,
    ``<isvc>-transformer`` and ``<isvc>-explainer``.

    Args:
        state_dir: the platform's state folder.
        namespace: the namespace.
        name: the object's name.

    Returns:
        Log file paths sorted by modification time.
    """
    folder = logs_root(state_dir) / namespace
    if not folder.is_dir():
        return []
    pattern = re.compile(rf"^{re.escape(name)}(-(?:{'|'.join(_COMPONENTS)}))?-\d{{5}}$")
    files: list[Path] = []
    for rev_dir in folder.iterdir():
        if rev_dir.is_dir() and (rev_dir.name == name or pattern.match(rev_dir.name)):
            files.extend(p for p in rev_dir.iterdir() if p.suffix == ".log")
    return sorted(files, key=lambda p: p.stat().st_mtime)


def follow_logs(
    state_dir: Path,
    namespace: str,
    name: str,
    *,
    from_start: bool = True,
    poll: float = 0.25,
    stop: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[Path, str]]:
    """Yield ``(file, line)`` as instance logs grow, picking up new instances' files (``logs -f``).

    Args:
        state_dir: the platform's state folder.
        namespace: the namespace.
        name: an InferenceService, Knative Service or Revision name (as :func:`log_files`).
        from_start: begin with the files' existing lines (else only new ones).
        poll: seconds between checks for more output.
        stop: returns True to end the iteration.
        sleep: how to wait between checks.

    Yields:
        Each complete line (without its newline) and the file it came from.
    """
    offsets: dict[Path, int] = {}
    partial: dict[Path, bytes] = {}
    first = True
    while not stop():
        for path in log_files(state_dir, namespace, name):
            if path not in offsets:
                offsets[path] = 0 if (from_start or not first) else path.stat().st_size
            try:
                with path.open("rb") as fh:
                    fh.seek(offsets[path])
                    data = fh.read()
            except OSError:
                continue
            if not data:
                continue
            offsets[path] += len(data)
            data = partial.pop(path, b"") + data
            *lines, rest = data.split(b"\n")
            if rest:
                partial[path] = rest
            for line in lines:
                yield path, line.decode(errors="replace")
        first = False
        sleep(poll)
