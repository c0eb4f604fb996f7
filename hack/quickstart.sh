#!/usr/bin/env bash
# The README's main job: install zeroserve into .venv, then run the embedded platform serving a
# sample scikit-learn model (apply with kubectl, predict V1 and V2, scale to zero and back, canary).
# Arguments go to hack/quickstart.py: --keep leaves the platform running at the end (state in
# .state/quickstart; it prints the KUBECONFIG, the gateway's address and how to stop it),
# --state-dir DIR puts the state elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
bash hack/install.sh
exec "${ZEROSERVE_VENV:-.venv}/bin/python" hack/quickstart.py "$@"
