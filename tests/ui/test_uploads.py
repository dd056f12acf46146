"""Event uploads per source: runs in the window, totals, top reasons, rejects lines without their events."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.ui import uploads
from airflow_provider_tiktok.ui.records import AssetRecord

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)


def upload(days_ago: float, sent: int, rejected: int, reasons: dict[str, int] | None = None, source="CPIXEL1"):
    extra = {"event_source": "web", "received": sent + rejected, "sent": sent, "rejected": rejected}
    return AssetRecord(
        uri=f"tiktok-events://{source}",
        timestamp=NOW - timedelta(days=days_ago),
        extra=extra,
        summary={**extra, "rejected_by_reason": reasons or {}, "rejects_uri": "/x/rejects.jsonl" if rejected else None},
        dag_id="tiktok_events_upload",
        task_id="upload_events",
        run_id=f"run_{days_ago}",
    )


def test_runs_of_the_last_30_days_per_source_oldest_first_with_summed_reasons():
    records = [
        upload(1, 100, 2, {"currency: unknown currency": 2}),
        upload(40, 999, 9),  # outside the window
        upload(3, 50, 3, {"currency: unknown currency": 1, "page_url: missing": 2}),
        upload(2, 10, 0, source="CPIXEL2"),
    ]
    first, second = uploads.upload_sources(records, NOW)
    assert first.event_source_id == "CPIXEL1"
    assert first.event_source == "web"
    assert [run.sent for run in first.runs] == [50, 100]
    assert (first.sent, first.rejected) == (150, 5)
    assert first.top_reasons() == [("currency: unknown currency", 3), ("page_url: missing", 2)]
    assert first.runs[-1].rejects_uri == "/x/rejects.jsonl"
    assert (second.event_source_id, second.sent, second.rejected) == ("CPIXEL2", 10, 0)


def test_counts_fall_back_to_the_asset_extra_when_no_summary_is_kept():
    record = upload(1, 7, 1)
    bare = AssetRecord(uri=record.uri, timestamp=record.timestamp, extra=record.extra)
    (source,) = uploads.upload_sources([bare], NOW)
    assert (source.sent, source.rejected, source.runs[0].rejects_uri) == (7, 1, None)


def test_reject_rows_keep_row_field_reason_and_code_never_the_event():
    hashed = "a" * 64
    lines = [
        json.dumps(
            {
                "run_id": "r",
                "row": 4,
                "field": "currency",
                "reason": "unknown currency",
                "code": None,
                "batch": None,
                "event": {"user": {"email": hashed}},
            }
        )
        + "\n",
        "not json\n",
    ]
    rows = list(uploads.reject_rows(lines))
    assert rows[0] == {"row": 4, "field": "currency", "reason": "unknown currency", "code": None, "batch": None}
    assert "line 2" in rows[1]["reason"]
    assert hashed not in json.dumps(rows)


def test_reject_rows_stop_at_the_limit():
    lines = [json.dumps({"row": n}) + "\n" for n in range(10)]
    assert [row["row"] for row in uploads.reject_rows(lines, limit=3)] == [0, 1, 2]


def test_the_trailing_slash_airflow_adds_to_an_asset_uri_is_not_part_of_the_source_id():
    record = upload(1, 5, 0)
    slashed = AssetRecord(**{**record.__dict__, "uri": record.uri + "/"})
    (source,) = uploads.upload_sources([slashed], NOW)
    assert source.event_source_id == "CPIXEL1"
