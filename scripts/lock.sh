#!/usr/bin/env bash
# Regenerate the pinned environments, one per (Airflow minor, Python) leg that CI tests, from requirements.in
# (which names the newest Airflow); each lock swaps in its Airflow release. Follows Airflow's own convention
# of one constraints file per Airflow and Python version: constraints/airflow-<minor>-py<python>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
# leg: "<airflow release> <python version> [extra requirements, space-separated]". Airflow 3.0.6's metadata
# admits releases that break it, so its leg takes the versions of Airflow's own 3.0 constraints for:
# universal-pathlib (0.3 breaks ObjectStoragePath), PyJWT (2.11+ refuses the API server's token: "Issuer (iss)
# must be a string" -> 500 on /auth/token) and the API server's web stack (newer FastAPI/Cadwyn/pydantic answer
# 422 to the task runner's calls of the execution API). wtforms: 3.0's UI builds the connection form from it.
AIRFLOW_30_PINS="wtforms universal-pathlib<0.3 pyjwt==2.10.1 fastapi==0.115.12 starlette==0.46.2 pydantic==2.11.5
  pydantic-core==2.33.2 cadwyn==5.3.3 uvicorn==0.34.2 structlog==25.4.0 svcs==25.1.0 httpx==0.27.0 a2wsgi==1.10.8
  msgspec==0.19.0"
LEGS=("3.3.2 3.11" "3.3.2 3.10" "3.3.2 3.13" "3.2.2 3.11" "3.1.8 3.11" "3.0.6 3.11 $(echo $AIRFLOW_30_PINS)")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for leg in "${LEGS[@]}"; do
  read -r airflow python extra <<<"$leg"
  minor=${airflow%.*}
  sed -E "s/^apache-airflow==[0-9.]+$/apache-airflow==${airflow}/" requirements.in >"$tmp/requirements-${minor}.in"
  [ -z "${extra:-}" ] || tr ' ' '\n' <<<"$extra" >>"$tmp/requirements-${minor}.in"
  out="constraints/airflow-${minor}-py${python}.txt"
  "$UV" pip compile "$tmp/requirements-${minor}.in" -o "$out" --python-version "$python" --quiet --no-header
  sed -i "s#$tmp/requirements-${minor}.in#requirements.in#" "$out"  # no temporary path: relocking is diff-free
  sed -i "1i # Pinned by scripts/lock.sh: Airflow ${airflow} on Python ${python} (requirements.in, Airflow swapped in)." "$out"
  echo "$out: $(grep -c '==' "$out") pins"
done
