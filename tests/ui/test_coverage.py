"""Ad-metrics coverage: each day's status from runs and partition files, missing ranges, the exact backfill."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.ad_metrics.sinks import JsonLinesSink
from airflow_provider_tiktok.ui import coverage
from airflow_provider_tiktok.ui.coverage import EMPTY, IMPORTED, MISSING, REVISED
from airflow_provider_tiktok.ui.records import AssetRecord

pytestmark = pytest.mark.unit

ADVERTISER = "7000000000000000001"
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc)
LA_OFFSET = timedelta(hours=8)  # Los Angeles midnight is 08:00 UTC in November


def run(
    day_from: str, day_to: str, *, lookback: str | None = None, rows: int = 10, revised: int = 0, **kw
) -> AssetRecord:
    start = datetime.combine(date.fromisoformat(day_from), datetime.min.time(), timezone.utc) + LA_OFFSET
    extra = {"date_from": day_from, "date_to": day_to, "lookback_from": lookback or day_from, "rows": rows}
    return AssetRecord(
        uri=f"tiktok-ad-metrics://{ADVERTISER}",
        timestamp=kw.get("at", start + timedelta(days=1)),
        extra={**extra, "destination": kw.get("destination", "")},
        summary={**extra, "rows_changed_by_lookback": revised},
        dag_id="tiktok_ad_metrics",
        task_id="import_ad_metrics",
        run_id=f"run_{day_from}",
        interval_start=start,
    )


def test_statuses_from_runs_alone_imported_empty_revised_and_missing():
    runs = coverage.runs_by_advertiser(
        [
            run("2026-11-10", "2026-11-10"),
            run("2026-11-11", "2026-11-11", rows=0),
            run("2026-11-14", "2026-11-14", lookback="2026-11-12", revised=3),
        ]
    )[ADVERTISER]
    days, notes = coverage.day_statuses(runs, None, date(2026, 11, 9), date(2026, 11, 15))
    assert [days[date(2026, 11, d)] for d in range(9, 16)] == [
        MISSING,
        IMPORTED,
        EMPTY,
        REVISED,
        REVISED,
        IMPORTED,
        MISSING,
    ]
    assert "3 rows revised" in notes[date(2026, 11, 12)]
    assert "run_2026-11-14" in notes[date(2026, 11, 12)]


def test_partition_files_tell_empty_days_and_days_imported_without_an_event(tmp_path):
    sink = JsonLinesSink(str(tmp_path), ADVERTISER)
    sink.write_day(date(2026, 11, 1), [], revision_check=False)  # no delivery: an empty file
    sink.partition(date(2026, 11, 2)).write_text('{"ad_id": "1"}\n')
    partitions = coverage.list_partitions(str(tmp_path), ADVERTISER)
    assert partitions is not None
    assert partitions[date(2026, 11, 1)] == 0
    assert partitions[date(2026, 11, 2)] > 0
    days, _ = coverage.day_statuses([], partitions, date(2026, 11, 1), date(2026, 11, 3))
    assert list(days.values()) == [EMPTY, IMPORTED, MISSING]


def test_a_table_destination_is_not_listed():
    assert coverage.list_partitions("analytics_db:marts.tiktok_ad_metrics", ADVERTISER) is None
    assert coverage.list_partitions("", ADVERTISER) is None


def test_missing_ranges_are_consecutive_days():
    days = {date(2026, 1, d): status for d, status in enumerate([MISSING, MISSING, IMPORTED, MISSING, EMPTY], start=1)}
    assert coverage.missing_ranges(days) == [(date(2026, 1, 1), date(2026, 1, 2)), (date(2026, 1, 4), date(2026, 1, 4))]


def test_the_backfill_selects_exactly_the_missing_advertiser_days():
    fill = coverage.backfill(date(2026, 11, 12), date(2026, 11, 13), "tiktok_ad_metrics", LA_OFFSET)
    first_run, last_run = datetime(2026, 11, 12, 8), datetime(2026, 11, 13, 8)
    start, end = datetime.fromisoformat(fill.from_date[:-1]), datetime.fromisoformat(fill.to_date[:-1])
    assert start <= first_run
    assert last_run <= end
    assert start > first_run - timedelta(days=1)
    assert end < last_run + timedelta(days=1)
    assert fill.days == 2
    assert '"dag_id": "tiktok_ad_metrics"' in fill.rest_body
    assert fill.from_date in fill.cli


def test_the_window_is_the_last_365_advertiser_days_and_the_dag_comes_from_the_newest_run():
    (cover,) = coverage.advertiser_coverage([run("2026-11-20", "2026-11-20")], NOW)
    # 15:00 UTC is 07:00 in Los Angeles: its yesterday is Nov 21
    assert cover.last == date(2026, 11, 21)
    assert (cover.last - cover.first).days == 364
    assert cover.count(IMPORTED) == 1
    assert cover.count(MISSING) == 364
    assert [(f.first, f.last) for f in cover.backfills] == [
        (cover.first, date(2026, 11, 19)),
        (date(2026, 11, 21), date(2026, 11, 21)),
    ]
    assert cover.dag_id == "tiktok_ad_metrics"


def test_the_offset_comes_from_the_most_recent_day_not_the_newest_run():
    winter = run("2026-11-20", "2026-11-20")
    summer = run("2026-08-10", "2026-08-10")
    summer_backfill = AssetRecord(
        **{
            **summer.__dict__,
            "timestamp": NOW,  # backfilled after the winter run
            "interval_start": datetime(2026, 8, 10, 7, tzinfo=timezone.utc),  # daylight saving time
        }
    )
    runs = coverage.runs_by_advertiser([winter, summer_backfill])[ADVERTISER]
    assert coverage.day_offset(runs) == LA_OFFSET


def test_a_run_with_explicit_dates_gives_no_offset():
    far = run("2026-01-01", "2026-01-31")
    odd = AssetRecord(**{**far.__dict__, "interval_start": datetime(2026, 11, 20, 8, tzinfo=timezone.utc)})
    runs = coverage.runs_by_advertiser([odd])[ADVERTISER]
    assert coverage.day_offset(runs) is None


def test_events_without_a_range_are_ignored():
    record = AssetRecord(uri=f"tiktok-ad-metrics://{ADVERTISER}", timestamp=NOW, extra={"rows": 3})
    assert coverage.runs_by_advertiser([record]) == {}
