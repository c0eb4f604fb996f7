#!/usr/bin/env bash
# mypy cannot follow setuptools' package-dir mapping (zeroserve.servers -> servers/ ...), so build
# a private tree of symlinks shaped like the installed namespace and check that.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
VENV=${ZEROSERVE_VENV:-.venv}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
TREE=$(mktemp -d "${TMPDIR:-/tmp}/zeroserve-typecheck.XXXXXX")
trap 'rm -rf "$TREE"' EXIT
cp -rs "$ROOT/zeroserve" "$TREE/zeroserve"
for pkg in servers controller router logger monitoring; do
  cp -rs "$ROOT/$pkg" "$TREE/zeroserve/$pkg"
done
cp -rs "$ROOT/compat/kserve/kserve" "$TREE/kserve"  # the kserve compatibility package (compat/kserve)
find "$TREE" -name __pycache__ -prune -exec rm -rf {} +
cd "$TREE" && "$VENV/bin/python" -m mypy --config-file "$ROOT/pyproject.toml" --cache-dir "$ROOT/.mypy_cache" -p zeroserve -p kserve
