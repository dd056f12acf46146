"""DAGs the crash and security tests drive in a real Airflow: the three operators with Airflow retries.

Every input comes from the run's ``conf`` (file paths, pixel, audience name, date range), so each test run
is independent of earlier ones. The crash DAGs retry after a few seconds; each attempt writes the pid of the
process running ``execute`` to ``$AIRFLOW_HOME/crash_pids/<dag>.<task>.<run>.<try>``, so a test can SIGKILL
exactly that process (not the supervisor or the scheduler). ``tiktok_security_failing`` fails on purpose
(a revoked token, rows all too old) with raw PII in its inputs, for the leak scan; its ``upload_mis_mapped``
task maps the e-mail column to the event name (every row rejected, nothing listed).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG

from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator
from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator
from airflow_provider_tiktok.operators.events import TikTokEventsUploadOperator

START = pendulum.datetime(2026, 1, 1, tz="UTC")
CRASH_DEFAULTS = {"retries": 2, "retry_delay": timedelta(seconds=2), "retry_exponential_backoff": False}
PID_FOLDER = "crash_pids"
#: The connection the security test creates with a token the emulator does not know (revoked).
REVOKED_CONN_ID = "tiktok_revoked"
EVENTS_FIELD_MAP = {
    "customer_email": "email",
    "customer_phone": "phone",
    "customer_id": "external_id",
    "landing_url": "page_url",
}
#: The security scan's mis-mapped upload: e-mails land in the event name, phones in the description.
MIS_MAPPED_FIELD_MAP = {
    "event_name": "email",
    "customer_email": "event",
    "customer_phone": "description",
    "customer_id": "external_id",
    "landing_url": "page_url",
}


def pid_file(home: Path, dag_id: str, task_id: str, run_id: str, try_number: int) -> Path:
    """Where an attempt records the pid of its task process, under AIRFLOW_HOME ``home``."""
    name = f"{dag_id}.{task_id}.{run_id}.{try_number}".replace("/", "_").replace(":", "-").replace("+", "_")
    return Path(home) / PID_FOLDER / name


def record_pid(context: Any) -> None:
    """on_execute_callback: write this process's pid (the one about to run ``execute``) atomically."""
    ti = context["ti"]
    home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    target = pid_file(Path(home), ti.dag_id, ti.task_id, context["run_id"], ti.try_number)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(str(os.getpid()))
    tmp.replace(target)


def conf(key: str) -> str:
    """A template reading one key of the run's conf."""
    return "{{ dag_run.conf['" + key + "'] }}"


with DAG(
    dag_id="tiktok_crash_events",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=CRASH_DEFAULTS,
    tags=["tiktok", "crash-test"],
):
    TikTokEventsUploadOperator(
        task_id="upload_events",
        events=conf("events"),
        event_source="web",
        event_source_id=conf("pixel"),
        field_map=EVENTS_FIELD_MAP,
        max_in_flight=4,
        on_execute_callback=record_pid,
    )

with DAG(
    dag_id="tiktok_crash_audience",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=CRASH_DEFAULTS,
    tags=["tiktok", "crash-test"],
):
    TikTokAudienceSyncOperator(
        task_id="sync_cohort",
        members=conf("members"),
        id_type="email",
        audience_name=conf("audience_name"),
        mode="mirror",
        on_quota_exhausted="fail",
        on_execute_callback=record_pid,
    )

with DAG(
    dag_id="tiktok_crash_metrics",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args=CRASH_DEFAULTS,
    tags=["tiktok", "crash-test"],
):
    TikTokAdMetricsOperator(
        task_id="import_ad_metrics",
        advertiser_id="7000000000000000001",
        date_from=conf("date_from"),
        date_to=conf("date_to"),
        destination=conf("destination"),
        on_execute_callback=record_pid,
    )

with DAG(
    dag_id="tiktok_security_failing",
    schedule=None,
    start_date=START,
    catchup=False,
    default_args={"retries": 0},
    tags=["tiktok", "security-test"],
):
    # TikTok answers 40105 (token revoked) after the task has read and hashed every row.
    TikTokEventsUploadOperator(
        task_id="upload_with_revoked_token",
        events=conf("events"),
        event_source="web",
        event_source_id="CSECURITYPIXEL00001",
        field_map=EVENTS_FIELD_MAP,
        tiktok_conn_id=REVOKED_CONN_ID,
    )
    TikTokAudienceSyncOperator(
        task_id="sync_with_revoked_token",
        members=conf("members"),
        id_type="email",
        audience_name="Security scan (revoked token)",
        tiktok_conn_id=REVOKED_CONN_ID,
        on_quota_exhausted="fail",
    )
    # Every row older than TikTok's 28 days: all go to the rejects file, then the task fails on the share.
    TikTokEventsUploadOperator(
        task_id="upload_stale_rows",
        events=conf("stale_events"),
        event_source="web",
        event_source_id="CSECURITYPIXEL00002",
        field_map=EVENTS_FIELD_MAP,
    )
    # A mapping mistake (issue 15): the e-mail column mapped to event, the phones to description, the event
    # names to email. Every row is rejected for the personal data in clear text, and the task succeeds (rejects
    # allowed) so that its summary reaches XCom and the log: neither may list an e-mail as a custom event name.
    TikTokEventsUploadOperator(
        task_id="upload_mis_mapped",
        events=conf("mis_mapped_events"),
        event_source="web",
        event_source_id="CSECURITYPIXEL00003",
        field_map=MIS_MAPPED_FIELD_MAP,
        max_rejected_fraction=1.0,
    )
