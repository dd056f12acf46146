"""MetricsImport with an in-memory hook: windows read by several threads are still written in date order, the
same days as a one-reader import; a failing window fails the run with the days before it written whole and
nothing of it or after it (no temporary file either)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_tiktok.ad_metrics.importer import MetricsImport
from airflow_provider_tiktok.ad_metrics.report import days_between
from airflow_provider_tiktok.ad_metrics.sinks import JsonLinesSink
from airflow_provider_tiktok.exceptions import TikTokApiError

pytestmark = pytest.mark.unit

ADVERTISER = "7000000000000000001"
FIRST, LAST = date(2026, 1, 1), date(2026, 4, 10)  # 100 days: windows of 30, 30, 30 and 10
ADS = [
    {"ad_id": str(1900 + n), "ad_name": f"Ad {n}", "landing_page_url": f"https://x.example/?utm_content=c{n}"}
    for n in range(5)
]


def _row(ad: int, day: date) -> dict[str, Any]:
    metrics = {"spend": f"{ad}.{day.day:02d}", "impressions": str(100 * ad + day.day), "clicks": "3", "conversion": "-"}
    return {"dimensions": {"ad_id": str(1900 + ad), "stat_time_day": f"{day} 00:00:00"}, "metrics": metrics}


class PagedHook:
    """Answers report windows (two pages each, after a random pause) and one ad listing; can fail one window."""

    def __init__(self, fail_from: date | None = None) -> None:
        self.fail_from = fail_from
        self.api_calls = 0
        self.windows_read: list[str] = []
        self._random = random.Random(7)
        self._lock = threading.Lock()

    def iter_report_pages(self, params: dict[str, Any], *, page_size: int) -> Iterator[dict[str, Any]]:
        start, end = date.fromisoformat(params["start_date"]), date.fromisoformat(params["end_date"])
        with self._lock:
            self.windows_read.append(params["start_date"])
            pause = self._random.uniform(0, 0.02)
        if start == self.fail_from:
            raise TikTokApiError(40001, "no permission", "r-1", path="report/integrated/get/")
        rows = [_row(ad, day) for day in days_between(start, end) for ad in range(5) if (ad + day.day) % 3]
        half = len(rows) // 2
        for page in (rows[:half], rows[half:]):
            time.sleep(pause)
            with self._lock:
                self.api_calls += 1
            yield {"list": page, "page_info": {"total_number": len(rows), "total_page": 2}}

    def iter_ads(self, params: dict[str, Any], *, page_size: int) -> Iterator[dict[str, Any]]:
        with self._lock:
            self.api_calls += 1
        yield from ADS


class RecordingSink(JsonLinesSink):
    """JSON Lines partitions, remembering the order in which days were handed over."""

    def __init__(self, root: str, advertiser_id: str) -> None:
        super().__init__(root, advertiser_id)
        self.order: list[tuple[date, int, bool]] = []

    def write_day(self, day: date, records: Any, *, revision_check: bool) -> None:
        self.order.append((day, len(records), revision_check))
        super().write_day(day, records, revision_check=revision_check)


def _import(hook: PagedHook, root: Path, readers: int) -> tuple[MetricsImport, RecordingSink]:
    run = MetricsImport(hook, ADVERTISER, "USD", FIRST, FIRST + timedelta(days=40), LAST, True, {}, readers=readers)  # type: ignore[arg-type]
    sink = RecordingSink(str(root), ADVERTISER)
    with sink:
        run.run(sink)
    return run, sink


def _files(root: Path) -> dict[str, bytes]:
    return {str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def test_three_readers_write_the_same_days_in_the_same_order_as_one(tmp_path):
    one, one_sink = _import(PagedHook(), tmp_path / "one", readers=1)
    three, three_sink = _import(PagedHook(), tmp_path / "three", readers=3)
    assert three_sink.order == one_sink.order
    assert [day for day, _, _ in one_sink.order] == days_between(FIRST, LAST)
    assert _files(tmp_path / "three") == _files(tmp_path / "one")
    assert (three.windows, three.tally, three.hook.api_calls) == (one.windows, one.tally, one.hook.api_calls)
    assert (one.windows, one.hook.api_calls) == (4, 4 * 2 + 1)


@pytest.mark.parametrize("readers", [1, 3])
def test_a_failing_window_fails_the_run_after_writing_only_the_windows_before_it(tmp_path, readers):
    hook = PagedHook(fail_from=date(2026, 1, 31))  # the second window
    with pytest.raises(TikTokApiError, match="no permission") as info:
        _import(hook, tmp_path, readers)
    assert info.value.code == 40001
    written = sorted(path.name for path in tmp_path.rglob("*") if path.is_file())
    assert written == [f"date={day}.jsonl" for day in days_between(FIRST, date(2026, 1, 30))]  # no temporary file
