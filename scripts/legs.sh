#!/usr/bin/env bash
# The compatibility legs of the README test command: the unit and integration tiers on every other Airflow 3
# minor (Python 3.11) and on Airflow 3.3 with Python 3.10 and 3.13, each in its own venv pinned by its lock in
# constraints/, plus on Airflow 3.0 a real-Airflow smoke (standalone runs the example DAGs green) and the built
# wheel in a clean venv (scripts/wheel_check.sh). Two legs run at a time (2 cores); each leg's output goes to
# .artifacts/legs/<leg>.log and one summary line is printed.
# tests/bench (it times the benchmark scripts, not the provider) runs on the main leg only. Any failure fails.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .artifacts/legs
# LEGS="<airflow minor>:<python> ..." picks some, e.g. LEGS="3.0:3.11 3.3:3.13".
read -r -a LEGS <<<"${LEGS:-3.0:3.11 3.1:3.11 3.2:3.11 3.3:3.10 3.3:3.13}"

run_leg() {  # <airflow minor> <python>: set up the leg's venv and run its tiers; prints one line
  local minor=$1 python=$2 name="airflow-$1-py$2" started=$SECONDS
  local venv=".venvs/$name" log=".artifacts/legs/$name.log"
  local extras=""  # Airflow 3.0 builds the connection form with wtforms: its leg installs the provider's extra
  [ "$minor" != "3.0" ] || extras=connection-form
  if ! VENV="$venv" PYTHON="python$python" LOCK="constraints/$name.txt" EXTRAS="$extras" bash scripts/setup.sh \
    >"$log" 2>&1; then
    echo "leg $name: setup FAILED (see $log)"; return 1
  fi
  "$venv/bin/python" -m pytest -m "unit or integration" -q -p no:randomly --ignore=tests/bench \
    >>"$log" 2>&1
  local status=$?
  # On 3.0 (SMOKE=0 skips both): the real-Airflow smoke (standalone runs the three example DAGs green), and the
  # built wheel in a clean Airflow 3.0.6 venv (providers list shows it, the example DAGs import).
  if [ "$minor" = "3.0" ] && [ "${SMOKE:-1}" = "1" ] && [ $status -eq 0 ]; then
    "$venv/bin/python" -m pytest -m e2e -q -p no:randomly \
      "tests/e2e/test_example_dags.py::test_the_example_dags_are_the_three_operators" \
      "tests/e2e/test_example_dags.py::test_each_example_dag_runs_green_and_returns_its_summary" >>"$log" 2>&1
    status=$?
    [ $status -ne 0 ] || { bash scripts/wheel_check.sh >>"$log" 2>&1; status=$?; }
  fi
  local summary
  summary=$(grep -E "^=* *[0-9]+ [a-z]+.* in [0-9.]+s|^wheel check: .*whl" "$log" | tr -d '=' | xargs -L1 | paste -sd ';' -)
  echo "leg $name ($((SECONDS - started)) s incl. setup): ${summary:-no summary} [exit $status]"
  return $status
}

failed=0
pids=()
for leg in "${LEGS[@]}"; do
  run_leg "${leg%:*}" "${leg#*:}" &
  pids+=($!)
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit $failed
