#!/usr/bin/env bash
# Create (or reuse) .venv-kserve with the real KServe 0.21.0 Python SDK: its clients
# (InferenceRESTClient, InferenceGRPCClient) are used by the tests against zeroserve's servers, and its
# model server runs KServe's own examples for side-by-side comparisons with zeroserve's `kserve`
# compatibility package (compat/kserve). Kept apart from .venv so that the real `kserve` never
# shadows the compatibility package there. Gitignored (.venv-*).
# Environment: KSERVE_VENV (default .venv-kserve), PYTHON (default python3), KSERVE_VERSION.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${KSERVE_VENV:-.venv-kserve}
PY=${PYTHON:-python3}
VERSION=${KSERVE_VERSION:-0.21.0}
BEGAN=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
echo "==> installing kserve==$VERSION into $VENV"
"$VENV/bin/python" -m pip --disable-pip-version-check install --progress-bar off --upgrade pip \
  | { grep --line-buffered -v -e '^Requirement already satisfied' || true; }
"$VENV/bin/python" -m pip --disable-pip-version-check install --progress-bar off "kserve==$VERSION" \
  | { grep --line-buffered -v -e '^Requirement already satisfied' -e '^Looking in ' || true; } \
  | while IFS= read -r line; do printf '    %s\n' "$line"; done
"$VENV/bin/python" -c "import kserve, importlib.metadata as m; print('    kserve', m.version('kserve'))"
echo "==> $VENV ready in $((SECONDS - BEGAN)) s"
