"""The page as HTML: the three sections built from one read of Airflow and the state, through one Jinja
template with autoescaping (every value is text; only the server-drawn SVG is inserted as markup)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import jinja2

from airflow_provider_tiktok.ui import svg
from airflow_provider_tiktok.ui.audiences import AudienceRow, LedgerView, audience_rows, sync_counts
from airflow_provider_tiktok.ui.coverage import Coverage, advertiser_coverage
from airflow_provider_tiktok.ui.records import PageData
from airflow_provider_tiktok.ui.uploads import SourceUploads, UploadRun, upload_sources

#: Missing ranges listed per advertiser (the calendar shows them all).
MAX_RANGES = 12
#: Runs with a rejects file listed per event source.
MAX_REJECT_RUNS = 10


@dataclass(frozen=True)
class Links:
    """Where the page's links point: Airflow's UI (same origin) and the page's own rejects view."""

    airflow: str
    home: str
    rejects: str

    def dag(self, dag_id: str | None) -> str:
        return f"{self.airflow}/dags/{quote(dag_id or '', safe='')}"

    def task(self, dag_id: str | None, run_id: str | None, task_id: str | None) -> str:
        parts = [quote(part or "", safe="") for part in (dag_id, run_id, task_id)]
        return f"{self.airflow}/dags/{parts[0]}/runs/{parts[1]}/tasks/{parts[2]}"

    def rejects_of(self, run: UploadRun) -> str:
        record = run.record
        query = {"dag_id": record.dag_id, "run_id": record.run_id, "task_id": record.task_id}
        return f"{self.rejects}?{urlencode({k: v or '' for k, v in query.items()})}"


@functools.cache
def environment() -> jinja2.Environment:
    """The page's templates, autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("airflow_provider_tiktok.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        calendar=svg.calendar,
        bars=svg.bars,
        legend=svg.legend,
        sync_counts=sync_counts,
        max_ranges=MAX_RANGES,
        max_reject_runs=MAX_REJECT_RUNS,
    )
    return env


def actions_text(row: AudienceRow) -> str:
    """The audience calls the last sync made (``none`` when nothing had changed)."""
    actions = row.last("actions")
    if isinstance(actions, list | tuple):
        return ", ".join(str(action) for action in actions) or "none (no change)"
    mode = row.last("mode")
    return f"{mode} sync" if mode else "-"


def usable_text(row: AudienceRow) -> str:
    """Whether TikTok can target the audience (at least 1,000 members), as the last sync reported."""
    usable = row.last("usable")
    if usable is None:
        size = row.last("audience_size")
        usable = size >= 1000 if isinstance(size, int) else None
    return {True: "usable", False: "too small to use"}.get(usable, "-") if usable is not None else "-"


def rejected_runs(source: SourceUploads) -> list[UploadRun]:
    """The source's newest runs that rejected events, newest first."""
    return [run for run in reversed(source.runs) if run.rejected][:MAX_REJECT_RUNS]


def render_page(data: PageData, ledgers: Iterable[LedgerView], links: Links, airflow_minor: tuple[int, int]) -> str:
    """The whole page."""
    audiences = audience_rows(ledgers, data.records, data.deferred, data.now)
    covers: list[Coverage] = advertiser_coverage(data.records, data.now)
    uploads = upload_sources(data.records, data.now)
    context: dict[str, Any] = {
        "now": data.now,
        "audiences": audiences,
        "covers": covers,
        "uploads": uploads,
        "links": links,
        "actions_text": actions_text,
        "usable_text": usable_text,
        "rejected_runs": rejected_runs,
        "airflow_version": ".".join(map(str, airflow_minor)),
    }
    return environment().get_template("page.html").render(context)


def render_rejects(title: str, rows: list[dict[str, Any]], location: str | None, links: Links) -> str:
    """One run's rejects file, without its events."""
    return environment().get_template("rejects.html").render(title=title, rows=rows, location=location, links=links)


def render_refusal(status: int, detail: str, home: str) -> str:
    """A refused request: why, and on Airflow 3.0 (whose UI keeps its token in the browser's storage) a retry
    with that token, so a logged-in user reaches the page from the address bar."""
    return environment().get_template("refused.html").render(status=status, detail=detail, home=home)
