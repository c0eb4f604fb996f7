"""The bandits' learned state on disk: ``<state-dir>/bandits.json``, replaced atomically.

Format (version 1)::

    {"version": 1, "graph": "<name>",
     "nodes": {"<node>": {"policy": "ThompsonSampling",
                          "arms": [{"step": "<step key>", "routed": 10, "feedback": 8, "reward": 6.0}]}}}

Arms are matched to steps by key when loaded, so reordering steps keeps what was learned and a new
step starts fresh. A write goes to a temporary file in the same folder, is flushed to disk and then
renamed over the old file, so a crash leaves either the old or the new state, never a torn one.

The state is private to the router's user: the file is 0600 and every folder the store creates on the
way to it is 0700 (``zeroserve router`` keeps it under ``$ZEROSERVE_HOME/router/<ns>/<graph>``
unless ``--state-dir`` says otherwise; folders that already exist are left as they are).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

from zeroserve.process.private import FILE_MODE, private_folder
from zeroserve.router.bandit.policy import ArmStats

__all__ = ["BanditStore"]

FILE_NAME = "bandits.json"


class BanditStore:
    """Loads and saves the bandits' state.

    Args:
        state_dir: the folder for ``bandits.json`` (created when missing).
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = Path(state_dir) / FILE_NAME

    def load(self) -> dict[str, dict[str, ArmStats]]:
        """Read the saved arms, node -> step key -> stats; empty when there is no readable, valid file."""
        try:
            document = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return {}
        nodes: dict[str, dict[str, ArmStats]] = {}
        for node, entry in (document.get("nodes") or {}).items():
            arms: dict[str, ArmStats] = {}
            for raw in entry.get("arms") or []:
                with contextlib.suppress(KeyError, TypeError, ValueError):
                    arms[str(raw["step"])] = ArmStats(
                        step=str(raw["step"]),
                        routed=int(raw.get("routed", 0)),
                        feedback=int(raw.get("feedback", 0)),
                        reward=float(raw.get("reward", 0.0)),
                    )
            nodes[str(node)] = arms
        return nodes

    def save(self, graph: str, nodes: dict[str, dict[str, Any]]) -> None:
        """Replace the state file atomically.

        Args:
            graph: the graph's name, recorded for humans.
            nodes: node -> ``{"policy": name, "arms": [arm dicts]}``.
        """
        private_folder(self.path.parent, tighten=False)
        payload = orjson.dumps({"version": 1, "graph": graph, "nodes": nodes}, option=orjson.OPT_INDENT_2)
        fd, tmp = tempfile.mkstemp(prefix=".bandits-", suffix=".json", dir=self.path.parent)
        try:
            os.fchmod(fd, FILE_MODE)  # mkstemp's mode already; said here so it cannot drift
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
