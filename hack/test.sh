#!/usr/bin/env bash
# Install the project (hack/install.sh) and run every gate: ruff lint, ruff format, mypy, pytest.
#
#   hack/test.sh                 the full suite (what CI runs)
#   hack/test.sh --fast          the same gates and every test but the end-to-end and slow ones
#                                (-m "not e2e and not slow"); reuses an existing .venv
#
# Other arguments go to pytest, e.g. `hack/test.sh -k canary -x`. The run fails when more than
# ZEROSERVE_MAX_SKIP_SHARE (default 0.02) of its tests skip; ZEROSERVE_SHARED_DIR=/nonexistent runs
# it the way a user's clone does (no ../shared reference material).
set -euo pipefail
cd "$(dirname "$0")/.."
FAST=0
ARGS=()
for arg in "$@"; do
  if [ "$arg" = "--fast" ]; then FAST=1; else ARGS+=("$arg"); fi
done
VENV=${ZEROSERVE_VENV:-.venv}
PY="$VENV/bin/python"
if [ "$FAST" = 1 ] && [ -x "$PY" ]; then
  echo "==> --fast: reusing $VENV (run hack/install.sh after changing dependencies)"
else
  bash hack/install.sh
fi
export PATH="$PWD/$VENV/bin:$PATH"
echo "==> ruff check"
"$PY" -m ruff check .
echo "==> ruff format --check"
"$PY" -m ruff format --check .
echo "==> mypy"
bash hack/typecheck.sh
echo "==> pytest"
if [ "$FAST" = 1 ]; then
  "$PY" -m pytest -m "not e2e and not slow" ${ARGS[@]+"${ARGS[@]}"}
else
  "$PY" -m pytest ${ARGS[@]+"${ARGS[@]}"}
fi
