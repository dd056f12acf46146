#!/usr/bin/env bash
# Set up everything from nothing and run the whole test suite (README command b; CI runs it too).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system_deps.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
# The other Airflow 3 minors and Pythons (unit + integration tiers, scripts/legs.sh); then
# the main leg, Airflow 3.3 on Python 3.11, runs everything. LEGS= (empty) skips the compatibility legs.
[ -n "${LEGS-x}" ] && bash scripts/legs.sh
exec .venv/bin/pytest "$@"
