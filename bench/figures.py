"""The figures a benchmark reports, and the one table ``bench/run_all.py`` prints as text and Markdown.

A figure is a measured value next to its target and a ratio to what it is judged against: the floor (the
work no implementation can avoid), the target itself, or a peer (TikTok's own budget or limit). Figures
are plain data (JSON round trip) so each benchmark can run in its own process. No Airflow import here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

OK, MISS, INFO, CRASH = "ok", "MISS", "-", "CRASH"
COLUMNS = ("figure", "value", "target", "ratio", "ok")


@dataclass(frozen=True)
class Figure:
    """One measured value, its target (as text), its ratio to a floor, target or peer, and whether it met it."""

    name: str
    value: float | int | bool | str
    unit: str = ""
    target: str = ""
    ratio: float | None = None
    against: str = ""
    ok: bool | None = None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """A JSON-safe dict (NaN/inf ratios become None)."""
        data = asdict(self)
        if isinstance(self.ratio, float) and not math.isfinite(self.ratio):
            data["ratio"] = None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Figure:
        """The figure back from :meth:`to_dict` (unknown keys are refused: they mean a version mismatch)."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown figure keys: {sorted(unknown)}")
        return cls(**data)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------- builders
def info(name: str, value: float | int | bool | str, unit: str = "", *, note: str = "") -> Figure:
    """A figure without a target (shown for context)."""
    return Figure(name, value, unit, note=note)


def at_most(name: str, value: float, limit: float, unit: str = "", *, note: str = "") -> Figure:
    """``value`` must not exceed ``limit``; the ratio is value / limit (<= 1 meets it)."""
    return Figure(name, value, unit, f"<= {fmt(limit, unit)}", _div(value, limit), "target", value <= limit, note)


def at_least(name: str, value: float, minimum: float, unit: str = "", *, note: str = "") -> Figure:
    """``value`` must reach ``minimum``; the ratio is value / minimum (>= 1 meets it)."""
    return Figure(name, value, unit, f">= {fmt(minimum, unit)}", _div(value, minimum), "target", value >= minimum, note)


def exactly(name: str, value: float, expected: float, unit: str = "", *, note: str = "") -> Figure:
    """``value`` must equal ``expected`` (counts that have one right answer); ratio value / expected."""
    return Figure(
        name, value, unit, f"= {fmt(expected, unit)}", _div(value, expected), "target", value == expected, note
    )


def check(name: str, passed: bool, expected: str, *, note: str = "") -> Figure:
    """A yes/no property (e.g. two imports wrote the same bytes)."""
    return Figure(name, passed, "", expected, None, "", passed, note)


def speed_vs_floor(
    name: str, rate: float, floor_rate: float, max_times: float, unit: str = "/s", *, note: str = ""
) -> Figure:
    """A throughput next to the floor's: ratio = times slower than the floor, met when <= ``max_times``."""
    times = _div(floor_rate, rate)
    target = f">= floor / {max_times:g} ({fmt(floor_rate / max_times, unit)})"
    return Figure(name, rate, unit, target, times, "floor", times is not None and times <= max_times, note)


def count_vs_floor(
    name: str, value: float, floor: float, unit: str = "", *, limit: float | None = None, note: str = ""
) -> Figure:
    """A cost next to the least TikTok's limits allow: ratio value / floor, met when <= ``limit`` (default
    the floor itself)."""
    bound = floor if limit is None else limit
    target = f"<= floor ({fmt(floor, unit)})" if limit is None else f"<= {fmt(limit, unit)}"
    return Figure(name, value, unit, target, _div(value, floor), "floor", value <= bound, note)


def vs_peer(
    name: str, value: float, limit: float, peer: float, peer_name: str, unit: str = "", *, note: str = ""
) -> Figure:
    """``value`` must stay within ``limit``; the ratio is to a peer figure (e.g. TikTok's 24 calls a day)."""
    return Figure(name, value, unit, f"<= {fmt(limit, unit)}", _div(value, peer), peer_name, value <= limit, note)


def _div(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


# -------------------------------------------------------------------------------------- formatting
def fmt(value: object, unit: str = "") -> str:
    """A value for a table cell: thousands separators, about three significant digits, then the unit."""
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, float):
        magnitude = abs(value)
        if not math.isfinite(value):
            text = str(value)
        elif magnitude >= 100 or (value == int(value) and magnitude >= 10):
            text = f"{value:,.0f}"
        elif magnitude >= 10:
            text = f"{value:.1f}"
        elif magnitude >= 0.01 or value == 0:
            text = f"{value:.2f}"
        else:
            text = f"{value:.2g}"
    else:
        text = str(value)
    if not unit:
        return text
    return f"{text}{unit}" if unit.startswith("/") or unit == "%" else f"{text} {unit}"


def verdict(figure: Figure) -> str:
    """``ok``, ``MISS`` or ``-`` (no target)."""
    return INFO if figure.ok is None else OK if figure.ok else MISS


def row(group: str, figure: Figure) -> tuple[str, str, str, str, str]:
    """The table cells of one figure: name (prefixed by its benchmark), value, target, ratio, verdict."""
    name = f"{group}: {figure.name}" if group else figure.name
    ratio = "-" if figure.ratio is None else f"{figure.ratio:.2f}x {figure.against}".rstrip()
    value = fmt(figure.value, figure.unit)
    if figure.note:
        value += f" ({figure.note})"
    return name, value, figure.target or "-", ratio, verdict(figure)


@dataclass(frozen=True)
class Section:
    """One benchmark's figures, or how it crashed."""

    name: str
    figures: Sequence[Figure]
    error: str | None = None
    seconds: float | None = None


def table_rows(sections: Iterable[Section]) -> list[tuple[str, str, str, str, str]]:
    """Every row of the table: the figures of each section, a crashed section as one CRASH row."""
    rows = []
    for section in sections:
        for figure in section.figures:
            rows.append(row(section.name, figure))
        if section.error is not None:
            rows.append((f"{section.name}: benchmark crashed", section.error, "runs to the end", "-", CRASH))
    return rows


def render_text(sections: Iterable[Section]) -> str:
    """The table in aligned plain text, misses and crashes marked in the last column."""
    rows = [COLUMNS, *table_rows(sections)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def render_markdown(sections: Iterable[Section]) -> str:
    """The table in Markdown, misses and crashes in bold."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in table_rows(sections):
        mark = r[4] if r[4] in (OK, INFO) else f"**{r[4]}**"
        lines.append("| " + " | ".join([*(cell(c) for c in r[:4]), mark]) + " |")
    return "\n".join(lines)


def summary(sections: Iterable[Section]) -> dict[str, int]:
    """How many figures met, missed or had no target, and how many benchmarks crashed."""
    counts = {OK: 0, MISS: 0, INFO: 0, CRASH: 0}
    for section in sections:
        for figure in section.figures:
            counts[verdict(figure)] += 1
        counts[CRASH] += section.error is not None
    return counts


def write_json(path: str | Path, figures: Iterable[Figure]) -> None:
    """Write figures as a JSON list (the hand-over from a benchmark process to ``run_all``)."""
    Path(path).write_text(json.dumps([f.to_dict() for f in figures], indent=1) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> list[Figure]:
    """Figures written by :func:`write_json`."""
    return [Figure.from_dict(item) for item in json.loads(Path(path).read_text(encoding="utf-8"))]
