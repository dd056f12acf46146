"""The benchmark table: verdicts and ratios of each figure builder, number formatting, the text and Markdown
renderings, and the JSON hand-over between a benchmark process and ``run_all``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench import figures as f

pytestmark = pytest.mark.unit


def test_at_most_and_at_least_ratios_and_verdicts() -> None:
    under = f.at_most("peak RSS", 150.0, 300.0, "MB")
    assert (under.ratio, under.ok, under.target, under.against) == (0.5, True, "<= 300 MB", "target")
    assert f.at_most("peak RSS", 300.0, 300.0, "MB").ok is True
    assert f.at_most("peak RSS", 300.5, 300.0, "MB").ok is False
    assert f.at_least("members/s", 50.0, 200.0, "/s").ok is False
    assert f.at_least("members/s", 50.0, 200.0, "/s").ratio == 0.25


def test_exactly_needs_the_one_right_answer() -> None:
    assert f.exactly("requests", 100, 100).ok is True
    missed = f.exactly("requests", 101, 100)
    assert (missed.ok, missed.ratio, missed.target) == (False, 1.01, "= 100")
    assert f.exactly("duplicates", 0, 0).ratio is None  # no ratio to zero


def test_speed_vs_floor_counts_times_slower_than_the_floor() -> None:
    figure = f.speed_vs_floor("events/s", 40_000.0, 110_000.0, 3.0, "/s")
    assert figure.ratio == pytest.approx(2.75)
    assert figure.ok is True
    assert figure.against == "floor"
    assert figure.target == ">= floor / 3 (36,667/s)"
    assert f.speed_vs_floor("events/s", 25_000.0, 110_000.0, 3.0).ok is False  # 4.4x slower


def test_count_vs_floor_and_vs_peer() -> None:
    ranged = f.count_vs_floor("report calls", 199, 198, "calls")
    assert (ranged.ok, ranged.target) == (False, "<= floor (198 calls)")
    assert ranged.ratio == pytest.approx(199 / 198)
    daily = f.count_vs_floor("calls per day", 2.0, 2.0, "calls", limit=2)
    assert (daily.ok, daily.ratio, daily.target) == (True, 1.0, "<= 2 calls")
    calls = f.vs_peer("audience calls per sync", 2, 2, 24, "of 24", "calls")
    assert (calls.ok, calls.against, calls.target) == (True, "of 24", "<= 2 calls")
    assert calls.ratio == pytest.approx(2 / 24)
    assert f.vs_peer("audience calls per sync", 3, 2, 24, "of 24").ok is False


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (5_000_000, "", "5,000,000"),
        (41_230.7, "/s", "41,231/s"),
        (145.2, "MB", "145 MB"),
        (30.0, "s", "30 s"),
        (19.34, "s", "19.3 s"),
        (2.0, "calls", "2.00 calls"),
        (0.0, "", "0.00"),
        (0.004, "s", "0.004 s"),
        (True, "", "yes"),
        (False, "", "no"),
        ("exit 1", "", "exit 1"),
        (math.inf, "", "inf"),
    ],
)
def test_fmt(value: object, unit: str, text: str) -> None:
    assert f.fmt(value, unit) == text


def sections() -> list[f.Section]:
    return [
        f.Section(
            "events",
            [
                f.exactly("requests per 100k events", 100, 100),
                f.at_most("peak RSS 1M events", 320.0, 300.0, "MB"),
                f.info("wall time", 12.5, "s", note="in-process"),
            ],
        ),
        f.Section("audience", [], error="exit 1: MemoryError"),
    ]


def test_table_rows_prefix_the_benchmark_and_mark_misses_and_crashes() -> None:
    assert f.table_rows(sections()) == [
        ("events: requests per 100k events", "100", "= 100", "1.00x target", "ok"),
        ("events: peak RSS 1M events", "320 MB", "<= 300 MB", "1.07x target", "MISS"),
        ("events: wall time", "12.5 s (in-process)", "-", "-", "-"),
        ("audience: benchmark crashed", "exit 1: MemoryError", "runs to the end", "-", "CRASH"),
    ]
    assert f.summary(sections()) == {"ok": 1, "MISS": 1, "-": 1, "CRASH": 1}


def test_render_text_aligns_columns() -> None:
    lines = f.render_text(sections()).splitlines()
    assert lines[0].split() == ["figure", "value", "target", "ratio", "ok"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert len(lines) == 2 + 4
    value_column = lines[0].index("value")
    assert all(line[value_column - 2 : value_column] == "  " for line in lines[2:])
    assert lines[3].endswith("MISS")
    assert lines[5].endswith("CRASH")


def test_render_markdown_bolds_misses_and_escapes_pipes() -> None:
    table = f.render_markdown([f.Section("x", [f.at_most("a|b", 2, 1), f.exactly("c", 1, 1)])])
    assert table.splitlines() == [
        "| figure | value | target | ratio | ok |",
        "|---|---|---|---|---|",
        "| x: a\\|b | 2 | <= 1 | 2.00x target | **MISS** |",
        "| x: c | 1 | = 1 | 1.00x target | ok |",
    ]


def test_json_round_trip(tmp_path: Path) -> None:
    figures = [*sections()[0].figures, f.check("same bytes", True, "identical"), f.info("ratio", 1.0)]
    path = tmp_path / "figures.json"
    f.write_json(path, figures)
    assert f.read_json(path) == figures


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown figure keys"):
        f.Figure.from_dict({"name": "x", "value": 1, "colour": "red"})
