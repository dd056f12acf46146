"""docker-compose.airflow.yml: valid for docker-compose, and every Airflow service runs this provider."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
COMPOSE = REPO / "docker-compose.airflow.yml"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
    "airflow-worker-2",
}


@pytest.fixture(scope="module")
def resolved() -> dict:
    """The file as docker-compose resolves it (anchors merged, variables substituted, all profiles)."""
    if shutil.which("docker-compose") is None:
        pytest.fail("docker-compose is missing: run scripts/system_deps.sh (Debian package docker-compose)")
    done = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "--profile", "emulator", "config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=REPO,
    )
    return yaml.safe_load(done.stdout)


def test_stack_has_every_component(resolved):
    assert set(resolved["services"]) == AIRFLOW_SERVICES | {"postgres", "redis", "tiktok-emulator"}
    env = resolved["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert resolved["services"]["tiktok-emulator"]["profiles"] == ["emulator"]


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES | {"tiktok-emulator"}))
def test_every_airflow_service_installs_the_provider_from_this_checkout(resolved, service):
    spec = resolved["services"][service]
    assert Path(spec["build"]["context"]).resolve() == REPO
    assert spec["build"]["dockerfile"] == "docker/Dockerfile"
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert "COPY --chown=airflow:0 airflow_provider_tiktok /opt/provider/airflow_provider_tiktok" in dockerfile
    # multi-host: the compose connection sets rate_limit_storage, which needs pyrate-limiter and redis.
    assert '"/opt/provider[emulator,postgres,multi-host]"' in dockerfile


@pytest.mark.parametrize("service", sorted(AIRFLOW_SERVICES))
def test_airflow_services_share_the_state_volume_and_the_dags(resolved, service):
    # docker-compose 1.29 renders mounts as "source:target:mode".
    mounts = {tuple(m.split(":")[:2]) for m in resolved["services"][service]["volumes"]}
    assert ("tiktok-shared", "/opt/airflow/shared") in mounts
    assert (str(REPO / "dags_examples"), "/opt/airflow/dags") in mounts
    assert not any(target.startswith("/opt/airflow/tiktok") for _, target in mounts)  # host-local stays local
    env = resolved["services"][service]["environment"]
    connection = json.loads(env["AIRFLOW_CONN_TIKTOK_DEFAULT"])
    assert connection["conn_type"] == "tiktok_ads"
    # what several hosts must share comes from the connection: the limit in the stack's Redis, the state on the mount
    assert connection["extra"]["rate_limit_storage"] == "redis://redis:6379/1"
    assert connection["extra"]["state_uri"].startswith("/opt/airflow/shared/")
    assert env["TIKTOK_EXAMPLE_STAGING_URI"].startswith("/opt/airflow/shared/")
    assert env["AIRFLOW_CONN_TIKTOK_METRICS_DB"].startswith("postgresql://")
    assert env["TIKTOK_AD_METRICS_SQL_CONN_ID"] == "tiktok_metrics_db"


def test_two_workers_stand_for_two_hosts_with_one_configuration(resolved):
    first, second = resolved["services"]["airflow-worker"], resolved["services"]["airflow-worker-2"]
    assert first["command"] == second["command"]
    assert first["environment"] == second["environment"]
    assert first["volumes"] == second["volumes"]
    limit_db = json.loads(first["environment"]["AIRFLOW_CONN_TIKTOK_DEFAULT"])["extra"]["rate_limit_storage"]
    assert limit_db != first["environment"]["AIRFLOW__CELERY__BROKER_URL"]  # its own database, beside the broker
