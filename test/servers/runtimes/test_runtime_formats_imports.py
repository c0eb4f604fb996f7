"""The new runtimes and their samples import no framework (lightgbm, onnx, tensorflow, paddle, pandas)
until used."""

from __future__ import annotations

import json
import subprocess
import sys

FRAMEWORKS = {
    "lightgbm",
    "onnx",
    "onnxruntime",
    "tensorflow",
    "keras",
    "pandas",
    "sklearn",
    "xgboost",
    "paddle",
}

PROBE = """
import json, sys
import zeroserve.servers.runtimes.lightgbm, zeroserve.servers.runtimes.onnx
import zeroserve.servers.runtimes.tensorflow, zeroserve.servers.runtimes.pmml
import zeroserve.servers.runtimes.mlserver, zeroserve.servers.runtimes.frames
import zeroserve.servers.runtimes.paddle, zeroserve.servers.samples.paddle
import zeroserve.servers.samples.lightgbm, zeroserve.servers.samples.onnx, zeroserve.servers.samples.pmml
import zeroserve.servers.samples.tensorflow, zeroserve.servers.samples.mlserver
import zeroserve.servers.samples.sklearn_pandas
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_no_framework_is_imported_before_a_model_loads() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)) & FRAMEWORKS == set()
