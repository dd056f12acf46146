#!/usr/bin/env bash
# Create or update a venv with a pinned environment; safe to re-run. Default: .venv, Airflow 3.3 on Python 3.11
# (constraints/airflow-3.3-py3.11.txt); VENV, PYTHON and LOCK pick another leg (scripts/legs.sh does), EXTRAS names
# extras of the provider to install with it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/find_python.sh
PY=$(find_python "${PYTHON:-python3}")
VENV=${VENV:-.venv}
LOCK=${LOCK:-constraints/airflow-3.3-py3.11.txt}
UV_VERSION=0.13.9
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
if [ ! -x "$VENV/bin/uv" ]; then
  "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip --upgrade >/dev/null
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}"
fi
# requirements.in names the newest Airflow; a lock for an older minor pins (and overrides) it.
sed -E "s/^apache-airflow==.*$/apache-airflow/" requirements.in >"$VENV/requirements.in"
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" -r "$VENV/requirements.in" -c "$LOCK" \
  -e ".${EXTRAS:+[$EXTRAS]}"
