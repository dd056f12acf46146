#!/usr/bin/env bash
# Set up the pinned venv and run the demo: emulator + real Airflow with the example DAGs (README command a).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m scripts.demo "$@"
