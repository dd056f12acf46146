"""TikTokAdMetricsOperator: daily cost, impressions, clicks and conversions per ad, with names and UTM
fields, into JSON Lines partitions or a PostgreSQL table, with a lookback that catches TikTok's revisions."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow.sdk import Asset, AssetAlias, BaseOperator, BaseOperatorLink

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from airflow_provider_tiktok.utils import reporting as rp
from airflow_provider_tiktok.utils.assets import emit, literal_id, with_outlet
from airflow_provider_tiktok.utils.codes import PARTIAL_SUCCESS, REPORT_TOO_LARGE
from airflow_provider_tiktok.utils.metric_sinks import JsonLinesSink, MetricSink, PostgresUpsertSink, sql_hook
from airflow_provider_tiktok.utils.storage import atomic_write_text, default_root

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.types import TaskInstanceKey

log = logging.getLogger(__name__)

DEFAULT_DATE_FROM = "{{ data_interval_start | ds }}"
#: The advertiser's ad-level performance page in TikTok Ads Manager.
ADS_MANAGER_URL = "https://ads.tiktok.com/i18n/perf/creative?aadvid={advertiser_id}"
XCOM_LINK_KEY = "tiktok_ads_manager_url"
#: Declared as the task's outlet when the advertiser is only known at run time; each run attaches the
#: advertiser's asset to it. A literal advertiser_id declares the asset itself instead: Airflow then registers
#: it when parsing the DAG, so concurrent first runs cannot race to create it.
ASSET_ALIAS = "tiktok_ad_metrics"
#: Advertiser currency and time zone, kept under the default root: TikTok fixes both when an account is created.
PROFILE_FOLDER = ".advertisers"
MAX_LOOKBACK_DAYS = 365
MAX_HISTORY_DAYS = 3650


def utcnow() -> datetime:
    """The current instant (tests replace it to follow the emulator's clock)."""
    return datetime.now(timezone.utc)


def advertiser_asset(advertiser_id: str) -> Asset:
    """The asset a run updates: one advertiser's daily ad metrics, wherever they are written."""
    return Asset(uri=f"tiktok-ad-metrics://{advertiser_id}")


@dataclass(frozen=True)
class AdvertiserProfile:
    """What a run needs to know about the advertiser: its currency and its (report) time zone."""

    currency: str
    timezone: str

    @property
    def zone(self) -> ZoneInfo:
        """The time zone whose calendar days TikTok reports in."""
        return ZoneInfo(self.timezone)

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> AdvertiserProfile:
        """From an ``advertiser/info/`` item (or the cache): the first valid IANA zone name wins."""
        currency = str(info.get("currency") or "").strip()
        if not currency:
            raise ValueError("no currency")
        for key in ("display_timezone", "timezone"):
            name = str(info.get(key) or "").strip()
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return cls(currency, name)
        raise ValueError("no usable time zone")


def advertiser_profile(hook: TikTokAdsHook, advertiser_id: str) -> AdvertiserProfile:
    """The advertiser's profile from the local cache, else from one ``advertiser/info/`` call (then cached)."""
    api = hashlib.sha256(hook.config.base_url.encode()).hexdigest()[:12]
    path = default_root("ad_metrics") / PROFILE_FOLDER / f"{advertiser_id}-{api}.json"
    try:
        return AdvertiserProfile.from_info(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    items = [item for item in hook.advertiser_info([advertiser_id]) if str(item.get("advertiser_id")) == advertiser_id]
    if not items:
        raise TikTokConfigError(f"advertiser {advertiser_id} is not visible to connection {hook.tiktok_conn_id!r}")
    try:
        profile = AdvertiserProfile.from_info(items[0])
    except ValueError as err:
        raise TikTokApiError(None, f"advertiser/info/ answered {err} for advertiser {advertiser_id}") from None
    try:
        atomic_write_text(path, json.dumps({"currency": profile.currency, "timezone": profile.timezone}))
    except OSError as err:
        log.warning("Could not cache the advertiser's currency and time zone in %s (%s)", path, type(err).__name__)
    return profile


def whole_page(page: dict[str, Any], path: str) -> dict[str, Any]:
    """A page of a read, which must be whole: partial success (20001) fails the run before anything is written.

    TikTok documents 20001 for row uploads, never for these reads; if one answered it, rows (or ad names) could
    be missing, and writing them would make an incomplete day look imported.
    """
    if page.get("_partial_success"):
        raise TikTokApiError(
            PARTIAL_SUCCESS,
            "TikTok answered partial success (20001) to a read, so rows may be missing; nothing was written for "
            "this report window: run the task again",
            page.get("_request_id"),
            path=path,
        )
    return page


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
    tally: rp.Tally = field(default_factory=rp.Tally)
    windows: int = 0
    _ads: dict[str, dict[str, Any]] | None = field(default=None, init=False, repr=False)

    def run(self, sink: MetricSink) -> int:
        """Write every day of ``first_day..date_to`` to ``sink``; return the rows the lookback found revised."""
        pending = deque(rp.date_windows(self.first_day, self.date_to))
        while pending:
            window = pending.popleft()
            try:
                rows = self.report_rows(window)
            except TikTokApiError as err:
                if err.code != REPORT_TOO_LARGE or window[0] == window[1]:
                    raise
                first, second = rp.halve_window(window)
                log.warning("TikTok found %s..%s too large (40067); asking for two halves", *window)
                pending.extendleft((second, first))
                continue
            self.windows += 1
            self.write_window(window, rows, sink)
        return sink.commit()

    def report_rows(self, window: rp.Window) -> list[dict[str, Any]]:
        """Every row of the window's report, all pages, checked against TikTok's own row count."""
        params = rp.report_params(self.advertiser_id, window, self.include_deleted)
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        total: int | None = None
        for page in self.hook.iter_pages("report/integrated/get/", params, page_size=rp.PAGE_SIZE):
            for row in whole_page(page, "report/integrated/get/").get("list") or []:
                dimensions = row.get("dimensions") or {}
                rows[(str(dimensions.get("ad_id")), str(dimensions.get("stat_time_day")))] = row
            if "total_number" in (page.get("page_info") or {}):
                total = int(page["page_info"]["total_number"])
        if total is not None and total != len(rows):
            raise TikTokApiError(
                None,
                f"the report for {window[0]}..{window[1]} gave {len(rows)} distinct rows but page_info.total_number "
                f"says {total} (rows moved between pages): run the task again",
                path="report/integrated/get/",
            )
        return list(rows.values())

    def ads(self) -> dict[str, dict[str, Any]]:
        """Landing pages and names of the advertiser's ads, deleted ones included when asked (read once)."""
        if self._ads is None:
            params = rp.ad_params(self.advertiser_id, self.include_deleted)
            pages = self.hook.iter_pages("ad/get/", params, page_size=rp.PAGE_SIZE)
            self._ads = {
                str(ad.get("ad_id")): ad for page in pages for ad in whole_page(page, "ad/get/").get("list") or []
            }
        return self._ads

    def write_window(self, window: rp.Window, rows: list[dict[str, Any]], sink: MetricSink) -> None:
        """Shape the window's rows into records and hand every day of it to ``sink`` (empty days too)."""
        ads = self.ads() if rows else {}
        days: dict[str, list[dict[str, Any]]] = {day.isoformat(): [] for day in rp.days_between(*window)}
        lookback_until = self.date_from.isoformat()
        for number, row in enumerate(rows, start=1):
            record = rp.build_record(
                row,
                row_number=number,
                advertiser_id=self.advertiser_id,
                currency=self.currency,
                ads=ads,
                utm_defaults=self.utm_defaults,
                tally=self.tally,
            )
            if record["date"] not in days:
                raise TikTokApiError(None, f"the report for {window[0]}..{window[1]} answered a row for another day")
            days[record["date"]].append(record)
        for day, records in days.items():
            records.sort(key=rp.sort_key)
            sink.write_day(date.fromisoformat(day), records, revision_check=day < lookback_until)


class TikTokAdMetricsLink(BaseOperatorLink):
    """Opens the advertiser's ad performance in TikTok Ads Manager (URL pushed to XCom by the task)."""

    name = "TikTok Ads Manager"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The URL the task pushed, or nothing before it ran."""
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=XCOM_LINK_KEY) or ""


class TikTokAdMetricsOperator(BaseOperator):
    """Import TikTok's daily metrics per ad (cost, impressions, clicks, conversions, names, UTM fields).

    Every day of the range (plus ``lookback_days`` before it, to catch late conversions) is replaced in the
    destination, so reruns and backfills never duplicate rows. Dates are the advertiser's calendar days.

    :param date_from: first day, ``YYYY-MM-DD`` in the advertiser's time zone (templated). The default takes
        the day in which the run's data interval starts, in the advertiser's time zone.
    :param date_to: last day, inclusive; None means ``date_from`` (templated).
    :param advertiser_id: the advertiser; None means the connection's ``advertiser_id`` extra (templated).
    :param destination: folder or ObjectStoragePath URI of the JSON Lines partitions; None means
        ``$AIRFLOW_HOME/tiktok/ad_metrics`` unless a SQL table is given (templated).
    :param sql_conn_id: PostgreSQL connection of the table destination, with ``table`` (templated).
    :param table: ``table`` or ``schema.table`` to upsert into, created if missing (templated).
    :param lookback_days: days before ``date_from`` imported again in the same run to catch revisions.
    :param max_history_days: how far back from today TikTok keeps daily reports; older days fail at once.
    :param include_deleted: include deleted ads' rows (paused ads are always included).
    :param utm_defaults: values for UTM parameters a landing page lacks, overriding ours (templated).
    :param tiktok_conn_id: Airflow connection of type ``tiktok_ads`` (templated).
    :param rate_limit: requests per second for this task; None uses the connection's ``rate_limit``. Keep the
        sum over concurrently running tasks of one app within TikTok's app limit (10 by default).
    """

    template_fields = (
        "date_from",
        "date_to",
        "advertiser_id",
        "destination",
        "sql_conn_id",
        "table",
        "utm_defaults",
        "tiktok_conn_id",
    )
    operator_extra_links = (TikTokAdMetricsLink(),)
    ui_color = "#25f4ee"

    def __init__(
        self,
        *,
        date_from: str = DEFAULT_DATE_FROM,
        date_to: str | None = None,
        advertiser_id: str | None = None,
        destination: str | None = None,
        sql_conn_id: str | None = None,
        table: str | None = None,
        lookback_days: int = 0,
        max_history_days: int = 365,
        include_deleted: bool = True,
        utm_defaults: dict[str, str] | None = None,
        tiktok_conn_id: str = TikTokAdsHook.default_conn_name,
        rate_limit: float | None = None,
        **kwargs: Any,
    ) -> None:
        literal = literal_id(advertiser_id)
        outlets, self._outlet = with_outlet(
            kwargs.pop("outlets", None), advertiser_asset(literal) if literal else None, ASSET_ALIAS
        )
        super().__init__(outlets=outlets, **kwargs)
        if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 0:
            raise TikTokConfigError("lookback_days must be a whole number of days, 0 or more")
        if isinstance(max_history_days, bool) or not isinstance(max_history_days, int) or max_history_days < 1:
            raise TikTokConfigError("max_history_days must be a whole number of days, 1 or more")
        # Bounded so that date arithmetic stays in range (timedelta(days=10**9) overflows) and a typo cannot ask
        # TikTok for decades: reports go back about a year.
        if lookback_days > MAX_LOOKBACK_DAYS:
            raise TikTokConfigError(f"lookback_days must be at most {MAX_LOOKBACK_DAYS}: TikTok keeps about a year")
        if max_history_days > MAX_HISTORY_DAYS:
            raise TikTokConfigError(f"max_history_days must be at most {MAX_HISTORY_DAYS} (ten years)")
        if bool(sql_conn_id) != bool(table):
            raise TikTokConfigError("sql_conn_id and table go together: pass both for a table destination")
        if sql_conn_id and destination:
            raise TikTokConfigError("pass either destination (files) or sql_conn_id + table, not both")
        self.date_from = date_from
        self.date_to = date_to
        self.advertiser_id = advertiser_id
        self.destination = destination
        self.sql_conn_id = sql_conn_id
        self.table = table
        self.lookback_days = lookback_days
        self.max_history_days = max_history_days
        self.include_deleted = include_deleted
        self.utm_defaults = utm_defaults
        self.tiktok_conn_id = tiktok_conn_id
        self.rate_limit = rate_limit
        self._date_from_is_default = date_from == DEFAULT_DATE_FROM
        #: The sink and summary of a finished import, for lineage.
        self._written: tuple[MetricSink, dict[str, Any]] | None = None

    @cached_property
    def hook(self) -> TikTokAdsHook:
        """The TikTok hook of this task."""
        return TikTokAdsHook(self.tiktok_conn_id, rate_limit=self.rate_limit)

    def execute(self, context: Context) -> dict[str, Any]:
        """Check the range, read TikTok window by window, replace the covered days, report one summary."""
        utm_defaults = rp.check_utm_defaults(self.utm_defaults)
        advertiser_id = self.hook.resolve_advertiser_id(self.advertiser_id)
        context["ti"].xcom_push(key=XCOM_LINK_KEY, value=ADS_MANAGER_URL.format(advertiser_id=advertiser_id))
        self._check_days(*rp.resolve_days(self.date_from, self.date_to), utcnow().date(), "UTC", slack_days=2)
        profile = advertiser_profile(self.hook, advertiser_id)
        date_from, date_to = self._days(context, profile.zone)
        today = utcnow().astimezone(profile.zone).date()
        self._check_days(date_from, date_to, today, profile.timezone)
        first = rp.first_day(date_from, self.lookback_days, today, self.max_history_days)
        run = MetricsImport(
            self.hook, advertiser_id, profile.currency, first, date_from, date_to, self.include_deleted, utm_defaults
        )
        with self._sink(advertiser_id) as sink:
            changed = run.run(sink)
        summary = self._summary(run, changed, sink.location)
        self._written = (sink, summary)
        self._emit_asset(context, advertiser_id, summary, self._outlet)
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: TikTok's report in, the destination out with its row count (from the run, no API call)."""
        from airflow_provider_tiktok.utils.openlineage import ad_metrics_lineage

        return ad_metrics_lineage(self.hook, self._written, self.table)

    def _check_days(self, start: date, end: date, today: date, zone_name: str, *, slack_days: int = 0) -> None:
        rp.check_history(start, end, today, self.max_history_days, zone_name=zone_name, slack_days=slack_days)

    def _days(self, context: Context, zone: ZoneInfo) -> tuple[date, date]:
        """The range in the advertiser's days; the default ``date_from`` reads the data interval in its zone."""
        interval_start = context.get("data_interval_start")
        if not (self._date_from_is_default and interval_start is not None):
            return rp.resolve_days(self.date_from, self.date_to)
        day, at_midnight = rp.local_day(interval_start, zone)
        if not at_midnight:
            log.warning(
                "The data interval starts at %s, not at midnight in the advertiser's time zone %s: importing %s. "
                "Schedule with CronDataIntervalTimetable('0 0 * * *', timezone=%r) for one advertiser day a run",
                interval_start.isoformat(),
                zone.key,
                day,
                zone.key,
            )
        return rp.resolve_days(day.isoformat(), self.date_to)

    def _sink(self, advertiser_id: str) -> MetricSink:
        if self.sql_conn_id:
            hook = sql_hook(self.sql_conn_id)
            return PostgresUpsertSink(hook, str(self.table), advertiser_id, sql_conn_id=self.sql_conn_id)
        return JsonLinesSink(self.destination or str(default_root("ad_metrics")), advertiser_id)

    def _summary(self, run: MetricsImport, changed: int, location: str) -> dict[str, Any]:
        summary = {
            "advertiser_id": run.advertiser_id,
            "date_from": run.date_from.isoformat(),
            "date_to": run.date_to.isoformat(),
            "lookback_from": run.first_day.isoformat(),
            "days": len(rp.days_between(run.first_day, run.date_to)),
            "rows": run.tally.rows,
            "rows_changed_by_lookback": changed,
            "api_calls": self.hook.api_calls,
            "windows": run.windows,
            "currency": run.currency,
            "totals": run.tally.totals(),
            "empty_metric_values": run.tally.empty_metric_values,
            "destination": location,
        }
        totals = summary["totals"]
        log.info(
            "TikTok ad metrics of advertiser %s, %s..%s: %d days, %d rows (%d changed by lookback), cost %s %s, "
            "%d impressions, %d clicks, %d conversions, %d empty metric values, %d API calls in %d report windows, "
            "written to %s",
            run.advertiser_id,
            summary["lookback_from"],
            summary["date_to"],
            summary["days"],
            summary["rows"],
            changed,
            totals["cost"],
            run.currency,
            totals["impressions"],
            totals["clicks"],
            totals["conversions"],
            sum(run.tally.empty_metric_values.values()),
            summary["api_calls"],
            run.windows,
            location,
        )
        return summary

    @staticmethod
    def _emit_asset(context: Context, advertiser_id: str, summary: dict[str, Any], outlet: Asset | AssetAlias) -> None:
        """Record the advertiser's asset event (directly or through the alias) with the run's totals as extra."""
        keys = ("date_from", "date_to", "lookback_from", "days", "rows", "currency", "totals", "destination")
        emit(context, outlet, advertiser_asset(advertiser_id), {key: summary[key] for key in keys})
