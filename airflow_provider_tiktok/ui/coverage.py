"""Ad-metrics coverage per advertiser: each day of the last year imported, imported empty, missing, or revised.

A day is imported when a run's range covered it (asset events and their task summaries) or its partition
file exists; empty when that file is empty (no delivery) or the run that covered it found no rows;
revised when a run's lookback re-imported it and TikTok had changed rows. Each missing range comes with
the backfill that imports it: the REST body, the CLI line, and the DAG page holding Trigger -> Backfill.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from airflow_provider_tiktok.ui.records import AD_METRICS_SCHEME, AssetRecord, as_int, uri_parts
from airflow_provider_tiktok.utils.storage import as_path

log = logging.getLogger(__name__)

IMPORTED = "imported"
EMPTY = "empty"
REVISED = "revised"
MISSING = "missing"
STATUSES = (IMPORTED, EMPTY, REVISED, MISSING)
WINDOW_DAYS = 365
#: A backfill range is widened by this much on both sides, so that a daylight-saving shift of the advertiser's
#: midnight cannot move the first or last run out of it (neighbouring runs are 24 hours away).
RANGE_MARGIN = timedelta(hours=6)
#: The largest distance between UTC midnight and an advertiser's midnight (UTC-12 .. UTC+14).
MAX_OFFSET = timedelta(hours=14)
_PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})\.jsonl")
#: ``<sql_conn_id>:<table>``, how a table destination is named (a file destination is a path or a URI).
_TABLE_DESTINATION = re.compile(r"[\w.-]+:[\w.$]+")


@dataclass(frozen=True)
class MetricRun:
    """One import run as its asset event and summary tell it."""

    record: AssetRecord
    date_from: date
    date_to: date
    lookback_from: date
    rows: int
    revised_rows: int

    @property
    def lookback_days(self) -> tuple[date, date] | None:
        """The days re-imported before ``date_from``, if any."""
        last = self.date_from - timedelta(days=1)
        return (self.lookback_from, last) if self.lookback_from <= last else None


@dataclass(frozen=True)
class Backfill:
    """The backfill that imports one missing range: a REST body, the CLI line, the DAG's page."""

    first: date
    last: date
    dag_id: str | None
    from_date: str
    to_date: str

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def rest_body(self) -> str:
        """``POST /api/v2/backfills`` body."""
        body = {"dag_id": self.dag_id, "from_date": self.from_date, "to_date": self.to_date}
        return json.dumps({**body, "reprocess_behavior": "none"})

    @property
    def cli(self) -> str:
        return f"airflow backfill create --dag-id {self.dag_id} --from-date {self.from_date} --to-date {self.to_date}"


@dataclass
class Coverage:
    """One advertiser's calendar: a status per day of the window, with what each status rests on."""

    advertiser_id: str
    first: date
    last: date
    days: dict[date, str]
    notes: dict[date, str] = field(default_factory=dict)
    backfills: list[Backfill] = field(default_factory=list)
    dag_id: str | None = None

    def count(self, status: str) -> int:
        return sum(1 for value in self.days.values() if value == status)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def metric_run(record: AssetRecord) -> MetricRun | None:
    """The run an ad-metrics event records; None when its extra lacks the range (an event from elsewhere)."""
    first, last = _day(record.value("date_from")), _day(record.value("date_to"))
    if first is None or last is None:
        return None
    lookback = _day(record.value("lookback_from")) or first
    rows, revised = as_int(record.value("rows")), as_int(record.value("rows_changed_by_lookback"))
    return MetricRun(record, first, last, min(lookback, first), rows, revised)


def runs_by_advertiser(records: Iterable[AssetRecord]) -> dict[str, list[MetricRun]]:
    """Metric runs per advertiser id, oldest first."""
    runs: dict[str, list[MetricRun]] = {}
    for record in records:
        if record.uri.startswith(AD_METRICS_SCHEME) and (run := metric_run(record)) is not None:
            runs.setdefault(uri_parts(record.uri, AD_METRICS_SCHEME)[0], []).append(run)
    for listed in runs.values():
        listed.sort(key=lambda run: run.record.timestamp)
    return runs


def list_partitions(destination: str, advertiser_id: str) -> dict[date, int] | None:
    """Size in bytes of each day's partition file under a file destination; None for a table destination
    (or an unreadable one), whose days are then known from the runs alone."""
    if not destination or _TABLE_DESTINATION.fullmatch(destination):
        return None
    folder = as_path(destination) / f"ad_account_id={advertiser_id}"
    sizes = {}
    try:
        if not folder.is_dir():
            return {}
        for path in folder.iterdir():
            match = _PARTITION.fullmatch(path.name)
            if match:
                sizes[date.fromisoformat(match.group(1))] = path.stat().st_size
    except OSError as err:
        log.warning("TikTok page: cannot list the ad-metrics partitions under %s: %s", destination, err)
        return None
    return sizes


def day_offset(runs: Iterable[MetricRun]) -> timedelta | None:
    """How far the advertiser's midnight is from UTC midnight now, from the data interval of the run of the most
    recent day (not the newest run: a backfill of summer days would give summer time in winter)."""
    for run in sorted(runs, key=lambda run: run.date_from, reverse=True):
        start = run.record.interval_start
        if start is None:
            continue
        offset = start.astimezone(timezone.utc).replace(tzinfo=None) - datetime.combine(run.date_from, time())
        if abs(offset) <= MAX_OFFSET:
            return offset
    return None


def _mark(days: dict[date, str], notes: dict[date, str], run: MetricRun, partitions: dict[date, int] | None) -> None:
    """The days one run covered: imported, or empty when the run found no row and no file says otherwise."""
    day = run.lookback_from
    while day <= run.date_to:
        if day in days and days[day] == MISSING:
            empty = run.rows == 0 and (partitions is None or day not in partitions)
            days[day] = EMPTY if empty else IMPORTED
        day += timedelta(days=1)
    window = run.lookback_days
    if window is not None and run.revised_rows:
        day = window[0]
        while day <= window[1]:
            if day in days:
                days[day] = REVISED
                notes[day] = f"{run.revised_rows} rows revised by the lookback of run {run.record.run_id}"
            day += timedelta(days=1)


def day_statuses(
    runs: Iterable[MetricRun], partitions: dict[date, int] | None, first: date, last: date
) -> tuple[dict[date, str], dict[date, str]]:
    """A status per day from ``first`` to ``last``, and a note for each revised day."""
    days = {first + timedelta(days=n): MISSING for n in range((last - first).days + 1)}
    notes: dict[date, str] = {}
    for day, size in (partitions or {}).items():
        if day in days:
            days[day] = IMPORTED if size else EMPTY
    for run in runs:
        _mark(days, notes, run, partitions)
    return days, notes


def missing_ranges(days: dict[date, str]) -> list[tuple[date, date]]:
    """Consecutive missing days as (first, last) ranges, oldest first."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(days):
        if days[day] != MISSING:
            continue
        if ranges and ranges[-1][1] == day - timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def backfill(first: date, last: date, dag_id: str | None, offset: timedelta | None) -> Backfill:
    """The backfill whose daily runs are exactly ``first`` .. ``last``: runs start at the advertiser's midnight
    (``offset`` from UTC's; UTC when unknown), and the range is widened by :data:`RANGE_MARGIN` each side."""
    shift = offset or timedelta(0)
    start = datetime.combine(first, time()) + shift - RANGE_MARGIN
    end = datetime.combine(last, time()) + shift + RANGE_MARGIN
    return Backfill(first, last, dag_id, f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{end:%Y-%m-%dT%H:%M:%SZ}")


def coverage(advertiser_id: str, runs: list[MetricRun], partitions: dict[date, int] | None, now: datetime) -> Coverage:
    """The advertiser's last :data:`WINDOW_DAYS` days, up to its yesterday, with a backfill per missing range."""
    offset = day_offset(runs)
    local_now = now.astimezone(timezone.utc).replace(tzinfo=None) - (offset or timedelta(0))
    last = local_now.date() - timedelta(days=1)
    first = last - timedelta(days=WINDOW_DAYS - 1)
    days, notes = day_statuses(runs, partitions, first, last)
    dag_id = runs[-1].record.dag_id if runs else None
    backfills = [backfill(start, end, dag_id, offset) for start, end in missing_ranges(days)]
    return Coverage(advertiser_id, first, last, days, notes, backfills, dag_id)


def advertiser_coverage(records: Iterable[AssetRecord], now: datetime) -> list[Coverage]:
    """Every advertiser with ad-metrics events, its partitions read from the newest run's destination."""
    result = []
    for advertiser_id, runs in sorted(runs_by_advertiser(records).items()):
        destination = runs[-1].record.value("destination")
        partitions = list_partitions(str(destination), advertiser_id) if destination else None
        result.append(coverage(advertiser_id, runs, partitions, now))
    return result
