#!/usr/bin/env bash
# Install the project (hack/install.sh) and run every gate: ruff lint, ruff format, mypy, pytest.
# Extra arguments go to pytest, e.g. `hack/test.sh -k canary -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install.sh
VENV=${ZEROSERVE_VENV:-.venv}
PY="$VENV/bin/python"
export PATH="$PWD/$VENV/bin:$PATH"
echo "==> ruff check"
"$PY" -m ruff check .
echo "==> ruff format --check"
"$PY" -m ruff format --check .
echo "==> mypy"
bash hack/typecheck.sh
echo "==> pytest"
"$PY" -m pytest "$@"
