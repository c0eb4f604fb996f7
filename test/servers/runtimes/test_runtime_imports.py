"""Frameworks are imported only when a model loads: importing every runtime module, the registry, the
storage package and the CLIs pulls in none of them."""

from __future__ import annotations

import json
import subprocess
import sys

FRAMEWORKS = {"sklearn", "joblib", "xgboost", "torch", "boto3", "botocore", "google", "paddle"}

PROBE = """
import json, sys
import zeroserve.servers.cli, zeroserve.servers.storage.cli, zeroserve.servers.testing
import zeroserve.servers.runtimes.sklearn, zeroserve.servers.runtimes.xgboost
import zeroserve.servers.runtimes.pytorch, zeroserve.servers.runtimes.custom
from zeroserve.servers.runtimes import RuntimeRegistry
from zeroserve.servers.storage import ModelStorage, StorageSettings
registry = RuntimeRegistry.builtin()
for runtime in registry.names():
    registry.get(runtime).load()
ModelStorage(StorageSettings(cache_dir="/nonexistent"))
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_no_framework_is_imported_before_a_model_loads() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout))
    assert loaded & FRAMEWORKS == set()
    assert "zeroserve" in loaded
