"""The benchmark scripts end to end at tiny sizes, as ``run_all`` runs them (a process writing --figures-json):
the counts that have one right answer must be exact. Guards the benchmarks against rot. bench/events.py runs its
speed part only: its other parts start three Airflow-importing processes (over 20 s); the load smoke covers its
upload path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.figures import Figure, read_json

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run_script(tmp_path: Path, script: str, *args: str) -> dict[str, Figure]:
    """Run ``bench/<script>`` with ``args``; its figures by name (the run must succeed)."""
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args, "--figures-json", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return {figure.name: figure for figure in read_json(out)}


def test_ad_metrics_bench(tmp_path: Path) -> None:
    figures = run_script(tmp_path, "ad_metrics.py", "--days", "3")
    ranged = figures["report calls of one 3-day ranged import vs floor"]
    assert (ranged.ok, ranged.ratio) == (True, 1.0)
    assert figures["report calls per backfill day vs floor"].value == 2.0
    assert figures["most calls of one daily run"].value == 2
    assert figures["ranged and daily imports wrote the same bytes"].value is True
    against_floor = figures["wall time of the 3-day ranged import vs the bare client"]
    assert (against_floor.against, against_floor.unit) == ("floor", "s")  # measured; judged at 365 days only
    assert against_floor.ratio > 0
    assert figures["rows the bare client read vs the import"].ok is True
    assert figures["40100 answers to the import and the bare client"].value == 0


def test_audience_bench(tmp_path: Path) -> None:
    figures = run_script(tmp_path, "audience.py", "--diff-size", "20000", "--first-sync", "3000")
    assert figures["ids added + removed by the diff"].value == 400  # 1% of 20k left, as many joined
    calls = figures["audience calls per sync vs 24 a day"]
    assert (calls.value, calls.ok, calls.against) == (2, True, "of 24")  # APPEND+REMOVE while a REPLACE processes
    assert figures["audience calls of that first sync"].value == 1


def test_events_bench_speed_of_each_phone_region(tmp_path: Path) -> None:
    figures = run_script(tmp_path, "events.py", "--speed-only", "--sizes", "400,0,0")
    regions = ("US", "DE", "GB", "FR", "JP", "BR", "IN")
    assert list(figures) == [f"events/s full path vs SHA-256 floor, {region} phones (400)" for region in regions]
    for figure in figures.values():
        assert figure.against == "floor"
        assert figure.ratio is not None
        assert figure.ratio > 1  # building does more than the floor's hashing
        assert figure.target.startswith(">= floor / 3 (")  # the target: at most 3x the floor


def test_load_bench_events_and_audience(tmp_path: Path) -> None:
    figures = run_script(tmp_path, "load.py", "--part", "events,audience", "--events", "3500", "--members", "2000")
    assert figures["3.5k events: requests vs ceil(n/1000)"].value == 4
    assert figures["3.5k events: distinct event_ids at the emulator"].value == 3500
    assert figures["3.5k events: expected event_ids missing or extra"].value == 0
    assert figures["3.5k events: event_ids received more than once"].value == 0
    assert figures["3.5k events: peak RSS of the task"].ok is True
    first, churn = "2k first sync", "2k churn sync (20 out, 20 in)"
    assert figures[f"{first}: audience size at the emulator (cover_num)"].value == 2000
    assert figures[f"{first}: members at the emulator equal the cohort"].value is True
    assert figures[f"{first}: audience calls vs 24 a day"].value == 1
    assert figures[f"{churn}: audience size at the emulator (cover_num)"].value == 2000
    assert figures[f"{churn}: members at the emulator equal the cohort"].value is True
    assert figures["audience calls at the emulator for both syncs"].value == 2
