#!/usr/bin/env bash
# Create (or reuse) .venv-seldon with Seldon Core's own Python package (seldon-core 1.18.2): its
# SeldonClient (REST and gRPC, microservice and gateway modes) is used by the tests against
# zeroserve's Seldon components, and its `seldon-core-microservice` (Flask + gunicorn) is the
# reference wrapper of hack/bench/seldon. Kept apart from .venv (protobuf 3.20, Flask 2.2) so that it
# never shadows zeroserve's own `seldon-core-microservice`. Gitignored (.venv-*). Not a dependency of
# zeroserve: tests that need it skip when it is absent.
# setuptools<70: gunicorn 20.1 (seldon-core's pin) imports pkg_resources, gone from newer setuptools.
# Environment: SELDON_VENV (default .venv-seldon), PYTHON (default python3), SELDON_VERSION.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${SELDON_VENV:-.venv-seldon}
PY=${PYTHON:-python3}
VERSION=${SELDON_VERSION:-1.18.2}
BEGAN=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
echo "==> installing seldon-core==$VERSION (and scikit-learn for the bench's model) into $VENV"
"$VENV/bin/python" -m pip --disable-pip-version-check install --progress-bar off --upgrade pip \
  | { grep --line-buffered -v -e '^Requirement already satisfied' || true; }
"$VENV/bin/python" -m pip --disable-pip-version-check install --progress-bar off \
  "seldon-core==$VERSION" scikit-learn "setuptools<70" \
  | { grep --line-buffered -v -e '^Requirement already satisfied' -e '^Looking in ' || true; } \
  | while IFS= read -r line; do printf '    %s\n' "$line"; done
"$VENV/bin/python" -c "import seldon_core, importlib.metadata as m; print('    seldon-core', m.version('seldon-core'))"
echo "==> $VENV ready in $((SECONDS - BEGAN)) s"
