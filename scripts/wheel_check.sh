#!/usr/bin/env bash
# The provider as a user installs it: build the wheel, install it into a clean venv of the oldest supported
# Airflow (3.0.6, pinned by its lock), then check that `airflow providers list` shows it and that the three
# example DAGs import there without errors. Part of the Airflow 3.0 leg of scripts/legs.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
LOCK=${LOCK:-constraints/airflow-3.0-py3.11.txt}
AIRFLOW=${AIRFLOW:-3.0.6}
source scripts/find_python.sh
PY=$(find_python "${PYTHON:-python3.11}")
UV=${UV:-.venv/bin/uv}
work=.artifacts/wheel-check
rm -rf "$work" && mkdir -p "$work/home"
"$UV" build --quiet --wheel --out-dir "$work/dist" .
wheel=$(ls "$work"/dist/airflow_provider_tiktok-*.whl)
"$PY" -m venv "$work/venv"
"$UV" pip install --quiet --python "$work/venv/bin/python" "$wheel" "apache-airflow==$AIRFLOW" -c "$LOCK"
export AIRFLOW_HOME="$PWD/$work/home" AIRFLOW__CORE__LOAD_EXAMPLES=False
unset PYTHONPATH
cd "$work"  # away from the source tree: only the installed wheel can be imported
"venv/bin/airflow" providers list --output json >providers.json
grep -q '"package_name": "airflow-provider-tiktok"' providers.json \
  || { echo "wheel check: airflow providers list does not show airflow-provider-tiktok" >&2; exit 1; }
"venv/bin/python" - "$OLDPWD/dags_examples" <<'PY'
"""Parse the example DAGs with the installed wheel, as the DAG processor would."""
import sys

from airflow.models.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
if bag.import_errors or len(bag.dag_ids) != 3:
    sys.exit(f"wheel check: example DAGs {sorted(bag.dag_ids)}, import errors {bag.import_errors}")
print(f"wheel check: {len(bag.dag_ids)} example DAGs import: {', '.join(sorted(bag.dag_ids))}")
PY
echo "wheel check: $(basename "$wheel") on Airflow $AIRFLOW: provider listed, example DAGs import"
