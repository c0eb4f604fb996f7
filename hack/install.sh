#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install zeroserve with every
# extra the tests need. torch is installed first, pinned to the CPU build, so that nothing that
# depends on torch can pull a CUDA build of several GB.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ZEROSERVE_VENV:-.venv}
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
"${PIP[@]}" install -q --upgrade pip setuptools wheel
echo "==> installing torch==2.13.0 (CPU build)"
"${PIP[@]}" install -q "torch==2.13.0"
echo "==> installing zeroserve with extras ${ZEROSERVE_EXTRAS:=sklearn,xgboost,pytorch,s3,monitoring,dev}"
"${PIP[@]}" install -q -e ".[${ZEROSERVE_EXTRAS}]"
echo "==> installed into $VENV"
