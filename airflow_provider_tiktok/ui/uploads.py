"""Event uploads per event source over the last days: sent and rejected per run, the top rejection reasons,
and each run's rejects file read back without its events (row, field, reason, code: never an identifier)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_tiktok.ui.records import EVENTS_SCHEME, AssetRecord, as_int, uri_parts

WINDOW_DAYS = 30
TOP_REASONS = 5
#: The fields of a rejects line the page shows; ``event`` (hashed identifiers) is never read out.
REJECT_FIELDS = ("row", "field", "reason", "code", "batch")
MAX_REJECT_LINES = 500


@dataclass(frozen=True)
class UploadRun:
    """One upload run: when, which task, the counts, where its rejects file is."""

    record: AssetRecord
    sent: int
    rejected: int
    received: int
    rejects_uri: str | None


@dataclass
class SourceUploads:
    """One event source (pixel, app or event set): its runs in the window, oldest first, and their reasons."""

    event_source_id: str
    event_source: str | None
    runs: list[UploadRun] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return sum(run.sent for run in self.runs)

    @property
    def rejected(self) -> int:
        return sum(run.rejected for run in self.runs)

    def top_reasons(self, limit: int = TOP_REASONS) -> list[tuple[str, int]]:
        return self.reasons.most_common(limit)


def upload_run(record: AssetRecord) -> UploadRun:
    """The counts an events asset event (and its task's summary) carries."""
    rejects = record.value("rejects_uri")
    return UploadRun(
        record,
        as_int(record.value("sent")),
        as_int(record.value("rejected")),
        as_int(record.value("received")),
        str(rejects) if rejects else None,
    )


def upload_sources(records: Iterable[AssetRecord], now: datetime, days: int = WINDOW_DAYS) -> list[SourceUploads]:
    """Every event source with uploads in the last ``days`` days, runs oldest first, reasons summed."""
    since = now - timedelta(days=days)
    sources: dict[str, SourceUploads] = {}
    for record in sorted(records, key=lambda record: record.timestamp):
        if not record.uri.startswith(EVENTS_SCHEME) or record.timestamp < since:
            continue
        source_id = "/".join(uri_parts(record.uri, EVENTS_SCHEME))
        kind = record.value("event_source")
        source = sources.setdefault(source_id, SourceUploads(source_id, str(kind) if kind else None))
        source.runs.append(upload_run(record))
        reasons = record.value("rejected_by_reason")
        if isinstance(reasons, dict):
            source.reasons.update({str(reason): as_int(count) for reason, count in reasons.items()})
    return [sources[key] for key in sorted(sources)]


def reject_rows(lines: Iterable[str], limit: int = MAX_REJECT_LINES) -> Iterator[dict[str, Any]]:
    """The first ``limit`` lines of a rejects file, each cut to :data:`REJECT_FIELDS` (unreadable lines are
    shown as such, so none is dropped silently)."""
    for number, line in enumerate(lines, start=1):
        if number > limit:
            return
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            yield {name: entry.get(name) for name in REJECT_FIELDS}
        else:
            yield {"row": None, "field": None, "reason": f"line {number} of the file is not a JSON object"}
