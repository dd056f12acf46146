"""TikTokAdMetricsOperator against the live emulator: windows, exact rows, deleted ads, reruns, 40067,
history limit, lookback revisions, the data interval in the advertiser's zone, call counts."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from airflow_provider_tiktok.ad_metrics.report import days_between
from airflow_provider_tiktok.emulator import ADVERTISER_A, ADVERTISER_B, ADVERTISER_C
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.links import XCOM_LINK_KEY
from airflow_provider_tiktok.operators.ad_metrics import (
    ASSET_ALIAS,
    TikTokAdMetricsOperator,
)
from tests.helpers.ad_metrics import NOW, expected_partition, partition, spy_requests

pytestmark = pytest.mark.integration

D = date.fromisoformat
REPORT = "report/integrated/get/"


def _windows(calls):
    return [(D(p["start_date"]), D(p["end_date"])) for path, p in calls if path == REPORT and p.get("page") == 1]


def test_45_days_in_two_windows_equal_the_emulator_rows(emulator, emulator_conn, home, context, tmp_path):
    destination = tmp_path / "metrics"
    op = TikTokAdMetricsOperator(
        task_id="t", date_from="2026-01-20", date_to="2026-03-05", destination=str(destination)
    )
    calls = spy_requests(op)
    ctx = context()
    summary = op.execute(ctx)

    windows = _windows(calls)
    assert windows == [(D("2026-01-20"), D("2026-02-18")), (D("2026-02-19"), D("2026-03-05"))]
    assert all((end - start).days + 1 <= 30 for start, end in windows)
    days = days_between(D("2026-01-20"), D("2026-03-05"))
    expected_rows = [emulator.state.expected_daily_rows(ADVERTISER_A, day, True) for day in days]
    for day in days:
        assert partition(destination, ADVERTISER_A, day).read_text(encoding="utf-8") == expected_partition(
            emulator, ADVERTISER_A, day
        )
    assert sorted(p.name for p in (destination / f"ad_account_id={ADVERTISER_A}").iterdir()) == [
        f"date={day.isoformat()}.jsonl" for day in days
    ]

    flat = [row for rows in expected_rows for row in rows]
    report_pages = sum(-(-sum(len(r) for r in expected_rows[i : i + 30]) // 1000) for i in (0, 30))
    assert summary == {
        "advertiser_id": ADVERTISER_A,
        "date_from": "2026-01-20",
        "date_to": "2026-03-05",
        "lookback_from": "2026-01-20",
        "days": 45,
        "rows": len(flat),
        "rows_changed_by_lookback": 0,
        "api_calls": 1 + report_pages + 1,  # advertiser/info (not cached yet), report pages, one ad/get page
        "windows": 2,
        "currency": "USD",
        "totals": {
            "cost": float(sum((r["spend"] for r in flat), Decimal(0))),
            "impressions": sum(r["impressions"] for r in flat),
            "clicks": sum(r["clicks"] for r in flat),
            "conversions": sum(r["conversion"] for r in flat),
        },
        "empty_metric_values": {
            "cost": 0,
            "impressions": 0,
            "clicks": 0,
            "conversions": sum(1 for r in flat if r["conversion"] == 0),  # the emulator answers 0 as "-"
        },
        "ads_missing_from_listing": 0,
        # records whose landing page holds a macro only a click fills (the seed's macro pages), per macro
        "unresolved_url_macros": dict(sorted(Counter(m for r in flat for m in r["unresolved_url_macros"]).items())),
        "destination": str(destination),
    }
    assert set(summary["unresolved_url_macros"]) == {"__CTYPE__", "__PLACEMENT__"}
    assert emulator.state.stats()["calls"] == {
        "/open_api/v1.3/advertiser/info/": 1,
        "/open_api/v1.3/report/integrated/get/": report_pages,
        "/open_api/v1.3/ad/get/": 1,
    }
    assert all(p["page_size"] == 1000 for path, p in calls if path in (REPORT, "ad/get/"))

    assert ctx["ti"].xcom[XCOM_LINK_KEY] == f"https://ads.tiktok.com/i18n/perf/creative?aadvid={ADVERTISER_A}"
    from airflow.sdk import AssetAlias

    [event] = ctx["outlet_events"][AssetAlias(name=ASSET_ALIAS)].asset_alias_events
    assert event.dest_asset_key.uri == f"tiktok-ad-metrics://{ADVERTISER_A}/"  # as Airflow normalises it
    assert event.extra["totals"] == summary["totals"]
    assert event.extra["rows"] == summary["rows"]
    assert event.extra["days"] == 45


def test_deleted_ads_spend_is_included_unless_excluded(emulator, emulator_conn, home, context, tmp_path):
    day = D("2026-01-10")
    rows = emulator.state.expected_daily_rows(ADVERTISER_A, day, True)
    deleted = {r["ad_id"]: r for r in rows if r["deleted"]}
    assert deleted, "the seed must hold a deleted ad that delivered on this day"

    with_deleted = TikTokAdMetricsOperator(task_id="a", date_from=str(day), destination=str(tmp_path / "all"))
    calls = spy_requests(with_deleted)
    with_deleted.execute(context())
    text = partition(tmp_path / "all", ADVERTISER_A, day).read_text(encoding="utf-8")
    assert text == expected_partition(emulator, ADVERTISER_A, day, include_deleted=True)
    assert all(f'"ad_id":"{ad_id}"' in text for ad_id in deleted)
    assert [p.get("filtering") for path, p in calls if path == "ad/get/"] == [{"primary_status": "STATUS_ALL"}]

    without = TikTokAdMetricsOperator(
        task_id="b", date_from=str(day), destination=str(tmp_path / "live"), include_deleted=False
    )
    calls = spy_requests(without)
    summary = without.execute(context())
    text = partition(tmp_path / "live", ADVERTISER_A, day).read_text(encoding="utf-8")
    assert text == expected_partition(emulator, ADVERTISER_A, day, include_deleted=False)
    assert not any(f'"ad_id":"{ad_id}"' in text for ad_id in deleted)
    assert summary["rows"] == len(rows) - len(deleted)
    assert all("filtering" not in p for _, p in calls)


def test_rerun_of_the_same_days_gives_identical_files_and_no_duplicates(emulator, emulator_conn, home, context):
    kwargs = {"date_from": "2026-02-01", "date_to": "2026-02-03"}
    first = TikTokAdMetricsOperator(task_id="t", **kwargs).execute(context())
    root = home / "tiktok" / "ad_metrics"
    assert first["destination"] == str(root)
    days = days_between(D("2026-02-01"), D("2026-02-03"))
    before = {day: partition(root, ADVERTISER_A, day).read_bytes() for day in days}

    second = TikTokAdMetricsOperator(task_id="t", **kwargs).execute(context())
    after = {day: partition(root, ADVERTISER_A, day).read_bytes() for day in days}
    assert after == before
    assert second["rows"] == first["rows"] == sum(text.count(b"\n") for text in after.values())
    for day, text in after.items():
        ids = [line.split(b'"ad_id":"')[1].split(b'"')[0] for line in text.splitlines()]
        assert len(ids) == len(set(ids)) == len(emulator.state.expected_daily_rows(ADVERTISER_A, day, True))
    assert second["rows_changed_by_lookback"] == 0
    assert second["api_calls"] == first["api_calls"] - 1  # the advertiser's profile now comes from the cache
    assert sorted(p.name for p in (root / f"ad_account_id={ADVERTISER_A}").iterdir()) == [
        f"date={day.isoformat()}.jsonl" for day in days
    ]  # no temporary files left behind


def test_a_40067_answer_halves_the_window_and_the_data_stays_complete(
    emulator, emulator_conn, home, context, tmp_path, caplog
):
    emulator.state.faults.max_report_days = 10
    op = TikTokAdMetricsOperator(task_id="t", date_from="2026-02-01", date_to="2026-02-20", destination=str(tmp_path))
    calls = spy_requests(op)
    with caplog.at_level(logging.WARNING):
        summary = op.execute(context())

    assert _windows(calls) == [
        (D("2026-02-01"), D("2026-02-20")),  # answered 40067
        (D("2026-02-01"), D("2026-02-10")),
        (D("2026-02-11"), D("2026-02-20")),
    ]
    assert emulator.state.stats()["codes"]["40067"] == 1
    assert summary["windows"] == 2
    assert "2026-02-01..2026-02-20 too large (40067)" in caplog.text
    for day in days_between(D("2026-02-01"), D("2026-02-20")):
        assert partition(tmp_path, ADVERTISER_A, day).read_text(encoding="utf-8") == expected_partition(
            emulator, ADVERTISER_A, day
        )


def test_a_date_400_days_ago_fails_at_once_without_any_api_call(emulator, emulator_conn, home, context):
    day = (NOW - timedelta(days=400)).date()
    op = TikTokAdMetricsOperator(task_id="t", date_from=str(day))
    with pytest.raises(TikTokConfigError, match="max_history_days=365") as info:
        op.execute(context())
    assert str(day) in str(info.value)
    assert emulator.state.stats()["calls"] == {}
    assert op.hook.api_calls == 0
    assert not (home / "tiktok" / "ad_metrics" / f"ad_account_id={ADVERTISER_A}").exists()


def test_the_history_limit_is_exact_in_the_advertiser_zone(emulator, emulator_conn, home, context, tmp_path):
    # NOW is 2026-03-10 in Los Angeles: 365 days back is 2025-03-10; one day more fails after one profile call.
    ok = TikTokAdMetricsOperator(task_id="t", date_from="2025-03-10", destination=str(tmp_path))
    assert ok.execute(context())["days"] == 1
    too_old = TikTokAdMetricsOperator(task_id="t", date_from="2025-03-09", destination=str(tmp_path))
    with pytest.raises(TikTokConfigError, match=r"earliest day that can be imported is 2025-03-10"):
        too_old.execute(context())
    assert too_old.hook.api_calls == 0  # the cached profile made the exact check free
    not_over = TikTokAdMetricsOperator(task_id="t", date_from="2026-03-10", destination=str(tmp_path))
    with pytest.raises(TikTokConfigError, match=r"not over yet .*America/Los_Angeles, today 2026-03-10"):
        not_over.execute(context())
    assert not partition(tmp_path, ADVERTISER_A, D("2026-03-10")).exists()


def test_lookback_reimports_revised_days_and_counts_changed_rows(emulator, emulator_conn, home, context, clock):
    root = home / "tiktok" / "ad_metrics"
    first = TikTokAdMetricsOperator(task_id="t", date_from="2026-03-09", lookback_days=3).execute(context())
    assert (first["lookback_from"], first["days"], first["rows_changed_by_lookback"]) == ("2026-03-06", 4, 0)
    lookback_days = days_between(D("2026-03-07"), D("2026-03-09"))
    stored = {day: emulator.state.expected_daily_rows(ADVERTISER_A, day, True) for day in lookback_days}

    next_day = NOW + timedelta(days=1)
    emulator.state.set_clock(next_day)
    clock(next_day)
    second = TikTokAdMetricsOperator(task_id="t", date_from="2026-03-10", lookback_days=3).execute(context())

    revised = 0
    for day in lookback_days:
        now_rows = {r["ad_id"]: r for r in emulator.state.expected_daily_rows(ADVERTISER_A, day, True)}
        keys = ("spend", "impressions", "clicks", "conversion")
        revised += sum(
            1 for r in stored[day] if tuple(r[k] for k in keys) != tuple(now_rows[r["ad_id"]][k] for k in keys)
        )
        assert partition(root, ADVERTISER_A, day).read_text(encoding="utf-8") == expected_partition(
            emulator, ADVERTISER_A, day
        )
    assert revised > 0  # late conversions arrived
    assert second["rows_changed_by_lookback"] == revised
    assert (second["lookback_from"], second["days"]) == ("2026-03-07", 4)


@pytest.mark.parametrize(
    ("advertiser_id", "interval_start", "day"),
    [
        (ADVERTISER_A, "2026-03-09T07:00:00+00:00", "2026-03-09"),  # Los Angeles midnight (PDT)
        (ADVERTISER_B, "2026-03-08T23:00:00+00:00", "2026-03-09"),  # Berlin midnight: ds would say 03-08
        (ADVERTISER_C, "2026-03-09T15:00:00+00:00", "2026-03-10"),  # Tokyo midnight
    ],
)
def test_default_date_from_is_the_data_interval_day_in_the_advertiser_zone(
    emulator, emulator_conn, home, context, advertiser_id, interval_start, day, caplog
):
    op = TikTokAdMetricsOperator(task_id="t", advertiser_id=advertiser_id)
    start = datetime.fromisoformat(interval_start)
    op.date_from = start.date().isoformat()  # what "{{ data_interval_start | ds }}" renders (the UTC date)
    with caplog.at_level(logging.WARNING):
        summary = op.execute(context(data_interval_start=start, data_interval_end=start + timedelta(days=1)))
    assert (summary["date_from"], summary["date_to"], summary["days"]) == (day, day, 1)
    text = partition(home / "tiktok" / "ad_metrics", advertiser_id, D(day)).read_text(encoding="utf-8")
    assert text == expected_partition(emulator, advertiser_id, D(day))
    assert "not at midnight" not in caplog.text


def test_an_interval_not_aligned_to_the_advertiser_day_is_imported_with_a_warning(
    emulator, emulator_conn, home, context, caplog
):
    op = TikTokAdMetricsOperator(task_id="t")
    start = datetime(2026, 3, 9, tzinfo=timezone.utc)  # a UTC-midnight schedule: 17:00 on 03-08 in Los Angeles
    op.date_from = "2026-03-09"
    with caplog.at_level(logging.WARNING):
        summary = op.execute(context(data_interval_start=start))
    assert summary["date_from"] == "2026-03-08"
    assert "not at midnight in the advertiser's time zone America/Los_Angeles" in caplog.text
    assert "CronDataIntervalTimetable('0 0 * * *', timezone='America/Los_Angeles')" in caplog.text


def test_daily_runs_cost_two_calls_for_up_to_1000_ads(emulator, emulator_conn, home, context):
    calls = []
    for day in days_between(D("2026-02-01"), D("2026-02-05")):
        summary = TikTokAdMetricsOperator(task_id="t", date_from=str(day)).execute(context())
        assert summary["rows"] < 1000
        calls.append(summary["api_calls"])
    assert calls == [3, 2, 2, 2, 2]  # the first run also reads advertiser/info once, then it is cached


def test_literal_advertiser_emits_on_its_declared_asset(emulator, emulator_conn, home, context):
    from airflow.sdk import Asset

    ctx = context()
    op = TikTokAdMetricsOperator(task_id="t", advertiser_id=ADVERTISER_A, date_from="2026-02-01")
    summary = op.execute(ctx)
    event = ctx["outlet_events"][Asset(uri=f"tiktok-ad-metrics://{ADVERTISER_A}")]
    assert event.extra["totals"] == summary["totals"]
    assert event.extra["rows"] == summary["rows"]
