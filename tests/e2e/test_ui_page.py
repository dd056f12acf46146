"""The TikTok Ads page in a real Airflow and a real browser: after the example DAGs and a backfill that leaves a
gap, the page shows the audience quota, the gap with the backfill that fills it, and the uploads' counts, each
checked against what Airflow itself reports; a request without Airflow's token is refused."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
import requests

from scripts.demo import example_dag_ids
from tests.e2e.test_browser import page, screenshots  # noqa: F401 - the logged-in browser and the screenshot folder

pytestmark = pytest.mark.e2e

AD_METRICS = "tiktok_ad_metrics"
AUDIENCE = "tiktok_audience_sync"
EVENTS = "tiktok_events_upload"
ADVERTISER = "7000000000000000001"
ADVERTISER_TZ = ZoneInfo("America/Los_Angeles")
#: Days back of the two backfills; the second one's 3-day lookback reaches day 74, so days 78 and 77 stay missing
#: (other end-to-end tests import days 5-49 of the same advertiser).
FIRST_BACKFILL, SECOND_BACKFILL, GAP = (80, 79), (73, 72), (78, 77)


def local_day(days_ago: int) -> date:
    return datetime.now(ADVERTISER_TZ).date() - timedelta(days=days_ago)


def local_midnight(days_ago: int) -> datetime:
    day = local_day(days_ago)
    return datetime(day.year, day.month, day.day, tzinfo=ADVERTISER_TZ)


def finished_summaries(stack, dag_id: str) -> list[dict]:
    """The summaries (return values) of the DAG's successful TikTok tasks."""
    summaries = []
    for run in stack.runs(dag_id):
        if run["state"] != "success":
            continue
        tasks = stack.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run['dag_run_id']}/taskInstances")
        for ti in tasks["task_instances"]:
            if ti["operator"].startswith("TikTok") and ti["state"] == "success":
                summaries.append(stack.xcom(dag_id, run["dag_run_id"], ti["task_id"]))
    return summaries


@pytest.fixture(scope="module")
def synced(stack) -> None:
    """One run of each example DAG, then two ad-metrics backfills with a gap between them, all finished."""
    dag_ids = example_dag_ids()
    stack.wait_for_dags(dag_ids)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for dag_id in dag_ids:
        stack.unpause(dag_id)
        stack.trigger(dag_id, f"ui_{dag_id}", now)
    for dag_id in dag_ids:
        stack.wait_for_runs(dag_id, [f"ui_{dag_id}"], timeout=600)
    for older, newer in (FIRST_BACKFILL, SECOND_BACKFILL):
        backfill = stack.backfill(AD_METRICS, local_midnight(older), local_midnight(newer))
        stack.wait_until_backfill_done(backfill["id"])
    for dag_id in dag_ids:  # scheduled runs started by unpausing finish too
        stack.wait_for_runs(dag_id, None, timeout=600)


def imported_days(stack) -> set[date]:
    """Days with a partition file under the default destination, or covered by a run as Airflow's asset events
    API reports it (other tests import this advertiser into other folders)."""
    folder = stack.home / "tiktok" / "ad_metrics" / f"ad_account_id={ADVERTISER}"
    days = {date.fromisoformat(p.name[len("date=") : -len(".jsonl")]) for p in folder.glob("date=*.jsonl")}
    (asset,) = [
        a
        for a in stack.api("GET", "/api/v2/assets", params={"limit": 100})["assets"]
        if a["uri"].rstrip("/") == f"tiktok-ad-metrics://{ADVERTISER}"
    ]
    events = stack.api("GET", "/api/v2/assets/events", params={"asset_id": asset["id"], "limit": 1000})
    for event in events["asset_events"]:
        day, last = date.fromisoformat(event["extra"]["lookback_from"]), date.fromisoformat(event["extra"]["date_to"])
        while day <= last:
            days.add(day)
            day += timedelta(days=1)
    return days


def test_a_request_without_airflow_token_is_refused(stack):
    assert requests.get(f"{stack.api_url}/tiktok/", timeout=30).status_code == 401
    forged = requests.get(f"{stack.api_url}/tiktok/", headers={"Authorization": "Bearer forged"}, timeout=30)
    assert forged.status_code == 403


@pytest.mark.usefixtures("synced")
def test_the_page_shows_quota_gap_and_uploads_as_airflow_reports_them(stack, page, screenshots):  # noqa: F811
    page.goto(f"{stack.api_url}/tiktok/")
    page.locator("#coverage").wait_for()
    page.screenshot(path=str(screenshots / "tiktok_page.png"), full_page=True)
    html = page.content()

    # Audiences: calls counted today as the newest sync reported them, of 24, until the next 00:00 UTC.
    audience = max(finished_summaries(stack, AUDIENCE), key=lambda s: s["audience_calls_used_today"])
    row = page.locator(f'tr[data-audience="{audience["audience_id"]}"]')
    assert row.locator(".quota").inner_text() == f"{audience['audience_calls_used_today']} of 24"
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    assert row.locator("[data-reset]").get_attribute("data-reset") == f"{tomorrow.isoformat()}T00:00:00+00:00"
    assert "1,600" in row.inner_text()
    assert "usable" in row.inner_text()

    # Coverage: the gap between the two backfills, and as many imported days as files and runs tell.
    cover = page.locator(f'[data-advertiser="{ADVERTISER}"]')
    gap = cover.locator(f'tr.gap[data-first="{local_day(GAP[0])}"][data-last="{local_day(GAP[1])}"]')
    assert gap.count() == 1, "the gap between the backfills is not listed"
    for days_ago in (*FIRST_BACKFILL, *SECOND_BACKFILL):
        status = cover.locator(f'rect[data-day="{local_day(days_ago)}"]').get_attribute("data-status")
        assert status in ("imported", "empty", "revised"), (days_ago, status)
    window = {local_day(n) for n in range(1, 366)}
    shown = sum(int(cover.locator(f'[data-count="{s}"]').inner_text()) for s in ("imported", "empty", "revised"))
    assert shown == len(imported_days(stack) & window)

    # The backfill the page proposes for the gap runs exactly the missing days (Airflow's own dry run says so).
    body = re.search(r"POST /api/v2/backfills (\{.*?\})", gap.locator("code.rest").inner_text()).group(1)
    planned = stack.api("POST", "/api/v2/backfills/dry_run", json=json.loads(body))
    days = sorted(
        datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")).astimezone(ADVERTISER_TZ).date()
        for r in planned["backfills"]
    )
    assert days == [local_day(GAP[0]), local_day(GAP[1])]

    # Uploads: sent and rejected over the runs Airflow reports, and the rejects file's reasons without events.
    uploads = finished_summaries(stack, EVENTS)
    source = page.locator(f'[data-source="{uploads[0]["event_source_id"]}"]')
    assert source.locator("[data-sent]").inner_text() == f"{sum(s['sent'] for s in uploads):,}"
    assert source.locator("[data-rejected]").inner_text() == f"{sum(s['rejected'] for s in uploads):,}"
    assert not re.search(r"\b[0-9a-f]{64}\b", html), "a hashed identifier is on the page"
    if any(s["rejected"] for s in uploads):
        source.locator("ul a").first.click()
        page.get_by_text("Rejected events").first.wait_for()
        assert page.locator("tbody tr").count() >= 1
        assert not re.search(r"\b[0-9a-f]{64}\b", page.content())
        page.screenshot(path=str(screenshots / "tiktok_rejects.png"), full_page=True)


def test_the_menu_entry_shows_the_page_inside_airflow(stack, page, screenshots):  # noqa: F811
    version = stack.api("GET", "/api/v2/version")["version"]
    if tuple(int(part) for part in version.split(".")[:2]) < (3, 1):
        pytest.skip(f"Airflow {version} has no plugin menu entries: the page is opened at /tiktok/")
    page.goto(f"{stack.api_url}/")
    page.get_by_role("button", name="Browse").click()
    page.get_by_role("menuitem", name="TikTok Ads").click()
    page.wait_for_url("**/plugin/tiktok_ads")
    frame = page.frame_locator("iframe").first
    frame.locator("#audiences").wait_for()
    assert frame.get_by_text("Ad metrics coverage").count() == 1
    page.screenshot(path=str(screenshots / "tiktok_page_in_airflow.png"))
