"""One run's reading of TikTok's daily ad report: report windows (halved when TikTok finds one too large) read
ahead by a reader thread while the previous ones are parsed and written, ad names and landing pages once, and
one record per ad and day handed to a sink in window order; plus the run's summary."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from airflow_provider_tiktok.ad_metrics import report
from airflow_provider_tiktok.ad_metrics.reading import READERS, ReadAhead, ReadStopped
from airflow_provider_tiktok.ad_metrics.sinks import MetricSink
from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokPartialSuccess
from airflow_provider_tiktok.hooks.codes import PARTIAL_SUCCESS, REPORT_TOO_LARGE
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

if TYPE_CHECKING:
    from collections.abc import Iterator

log = logging.getLogger(__name__)

#: A report window and its rows.
WindowRows = tuple[report.Window, list[dict[str, Any]]]


def whole_pages(pages: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Pages of a read, which must be whole: partial success (20001) fails the run before anything is written.

    TikTok documents 20001 for row uploads, never for these reads; if one answered it, rows (or ad names) could
    be missing, and writing them would make an incomplete day look imported.
    """
    try:
        yield from pages
    except TikTokPartialSuccess as err:
        raise TikTokApiError(
            PARTIAL_SUCCESS,
            "TikTok answered partial success (20001) to a read, so rows may be missing; nothing was written for "
            "this report window: run the task again",
            err.request_id,
            path=err.path,
        ) from err


@dataclass
class MetricsImport:
    """One run's reading of TikTok: report windows (halved on 40067), ad metadata once, records per day."""

    hook: TikTokAdsHook
    advertiser_id: str
    currency: str
    first_day: date
    date_from: date
    date_to: date
    include_deleted: bool
    utm_defaults: dict[str, str]
    tally: report.Tally = field(default_factory=report.Tally)
    #: Report windows read at once (see :data:`~airflow_provider_tiktok.ad_metrics.reading.READERS`).
    readers: int = READERS
    windows: int = 0
    _ads: dict[str, dict[str, Any]] | None = field(default=None, init=False, repr=False)
    _utm: report.UtmMemo = field(default_factory=dict, init=False, repr=False)
    _ads_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def run(self, sink: MetricSink) -> int:
        """Write every day of ``first_day..date_to`` to ``sink``; return the rows the lookback found revised.

        Windows are read ahead (:class:`ReadAhead`) but written here, one after the other in date order, so the
        sink sees exactly the days (and bytes) of a one-by-one import. A window that fails stops the reads and fails the
        run when its turn comes: the windows before it are written whole, nothing of it or after it is.
        """
        windows = report.date_windows(self.first_day, self.date_to)
        with ReadAhead(windows, self.read_window, readers=self.readers) as reads:
            for parts in reads:
                for window, rows in parts:
                    self.windows += 1
                    self.write_window(window, rows, sink)
        return sink.commit()

    def read_window(self, window: report.Window, stop: threading.Event | None = None) -> list[WindowRows]:
        """The rows of ``window``, or of its halves (each maybe halved again) when TikTok finds it too large
        (40067), in date order; gives up with :class:`ReadStopped` once ``stop`` is set."""
        try:
            rows = self.report_rows(window, stop)
        except TikTokApiError as err:
            if err.code != REPORT_TOO_LARGE or window[0] == window[1]:
                raise
        else:
            if rows:
                self.ads()  # read here, where the one-by-one import read it: right after the first rows
            return [(window, rows)]
        first, second = report.halve_window(window)
        log.warning("TikTok found %s..%s too large (40067); asking for two halves", *window)
        return self.read_window(first, stop) + self.read_window(second, stop)

    def report_rows(self, window: report.Window, stop: threading.Event | None = None) -> list[dict[str, Any]]:
        """Every row of the window's report, all pages; the hook checks them against TikTok's own row count
        (``page_info``), so rows that moved between pages fail the window before anything is written."""
        params = report.report_params(self.advertiser_id, window, self.include_deleted)
        rows: list[dict[str, Any]] = []
        for page in whole_pages(self.hook.iter_report_pages(params, page_size=report.PAGE_SIZE)):
            rows += page.get("list") or []
            if stop is not None and stop.is_set():
                raise ReadStopped(f"the import stopped while {window[0]}..{window[1]} was read")
        return rows

    def ads(self) -> dict[str, dict[str, Any]]:
        """Landing pages and names of the advertiser's ads, deleted ones included when asked (read once, checked
        whole by the hook against ``page_info``; an ad of the report absent from it gets no guessed UTM values)."""
        with self._ads_lock:
            if self._ads is None:
                params = report.ad_params(self.advertiser_id, self.include_deleted)
                ads = whole_pages(self.hook.iter_ads(params, page_size=report.PAGE_SIZE))
                self._ads = {str(ad.get("ad_id")): ad for ad in ads}
            return self._ads

    def write_window(self, window: report.Window, rows: list[dict[str, Any]], sink: MetricSink) -> None:
        """Shape the window's rows into records and hand every day of it to ``sink`` (empty days too)."""
        ads = self.ads() if rows else {}
        days: dict[str, list[dict[str, Any]]] = {day.isoformat(): [] for day in report.days_between(*window)}
        lookback_until = self.date_from.isoformat()
        for number, row in enumerate(rows, start=1):
            record = report.build_record(
                row,
                row_number=number,
                advertiser_id=self.advertiser_id,
                currency=self.currency,
                ads=ads,
                utm_defaults=self.utm_defaults,
                tally=self.tally,
                utm_memo=self._utm,
            )
            if record["date"] not in days:
                raise TikTokApiError(None, f"the report for {window[0]}..{window[1]} answered a row for another day")
            days[record["date"]].append(record)
        for day, records in days.items():
            records.sort(key=report.sort_key)
            sink.write_day(date.fromisoformat(day), records, revision_check=day < lookback_until)

    def summary(self, changed: int, location: str) -> dict[str, Any]:
        """The run's small result (also logged as one line): range, rows, totals, calls and destination."""
        totals = self.tally.totals()
        summary: dict[str, Any] = {
            "advertiser_id": self.advertiser_id,
            "date_from": self.date_from.isoformat(),
            "date_to": self.date_to.isoformat(),
            "lookback_from": self.first_day.isoformat(),
            "days": len(report.days_between(self.first_day, self.date_to)),
            "rows": self.tally.rows,
            "rows_changed_by_lookback": changed,
            "api_calls": self.hook.api_calls,
            "windows": self.windows,
            "currency": self.currency,
            "totals": totals,
            "empty_metric_values": self.tally.empty_metric_values,
            "ads_missing_from_listing": len(self.tally.ads_missing_from_listing),
            "unresolved_url_macros": dict(sorted(self.tally.unresolved_url_macros.items())),
            "destination": location,
        }
        self.warn_unknown_utm()
        log.info(
            "TikTok ad metrics of advertiser %s, %s..%s: %d days, %d rows (%d changed by lookback), cost %s %s, "
            "%d impressions, %d clicks, %d conversions, %d empty metric values, %d API calls in %d report windows, "
            "written to %s",
            self.advertiser_id,
            summary["lookback_from"],
            summary["date_to"],
            summary["days"],
            summary["rows"],
            changed,
            totals["cost"],
            self.currency,
            totals["impressions"],
            totals["clicks"],
            totals["conversions"],
            sum(self.tally.empty_metric_values.values()),
            summary["api_calls"],
            self.windows,
            location,
        )
        return summary

    def warn_unknown_utm(self) -> None:
        """Say once per run which records got null UTM values, and why (absent ads, unresolvable URL macros)."""
        missing = sorted(self.tally.ads_missing_from_listing, key=lambda ad_id: (len(ad_id), ad_id))
        if missing:
            log.warning(
                "%d ads of the report are not in TikTok's ad listing (e.g. %s): their records keep the report's "
                "names but null UTM values, since their landing pages are unknown",
                len(missing),
                ", ".join(missing[:5]),
            )
        macros = self.tally.unresolved_url_macros
        if macros:
            log.warning(
                "Landing pages use TikTok URL macros that only a click fills (records per macro: %s): those UTM "
                "values are null, never the macro text",
                ", ".join(f"{macro} {count}" for macro, count in sorted(macros.items())),
            )
