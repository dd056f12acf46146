"""Upload a shop's conversions to TikTok's Events API: 120 realistic web events from a CSV export.

The shipped file ``data/tiktok_events.csv`` is what a shop's order system exports: its own column names
(mapped with ``field_map``), raw e-mails and phones (hashed inside the task), ISO 8601 times. TikTok refuses
events older than 28 days, so the first task copies the file with its times moved to the last hours; with
your own data, point ``events`` at your export, a SQL query (``sql`` + ``sql_conn_id``) or an upstream
task's file. The file also holds three rows a real export has: an unknown currency and a row without its
page (both go to the rejects file, within the 5% this DAG allows) and a phone that is no number (dropped
from its row, which keeps the e-mail).

The events go to the test-event view of the pixel (``test_event_code``), so they do not count as real
conversions: remove it when you go live. With the demo, ``tiktok_default`` points at the bundled emulator.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import DAG, task

from airflow_provider_tiktok.operators.events import TikTokEventsUploadOperator
from airflow_provider_tiktok.utils.storage import as_path, atomic_write_lines, default_root

SHIPPED_EVENTS = Path(__file__).parent / "data" / "tiktok_events.csv"
#: Where the staged copy goes. With workers on several hosts the upload may run on another host than the
#: staging task: name a folder or object-store URI every worker sees (default: this worker's $AIRFLOW_HOME).
STAGING_URI = os.environ.get("TIKTOK_EXAMPLE_STAGING_URI")
#: Your pixel code (Events Manager -> Data sources); the emulator accepts any.
PIXEL_CODE = os.environ.get("TIKTOK_PIXEL_CODE", "CEXAMPLEPIXEL000001")
#: The export's column names -> the Events API fields.
FIELD_MAP = {
    "event_name": "event",
    "occurred_at": "event_time",
    "customer_email": "email",
    "customer_phone": "phone",
    "customer_id": "external_id",
    "client_ip": "ip",
    "landing_url": "page_url",
    "referrer": "referrer_url",
    "sku": "content_id",
    "product_name": "content_name",
    "category": "content_category",
    "unit_price": "price",
    "qty": "quantity",
}


def stage_events(source: Path, target: Any, now: datetime) -> int:
    """Copy ``source`` with every ``occurred_at`` moved by one offset, the newest to ten minutes before ``now``;
    returns the number of rows."""
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    moments = [datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00")) for row in rows]
    shift = now - timedelta(minutes=10) - max(moments)
    for row, moment in zip(rows, moments, strict=True):
        row["occurred_at"] = (moment + shift).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def lines():
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
        yield buffer.getvalue()

    atomic_write_lines(target, lines())
    return len(rows)


with DAG(
    dag_id="tiktok_events_upload",
    description="Shop conversions from a CSV export to the TikTok Events API (test events)",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["tiktok", "events", "example"],
    doc_md=__doc__,
) as dag:

    @task
    def stage_demo_events(run_id: str) -> str:
        """The shipped export with recent times, in a private file for this run."""
        root = as_path(STAGING_URI) if STAGING_URI else default_root("demo")
        target = root / "events" / f"{run_id.replace(':', '-').replace('+', '_')}.csv"
        stage_events(SHIPPED_EVENTS, target, datetime.now(timezone.utc))
        return str(target)

    TikTokEventsUploadOperator(
        task_id="upload_events",
        events=stage_demo_events(run_id="{{ run_id }}"),
        event_source="web",
        event_source_id=PIXEL_CODE,
        field_map=FIELD_MAP,
        test_event_code="TEST_AIRFLOW_DEMO",
        default_phone_region="US",
        default_currency="USD",
        max_rejected_fraction=0.05,
    )
