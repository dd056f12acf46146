"""The users' workflow in a real Airflow: example DAGs green, backfills through the REST API, XCom and Assets."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from airflow_provider_tiktok.emulator import ADVERTISER_A
from scripts.demo import example_dag_ids

pytestmark = pytest.mark.e2e

AD_METRICS = "tiktok_ad_metrics"
ADVERTISER_TZ = ZoneInfo("America/Los_Angeles")


def partition(stack, day: date) -> Path:
    return stack.home / "tiktok" / "ad_metrics" / f"ad_account_id={ADVERTISER_A}" / f"date={day.isoformat()}.jsonl"


def run_day(run: dict) -> date:
    """The advertiser-local calendar day a run of the ad-metrics DAG covers."""
    return datetime.fromisoformat(run["data_interval_start"]).astimezone(ADVERTISER_TZ).date()


def local_midnight(days_ago: int) -> datetime:
    today = datetime.now(ADVERTISER_TZ).date()
    day = today - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, tzinfo=ADVERTISER_TZ)


@pytest.fixture(scope="module")
def dags(stack) -> list[str]:
    dag_ids = example_dag_ids()
    stack.wait_for_dags(dag_ids)
    for dag_id in dag_ids:
        stack.unpause(dag_id)
    return dag_ids


def test_the_example_dags_are_the_three_operators(dags):
    assert AD_METRICS in dags
    assert {"tiktok_audience_sync", "tiktok_ad_metrics"} <= set(dags)


def test_each_example_dag_runs_green_and_returns_its_summary(stack, dags):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for dag_id in dags:
        stack.trigger(dag_id, f"e2e_{dag_id}", now)
    summaries = {}
    for dag_id in dags:
        (run,) = stack.wait_for_runs(dag_id, [f"e2e_{dag_id}"], timeout=300)
        assert run["state"] == "success", f"{dag_id} failed; see {stack.home / 'logs'}"
        tasks = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/e2e_{dag_id}/taskInstances")["task_instances"]
        (task,) = [ti for ti in tasks if ti["operator"].startswith("TikTok")]
        summaries[dag_id] = stack.xcom(dag_id, f"e2e_{dag_id}", task["task_id"])
        assert isinstance(summaries[dag_id], dict)
        assert summaries[dag_id]["api_calls"] >= 0

    assert summaries[AD_METRICS]["rows"] > 0
    assert summaries[AD_METRICS]["days"] == 4
    audience = summaries["tiktok_audience_sync"]
    assert (audience["valid"], audience["rejected"], audience["usable"]) == (1600, 0, True)
    members = requests.get(f"{stack.emulator_url}/_emulator/audiences/{audience['audience_id']}/members", timeout=10)
    assert len(members.json()["members"]) == 1600  # the hourly run and the manual run left one exact copy
    if "tiktok_events_upload" in summaries:
        events = summaries["tiktok_events_upload"]
        assert events["sent"] > 0
        assert events["sent"] + events["rejected"] == events["received"]


def backfill_runs(stack, start: datetime, end: datetime) -> list[dict]:
    """The ad-metrics backfill runs covering days from ``start`` to ``end`` (other tests backfill other days)."""
    runs = [r for r in stack.runs(AD_METRICS) if r.get("run_type") == "backfill"]
    return [r for r in runs if start.date() <= run_day(r) <= end.date()]


def test_backfill_writes_every_day_once_and_a_reprocess_changes_nothing(stack, dags):
    start, end = local_midnight(16), local_midnight(12)
    backfill = stack.backfill(AD_METRICS, start, end, max_active_runs=2)
    stack.wait_until_backfill_done(backfill["id"], timeout=600)
    runs = backfill_runs(stack, start, end)
    days = sorted(run_day(r) for r in runs)
    assert days == [start.date() + timedelta(days=n) for n in range(5)], days
    assert all(r["state"] == "success" for r in runs)

    first = {day: partition(stack, day).read_bytes() for day in days}
    for day, content in first.items():
        rows = [json.loads(line) for line in content.splitlines()]
        assert rows, f"{day}: the emulator advertiser delivers every day"
        assert len({r["ad_id"] for r in rows}) == len(rows), f"{day}: an ad appears twice"
        assert {r["date"] for r in rows} == {day.isoformat()}

    backfill = stack.backfill(AD_METRICS, start, end, reprocess="completed", max_active_runs=2)
    stack.wait_until_backfill_done(backfill["id"], timeout=600)
    runs = backfill_runs(stack, start, end)
    assert sorted(run_day(r) for r in runs) == days  # the reprocess reran the same runs, not new ones
    assert all(r["state"] == "success" for r in runs)
    # Days 12-16 ago are past TikTok's revision window: a rerun must reproduce every byte.
    assert {day: partition(stack, day).read_bytes() for day in days} == first


def test_asset_events_carry_the_totals(stack, dags):
    assets = stack.api("GET", "/api/v2/assets", params={"uri_pattern": f"tiktok-ad-metrics://{ADVERTISER_A}"})["assets"]
    assert assets, "the ad-metrics task must emit an asset event for the advertiser it wrote"
    events = stack.api("GET", "/api/v2/assets/events", params={"asset_id": assets[0]["id"], "limit": 100})[
        "asset_events"
    ]
    assert events
    for event in events:
        totals = event["extra"]["totals"]
        assert set(totals) >= {"cost", "impressions", "clicks", "conversions"}
        assert event["extra"]["rows"] >= 0
