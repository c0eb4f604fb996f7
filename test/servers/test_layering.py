"""The data plane stays transport-free, and importing the Model API stays light."""

from __future__ import annotations

import subprocess
import sys


def _imported_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return {name.split(".")[0] for name in out.split()}


def test_dataplane_imports_no_transport() -> None:
    loaded = _imported_after("import zeroserve.servers.dataplane")
    assert not loaded & {"grpc", "starlette", "uvicorn", "fastapi", "httpx"}


def test_model_api_import_pulls_no_server_or_framework() -> None:
    loaded = _imported_after("from zeroserve.servers import Model, ModelServer, InferRequest")
    assert not loaded & {"grpc", "uvicorn", "starlette", "sklearn", "torch", "xgboost"}
