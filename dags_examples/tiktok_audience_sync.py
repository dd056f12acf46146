"""Hourly mirror of a member file into a TikTok custom audience, never over TikTok's 24 calls a day.

The shipped file holds 1,600 fake members (``@example.com``). The first run creates the audience named
below; later runs send only what changed (nothing at all when the file is unchanged). Syncs of one
audience run one at a time through the ``tiktok_audience`` pool, which the demo creates with one slot
(``airflow pools set tiktok_audience 1 "TikTok audience syncs"``). With the demo, the ``tiktok_default``
connection points at the bundled emulator.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import DAG

from airflow_provider_tiktok.operators.audience import TikTokAudienceSyncOperator

MEMBERS = Path(__file__).parent / "data" / "tiktok_audience_members.csv"

with DAG(
    dag_id="tiktok_audience_sync",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["tiktok", "audience", "example"],
    doc_md=__doc__,
):
    TikTokAudienceSyncOperator(
        task_id="sync_cohort",
        members=str(MEMBERS),
        id_type="email",
        audience_name="Example cohort (airflow-provider-tiktok)",
        mode="mirror",
        on_quota_exhausted="defer",
        pool="tiktok_audience",
        pool_slots=1,
    )
