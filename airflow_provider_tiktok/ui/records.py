"""What the page reads from Airflow, as plain values: asset events with their task's summary, deferred syncs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

AD_METRICS_SCHEME = "tiktok-ad-metrics://"
AUDIENCE_SCHEME = "tiktok-audience://"
EVENTS_SCHEME = "tiktok-events://"


@dataclass(frozen=True)
class AssetRecord:
    """One asset event of a TikTok asset, with the summary its task returned (None when not kept)."""

    uri: str
    timestamp: datetime
    extra: dict[str, Any]
    summary: dict[str, Any] | None = None
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    #: Start of the source run's data interval: the advertiser's midnight for a daily metrics run.
    interval_start: datetime | None = None

    def value(self, key: str) -> Any:
        """``key`` from the task's summary, else from the event's extra."""
        if self.summary is not None and key in self.summary:
            return self.summary[key]
        return self.extra.get(key)


@dataclass(frozen=True)
class DeferredSync:
    """An audience sync handing its worker slot back until ``resumes_at`` (the daily reset, or a landing wait)."""

    dag_id: str
    task_id: str
    run_id: str
    resumes_at: datetime | None = None


@dataclass
class PageData:
    """Everything one page view reads, gathered once per request."""

    now: datetime
    records: list[AssetRecord] = field(default_factory=list)
    deferred: list[DeferredSync] = field(default_factory=list)
    #: The state roots whose audience ledgers the page reads.
    roots: list[str] = field(default_factory=list)


def uri_parts(uri: str, scheme: str) -> list[str]:
    """The path parts of a TikTok asset URI after ``scheme``, URL-unquoted (Airflow may add a trailing slash)."""
    return [unquote(part) for part in uri.removeprefix(scheme).rstrip("/").split("/")]


def as_int(value: Any) -> int:
    """A count from a summary: whole numbers only (booleans, text and None count as 0)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
