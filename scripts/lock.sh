#!/usr/bin/env bash
# Regenerate the pinned environments, one per (Airflow minor, Python) leg that CI tests, from requirements.in
# (which names the newest Airflow); each lock swaps in its Airflow release. Follows Airflow's own convention
# of one constraints file per Airflow and Python version: constraints/airflow-<minor>-py<python>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
# leg: "<airflow release> <python version> [extra requirement]". Airflow 3.0's task SDK accepts
# universal-pathlib 0.3, which breaks its ObjectStoragePath; Airflow's own 3.0 constraints pin 0.2.x, so do we.
LEGS=("3.3.2 3.11" "3.3.2 3.10" "3.3.2 3.13" "3.2.2 3.11" "3.1.8 3.11" "3.0.6 3.11 universal-pathlib<0.3")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for leg in "${LEGS[@]}"; do
  read -r airflow python extra <<<"$leg"
  minor=${airflow%.*}
  sed -E "s/^apache-airflow==[0-9.]+$/apache-airflow==${airflow}/" requirements.in >"$tmp/requirements-${minor}.in"
  [ -z "${extra:-}" ] || echo "$extra" >>"$tmp/requirements-${minor}.in"
  out="constraints/airflow-${minor}-py${python}.txt"
  "$UV" pip compile "$tmp/requirements-${minor}.in" -o "$out" --python-version "$python" --quiet --no-header
  sed -i "1i # Pinned by scripts/lock.sh: Airflow ${airflow} on Python ${python} (requirements.in, Airflow swapped in)." "$out"
  echo "$out: $(grep -c '==' "$out") pins"
done
