"""Daily TikTok ad metrics: every advertiser day, cost/impressions/clicks/conversions per ad with names and UTM
fields land in JSON Lines partitions under $AIRFLOW_HOME/tiktok/ad_metrics; the last 3 days are re-imported
each run so TikTok's late conversions are caught.

Each run covers exactly one calendar day in the advertiser's time zone: the cron data-interval timetable in
that zone makes the interval midnight to midnight there (``@daily`` would give zero-length UTC intervals).
Backfill any range of the last year from the Airflow UI (Trigger -> Backfill, one run a day) and keep the
form's "max active runs" at MAX_PARALLEL_RUNS or below; the task's ``max_active_tis_per_dag`` holds
backfills to that anyway. For a one-off year, a single run with ``date_from``/``date_to`` costs fewer calls
(30 days a report request) than 365 daily runs.

TikTok's default app limit is 10 requests per second shared by every task of the app: the connection's
``rate_limit`` is that app-wide budget, and every task draws from one budget (shared by the processes of a host,
and across hosts when the connection sets ``rate_limit_storage``), so parallel runs never exceed it together. A daily
run costs 2 calls for up to 1,000 ads (one report page, one ``ad/get/`` page), plus about one report page
per 1,000 rows of the lookback days.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import DAG

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.0 keeps timetables in core
    from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator

#: The advertiser's time zone as TikTok reports it (Ads Manager -> Account settings); the emulator's default
#: advertiser 7000000000000000001 is in America/Los_Angeles.
ADVERTISER_TIMEZONE = os.environ.get("TIKTOK_ADVERTISER_TIMEZONE", "America/Los_Angeles")
#: Named explicitly (not taken from the connection) so the task declares the advertiser's Asset at parse time.
ADVERTISER_ID = os.environ.get("TIKTOK_ADVERTISER_ID", "7000000000000000001")
#: Optional PostgreSQL destination: name an Airflow SQL connection to upsert into a table instead of files.
SQL_CONN_ID = os.environ.get("TIKTOK_AD_METRICS_SQL_CONN_ID") or None
TABLE = os.environ.get("TIKTOK_AD_METRICS_TABLE", "tiktok_ad_metrics") if SQL_CONN_ID else None
MAX_PARALLEL_RUNS = 4

with DAG(
    dag_id="tiktok_ad_metrics",
    description="TikTok ad metrics per ad and advertiser day, with a 3-day lookback for revisions",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=ADVERTISER_TIMEZONE),
    start_date=pendulum.datetime(2025, 1, 1, tz=ADVERTISER_TIMEZONE),
    catchup=False,
    max_active_runs=MAX_PARALLEL_RUNS,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5), "retry_exponential_backoff": True},
    tags=["tiktok", "ad-metrics"],
    doc_md=__doc__,
) as dag:
    TikTokAdMetricsOperator(
        task_id="import_ad_metrics",
        advertiser_id=ADVERTISER_ID,
        sql_conn_id=SQL_CONN_ID,
        table=TABLE,
        lookback_days=3,
        max_active_tis_per_dag=MAX_PARALLEL_RUNS,
    )
