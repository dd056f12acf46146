"""The example DAG: one advertiser day per run (DST days included), catchup off, a 3-day lookback, and a
concurrency that keeps parallel runs within TikTok's app rate limit."""

from __future__ import annotations

import importlib.util
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pendulum
import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator
from tests.helpers.ad_metrics import expected_partition, partition

DAG_FILE = Path(__file__).parents[3] / "dags_examples" / "tiktok_ad_metrics.py"
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


@pytest.fixture(scope="module")
def dag():
    spec = importlib.util.spec_from_file_location("tiktok_ad_metrics_example", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


@pytest.fixture(scope="module")
def timetable(dag):
    from tests.helpers.airflow_compat import core_timetable

    return core_timetable(dag.timetable)


@pytest.mark.unit
def test_dag_settings(dag):
    assert dag.dag_id == "tiktok_ad_metrics"
    assert dag.catchup is False
    [task] = dag.tasks
    assert isinstance(task, TikTokAdMetricsOperator)
    assert task.lookback_days == 3
    assert task.date_from == "{{ data_interval_start | ds }}"
    # Parallel runs (scheduled or backfilled) draw from the connection's one app-wide budget, undivided.
    assert task.max_active_tis_per_dag == dag.max_active_runs > 1
    assert task.rate_limit is None
    assert dag.start_date <= pendulum.now("UTC") - timedelta(days=366)  # any day of the last year is backfillable


@pytest.mark.unit
@pytest.mark.parametrize("day", ["2025-11-01", "2025-11-02", "2025-11-03", "2026-03-08", "2026-03-09", "2026-02-28"])
def test_each_run_covers_one_calendar_day_in_the_advertiser_zone(timetable, day):
    local_midnight = datetime.combine(date.fromisoformat(day) + timedelta(days=1), time(), LOS_ANGELES)
    run_after = pendulum.instance(local_midnight + timedelta(hours=1))
    interval = timetable.infer_manual_data_interval(run_after=run_after)
    start, end = interval.start.astimezone(LOS_ANGELES), interval.end.astimezone(LOS_ANGELES)
    assert (start.date().isoformat(), start.time(), end.date(), end.time()) == (
        day,
        time(),
        date.fromisoformat(day) + timedelta(days=1),
        time(),
    )


@pytest.mark.integration
def test_a_scheduled_run_imports_its_advertiser_day(dag, timetable, emulator, emulator_conn, context, home):
    interval = timetable.infer_manual_data_interval(run_after=pendulum.datetime(2026, 3, 10, 15, 30, tz="UTC"))
    [task] = dag.tasks
    op = TikTokAdMetricsOperator(task_id="t", lookback_days=task.lookback_days)
    op.date_from = interval.start.strftime("%Y-%m-%d")  # the rendered default: the interval start's UTC date
    summary = op.execute(context(data_interval_start=interval.start, data_interval_end=interval.end))
    assert (summary["date_from"], summary["lookback_from"], summary["days"]) == ("2026-03-09", "2026-03-06", 4)
    for n in range(4):
        day = date(2026, 3, 6) + timedelta(days=n)
        text = partition(home / "tiktok" / "ad_metrics", ADVERTISER_A, day).read_text(encoding="utf-8")
        assert text == expected_partition(emulator, ADVERTISER_A, day)
