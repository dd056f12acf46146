#!/usr/bin/env bash
# Create or update .venv with the pinned environment (constraints.txt); safe to re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
UV_VERSION=0.13.9
[ -x .venv/bin/python ] || "$PY" -m venv .venv
if [ ! -x .venv/bin/uv ]; then
  .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip --upgrade >/dev/null
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
.venv/bin/uv pip install --quiet --python .venv/bin/python -r requirements.in -c constraints.txt -e .
