"""Report windows read by several threads against the live emulator: the partitions are byte for byte those of a
one-reader import over the same multi-window range (and the emulator's own rows), with the same calls."""

from __future__ import annotations

from datetime import date
from itertools import pairwise
from pathlib import Path

import pytest

from airflow_provider_tiktok.ad_metrics.importer import MetricsImport
from airflow_provider_tiktok.ad_metrics.report import days_between
from airflow_provider_tiktok.ad_metrics.sinks import JsonLinesSink
from airflow_provider_tiktok.emulator import ADVERTISER_A
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from tests.helpers.ad_metrics import expected_partition, partition

pytestmark = pytest.mark.integration

FIRST, LAST = date(2026, 1, 1), date(2026, 3, 5)  # 64 days: windows of 30, 30 and 4
REPORT = "/open_api/v1.3/report/integrated/get/"


def _import(root: Path, readers: int) -> tuple[dict[str, object], dict[str, bytes]]:
    """One import of FIRST..LAST with ``readers`` threads: its summary and every file it left, by path."""
    run = MetricsImport(
        TikTokAdsHook("tiktok_default"), ADVERTISER_A, "USD", FIRST, FIRST, LAST, True, {}, readers=readers
    )
    with JsonLinesSink(str(root), ADVERTISER_A) as sink:
        summary = run.summary(run.run(sink), sink.location)
    summary.pop("destination")
    return summary, {
        str(path.relative_to(root)): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()
    }


def _overlapping(entries: list[dict[str, float]]) -> bool:
    """Whether two of the logged requests were being handled at the same time."""
    spans = sorted((entry["arrived"], entry["t"]) for entry in entries)
    return any(later[0] < earlier[1] for earlier, later in pairwise(spans))


def test_three_readers_write_the_bytes_of_one_reader(emulator, emulator_conn, home, tmp_path):
    emulator.state.faults.add(f"path={REPORT},kind=delay,ms=40,rate=0.5")  # answers finish out of order
    one_summary, one_files = _import(tmp_path / "one", readers=1)
    one_log = emulator.state.requests()
    three_summary, three_files = _import(tmp_path / "three", readers=3)
    three_log = emulator.state.requests()[len(one_log) :]

    assert three_files == one_files
    assert three_summary == one_summary
    assert one_summary["windows"] == 3
    for day in days_between(FIRST, LAST):
        assert (
            one_files[str(partition(Path(), ADVERTISER_A, day))]
            == expected_partition(emulator, ADVERTISER_A, day).encode()
        )
    reports = [entry for entry in three_log if entry["path"] == REPORT]
    assert sorted(e["query"]["start_date"] + e["query"]["page"] for e in reports) == sorted(
        e["query"]["start_date"] + e["query"]["page"] for e in one_log if e["path"] == REPORT
    )
    assert _overlapping(reports)  # the three readers really read at once
    assert not _overlapping([entry for entry in one_log if entry["path"] == REPORT])
