"""The page's two drawings as inline SVG, rendered on the server: a year calendar of day statuses and a bar
chart of sent/rejected events per run. Every mark carries a ``<title>`` (the browser's tooltip)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from html import escape

from markupsafe import Markup

from airflow_provider_tiktok.ui.coverage import EMPTY, IMPORTED, MISSING, REVISED, Coverage
from airflow_provider_tiktok.ui.uploads import UploadRun

COLOURS = {IMPORTED: "#2e9e5b", EMPTY: "#b9dec8", REVISED: "#e39a1f", MISSING: "#d9463b"}
LABELS = {
    IMPORTED: "imported",
    EMPTY: "imported, no delivery",
    REVISED: "re-imported by a lookback, rows revised",
    MISSING: "missing",
}
SENT_COLOUR = "#2e9e5b"
REJECTED_COLOUR = "#d9463b"
CELL = 13
GAP = 2
TOP = 16
LEFT = 28


def _attrs(**values: object) -> str:
    return " ".join(f'{name.rstrip("_").replace("_", "-")}="{escape(str(value))}"' for name, value in values.items())


def calendar(cover: Coverage) -> Markup:
    """Weeks as columns (Monday on top), one square per day coloured by status, months labelled on top."""
    start = cover.first - timedelta(days=cover.first.weekday())
    weeks = (cover.last - start).days // 7 + 1
    width, height = LEFT + weeks * (CELL + GAP) + 24, TOP + 7 * (CELL + GAP)  # room for the last month label
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="calendar" {_attrs(width=width, height=height)} '
        f'role="img" aria-label="ad-metrics coverage of advertiser {escape(cover.advertiser_id)}">'
    ]
    for row, name in ((0, "Mon"), (2, "Wed"), (4, "Fri")):
        parts.append(f'<text {_attrs(x=0, y=TOP + row * (CELL + GAP) + CELL - 2)} class="axis">{name}</text>')
    for day, status in sorted(cover.days.items()):
        week, weekday = (day - start).days // 7, day.weekday()
        x, y = LEFT + week * (CELL + GAP), TOP + weekday * (CELL + GAP)
        if day.day == 1:
            parts.append(f'<text {_attrs(x=x, y=TOP - 4)} class="axis">{day:%b}</text>')
        tip = f"{day.isoformat()}: {LABELS[status]}" + (f" ({cover.notes[day]})" if day in cover.notes else "")
        parts.append(
            f"<rect {_attrs(x=x, y=y, width=CELL, height=CELL, rx=2, fill=COLOURS[status])} "
            f'data-day="{day.isoformat()}" data-status="{status}"><title>{escape(tip)}</title></rect>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _scale_top(value: int) -> int:
    """A round axis maximum at or above ``value``: 1, 2 or 5 times a power of ten."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= value:
                return step * magnitude
        magnitude *= 10


def _rect(x: float, y: float, width: float, height: float, fill: str, kind: str) -> str:
    box = _attrs(x=f"{x:.1f}", y=f"{y:.1f}", width=f"{width:.1f}", height=f"{height:.1f}", fill=fill)
    return f'<rect {box} class="{kind}"/>'


def bars(runs: Sequence[UploadRun], *, width: int = 640, height: int = 180) -> Markup:
    """Stacked bars per run (sent below, rejected above) on a labelled count axis, runs oldest first."""
    left, bottom, top_pad = 44, 22, 8
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    top = _scale_top(max((run.sent + run.rejected for run in runs), default=1))
    slot = plot_w / max(len(runs), 1)
    bar = max(min(slot * 0.7, 28.0), 2.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="bars" {_attrs(width=width, height=height)} role="img" '
        'aria-label="events sent and rejected per run">'
    ]
    for tick in (0, top // 2, top):
        y = top_pad + plot_h - plot_h * tick / top
        parts.append(f'<line {_attrs(x1=left, x2=width - 8, y1=y, y2=y)} class="grid"/>')
        parts.append(f'<text {_attrs(x=left - 4, y=y + 4)} class="axis" text-anchor="end">{tick}</text>')
    for index, run in enumerate(runs):
        x = left + slot * index + (slot - bar) / 2
        sent_h, rejected_h = plot_h * run.sent / top, plot_h * run.rejected / top
        base = top_pad + plot_h
        when = f"{run.record.timestamp:%Y-%m-%d %H:%M} UTC"
        tip = f"{when}, run {run.record.run_id}: {run.sent} sent, {run.rejected} rejected"
        parts.append(f"<g><title>{escape(tip)}</title>")
        parts.append(_rect(x, base - sent_h, bar, sent_h, SENT_COLOUR, "sent"))
        parts.append(_rect(x, base - sent_h - rejected_h, bar, rejected_h, REJECTED_COLOUR, "rejected"))
        parts.append("</g>")
    if runs:
        first, last = runs[0].record.timestamp, runs[-1].record.timestamp
        parts.append(f'<text {_attrs(x=left, y=height - 6)} class="axis">{first:%b %d}</text>')
        parts.append(f'<text {_attrs(x=width - 8, y=height - 6)} class="axis" text-anchor="end">{last:%b %d}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def legend(cover: Coverage) -> Markup:
    """Coloured keys with the number of days of each status."""
    items = "".join(
        f'<span class="key"><i style="background:{COLOURS[status]}"></i>{escape(LABELS[status])}: '
        f'<b data-count="{status}">{cover.count(status)}</b></span>'
        for status in (IMPORTED, EMPTY, REVISED, MISSING)
    )
    return Markup(items)
