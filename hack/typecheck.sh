#!/usr/bin/env bash
# mypy cannot follow setuptools' package-dir mapping (zeroserve.servers -> servers/ ...), so build
# a tree of symlinks shaped like the installed namespace and check that.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ZEROSERVE_VENV:-.venv}
rm -rf .typecheck && mkdir -p .typecheck
cp -rs "$PWD/zeroserve" .typecheck/zeroserve
for pkg in servers controller router logger; do
  cp -rs "$PWD/$pkg" ".typecheck/zeroserve/$pkg"
done
find .typecheck -name __pycache__ -prune -exec rm -rf {} +
cd .typecheck && "../$VENV/bin/python" -m mypy --config-file ../pyproject.toml -p zeroserve
