"""The API server's state folder: owner-only files and folders, also repaired when they were not."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from zeroserve.local.apiserver import ApiServerSettings, run_in_thread
from zeroserve.local.kubeconfig import write_kubeconfig
from zeroserve.local.testing import Kubectl


def _modes(folder: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            path = Path(root) / name
            found[str(path.relative_to(folder))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_every_file_is_0600_and_every_folder_0700_even_when_loosened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    settings = ApiServerSettings(port=0, state_dir=state)
    with run_in_thread(settings) as server:
        config = write_kubeconfig(state / "kubeconfig", server.url, server.token, ca_cert=server.ca_cert)
        Kubectl(config, tmp_path / "cache")("create", "configmap", "written", "--from-literal=a=b")
        first = _modes(state / "apiserver")
    for path in (state / "apiserver").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (state / "apiserver").chmod(0o755)
    state.chmod(0o755)
    with run_in_thread(settings):
        repaired = _modes(state / "apiserver")
        state_mode = stat.S_IMODE(state.stat().st_mode)

    assert {"state.db", "token", "pki", "pki/ca.crt", "pki/tls.crt", "pki/tls.key"} <= set(first)
    assert {"state.db-wal", "state.db-shm"} & set(first), "SQLite keeps its WAL beside the database"
    for modes in (first, repaired):
        assert {name: mode for name, mode in modes.items() if mode not in (0o600, 0o700)} == {}
        assert all(mode == 0o700 for name, mode in modes.items() if name in (".", "pki"))
    assert state_mode == 0o700
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
