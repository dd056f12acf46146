"""The page's HTML and drawings from fixed data: the numbers in their places, values escaped, no identifiers."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.ui import svg
from airflow_provider_tiktok.ui.audiences import LedgerView
from airflow_provider_tiktok.ui.coverage import EMPTY, IMPORTED, MISSING, REVISED, Coverage
from airflow_provider_tiktok.ui.page import Links, render_page, render_refusal, render_rejects
from airflow_provider_tiktok.ui.records import AssetRecord, DeferredSync, PageData
from airflow_provider_tiktok.ui.uploads import UploadRun

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 22, 15, 30, tzinfo=timezone.utc)
ADVERTISER = "7000000000000000001"
LINKS = Links(airflow="/base", home="/base/tiktok/", rejects="/base/tiktok/rejects")
HASHED = "b" * 64


def records() -> list[AssetRecord]:
    metrics = {"date_from": "2026-11-20", "date_to": "2026-11-20", "lookback_from": "2026-11-17", "rows": 12}
    return [
        AssetRecord(
            uri=f"tiktok-ad-metrics://{ADVERTISER}",
            timestamp=NOW - timedelta(hours=5),
            extra={**metrics, "destination": ""},
            summary={**metrics, "rows_changed_by_lookback": 2},
            dag_id="tiktok_ad_metrics",
            task_id="import_ad_metrics",
            run_id="scheduled__2026-11-20",
            interval_start=datetime(2026, 11, 20, 8, tzinfo=timezone.utc),
        ),
        AssetRecord(
            uri=f"tiktok-audience://{ADVERTISER}/%3Cb%3ECohort%3C%2Fb%3E",
            timestamp=NOW - timedelta(hours=1),
            extra={"audience_id": "555", "added": 4, "removed": 1, "audience_size": 1600},
            summary={
                "audience_id": "555",
                "actions": ["APPEND", "REMOVE"],
                "usable": True,
                "audience_size": 1600,
                "added": 4,
                "removed": 1,
            },
            dag_id="tiktok_audience_sync",
            task_id="sync_cohort",
            run_id="scheduled__x",
        ),
        AssetRecord(
            uri="tiktok-events://CPIXEL1",
            timestamp=NOW - timedelta(days=1),
            extra={"event_source": "web", "received": 120, "sent": 117, "rejected": 3},
            summary={
                "sent": 117,
                "rejected": 3,
                "rejected_by_reason": {"currency: unknown currency": 3},
                "rejects_uri": "/tmp/rejects.jsonl",
            },
            dag_id="tiktok_events_upload",
            task_id="upload_events",
            run_id="manual__1",
        ),
    ]


@pytest.fixture(scope="module")
def html() -> str:
    data = PageData(
        now=NOW,
        records=records(),
        deferred=[
            DeferredSync(
                "tiktok_audience_sync", "sync_cohort", "manual__2", datetime(2026, 11, 23, 0, 1, tzinfo=timezone.utc)
            )
        ],
    )
    ledgers = [LedgerView(ADVERTISER, "name-x", "555", "<b>Cohort</b>", 24)]
    return render_page(data, ledgers, LINKS, (3, 3))


def test_audience_quota_reset_last_sync_and_deferral(html):
    assert 'data-calls-used="24">24 of 24<' in html
    assert 'data-reset="2026-11-23T00:00:00+00:00"' in html
    assert "APPEND, REMOVE" in html
    assert "+4 / -1" in html
    assert "1,600" in html
    assert ">usable<" in html
    assert "waiting until 2026-11-23 00:01 UTC" in html
    assert 'href="/base/dags/tiktok_audience_sync/runs/scheduled__x/tasks/sync_cohort"' in html


def test_coverage_counts_and_the_backfill_of_each_gap(html):
    assert re.search(r'data-count="imported">1<', html)
    assert re.search(r'data-count="revised">3<', html)
    assert re.search(r'data-count="missing">361<', html)
    assert 'data-first="2026-11-21" data-last="2026-11-21"' in html
    assert "POST /api/v2/backfills" in html
    assert "airflow backfill create --dag-id tiktok_ad_metrics" in html
    assert html.count("<rect") >= 365


def test_uploads_chart_reasons_and_rejects_link(html):
    assert "data-sent>117<" in html
    assert "data-rejected>3<" in html
    assert "currency: unknown currency" in html
    assert (
        'href="/base/tiktok/rejects?dag_id=tiktok_events_upload&amp;run_id=manual__1&amp;task_id=upload_events"' in html
    )


def test_values_are_escaped_and_no_identifier_is_shown(html):
    assert "<b>Cohort</b>" not in html
    assert "&lt;b&gt;Cohort&lt;/b&gt;" in html
    assert not re.search(r"[0-9a-f]{64}", html)


def test_empty_page_says_what_is_missing():
    html = render_page(PageData(now=NOW), [], LINKS, (3, 0))
    assert "No audience synced yet" in html
    assert "No ad-metrics import" in html
    assert "No event upload" in html


def test_rejects_page_and_refusal_page():
    rejects = render_rejects(
        "d / r / t",
        [{"row": 3, "field": "currency", "reason": "unknown", "code": None, "batch": 0}],
        "/tmp/r.jsonl",
        LINKS,
    )
    assert ">3<" in rejects
    assert "unknown" in rejects
    assert 'href="/base/tiktok/"' in rejects
    refused = render_refusal(401, "Not authenticated", "/base/")
    assert "401: Not authenticated" in refused
    assert 'localStorage.getItem("token")' in refused


def test_calendar_has_one_square_per_day_with_its_status():
    days = {
        date(2026, 1, 1) + timedelta(days=n): status for n, status in enumerate([IMPORTED, EMPTY, REVISED, MISSING])
    }
    drawing = str(svg.calendar(Coverage(ADVERTISER, date(2026, 1, 1), date(2026, 1, 4), days)))
    assert re.findall(r'data-status="(\w+)"', drawing) == [IMPORTED, EMPTY, REVISED, MISSING]
    assert "<title>2026-01-04: missing</title>" in drawing


def test_bars_scale_to_a_round_maximum():
    record = AssetRecord(uri="tiktok-events://X", timestamp=NOW, extra={}, run_id="r")
    drawing = str(svg.bars([UploadRun(record, 117, 3, 120, None)]))
    assert ">200</text>" in drawing
    assert "117 sent, 3 rejected" in drawing
