"""The same stack once more with PostgreSQL as Airflow's metadata database and as the ad-metrics table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scripts.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

AD_METRICS = "tiktok_ad_metrics"
ADVERTISER_TZ = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def pg_stack(postgres_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    import psycopg2

    conn = psycopg2.connect(postgres_server.dsn)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS airflow_meta")
        cursor.execute("CREATE DATABASE airflow_meta")
    conn.close()
    meta = postgres_server.dsn.replace("postgresql://", "postgresql+psycopg2://").rsplit("/", 1)[0] + "/airflow_meta"
    stack = Stack(
        tmp_path_factory.mktemp("e2e_pg") / "airflow_home",
        extra_env={
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta,
            "AIRFLOW_CONN_METRICS_DB": postgres_server.airflow_conn_json(),
            "TIKTOK_AD_METRICS_SQL_CONN_ID": "metrics_db",
            "TIKTOK_AD_METRICS_TABLE": "marketing.tiktok_ad_metrics",
        },
    )
    try:
        stack.start()
        yield stack, postgres_server.dsn
    finally:
        stack.stop()


def table_rows(dsn: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT date, ad_id, cost, impressions, clicks, conversions FROM marketing.tiktok_ad_metrics")
        return sorted(cursor.fetchall())


def test_metadata_on_postgres_and_a_backfill_upserted_once(pg_stack):
    stack, dsn = pg_stack
    health = stack.api("GET", "/api/v2/monitor/health")
    assert health["metadatabase"]["status"] == "healthy"
    assert "airflow_meta" in json.dumps(stack.env()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    stack.wait_for_dags([AD_METRICS])
    stack.unpause(AD_METRICS)
    today = datetime.now(ADVERTISER_TZ).date()
    first_day = today - timedelta(days=14)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=ADVERTISER_TZ)
    end = start + timedelta(days=2)

    backfill = stack.backfill(AD_METRICS, start, end, max_active_runs=2)
    stack.wait_until_backfill_done(backfill["id"])
    runs = [r for r in stack.runs(AD_METRICS) if r.get("run_type") == "backfill"]
    assert len(runs) == 3
    assert all(r["state"] == "success" for r in runs)
    rows = table_rows(dsn)
    keys = [(row[0], row[1]) for row in rows]
    assert rows, "one row per ad and day"
    assert len(keys) == len(set(keys)), "one row per ad and day"
    assert {row[0] for row in rows} >= {first_day + timedelta(days=n) for n in range(3)}

    again = stack.backfill(AD_METRICS, start, end, reprocess="completed", max_active_runs=2)
    stack.wait_until_backfill_done(again["id"])
    assert all(r["state"] == "success" for r in stack.runs(AD_METRICS) if r.get("run_type") == "backfill")
    assert table_rows(dsn) == rows  # the reprocess upserted the same values: nothing duplicated or changed
