"""TikTokAdMetricsOperator: daily cost, impressions, clicks and conversions per ad, with names and UTM
fields, into JSON Lines partitions or a PostgreSQL table, with a lookback that catches TikTok's revisions."""

from __future__ import annotations

import logging
from datetime import date
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from airflow_provider_tiktok.ad_metrics import report
from airflow_provider_tiktok.ad_metrics.importer import MetricsImport
from airflow_provider_tiktok.ad_metrics.profile import advertiser_profile
from airflow_provider_tiktok.ad_metrics.sinks import JsonLinesSink, MetricSink, PostgresUpsertSink, sql_hook
from airflow_provider_tiktok.compat import Asset, AssetAlias, BaseOperator, Context
from airflow_provider_tiktok.exceptions import TikTokConfigError
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from airflow_provider_tiktok.links import XCOM_LINK_KEY, TikTokLink
from airflow_provider_tiktok.utils import clock
from airflow_provider_tiktok.utils.assets import emit, literal_id, with_outlet
from airflow_provider_tiktok.utils.storage import default_root

log = logging.getLogger(__name__)

DEFAULT_DATE_FROM = "{{ data_interval_start | ds }}"
#: The advertiser's ad-level performance page in TikTok Ads Manager.
ADS_MANAGER_URL = "https://ads.tiktok.com/i18n/perf/creative?aadvid={advertiser_id}"
#: Declared as the task's outlet when the advertiser is only known at run time; each run attaches the
#: advertiser's asset to it. A literal advertiser_id declares the asset itself instead: Airflow then registers
#: it when parsing the DAG, so concurrent first runs cannot race to create it.
ASSET_ALIAS = "tiktok_ad_metrics"
MAX_LOOKBACK_DAYS = 365
MAX_HISTORY_DAYS = 3650


def advertiser_asset(advertiser_id: str) -> Asset:
    """The asset a run updates: one advertiser's daily ad metrics, wherever they are written."""
    return Asset(uri=f"tiktok-ad-metrics://{advertiser_id}")


def _check_days_arguments(lookback_days: object, max_history_days: object) -> None:
    """Whole numbers of days, bounded so that date arithmetic stays in range (timedelta(days=10**9) overflows)
    and a typo cannot ask TikTok for decades: reports go back about a year."""
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int) or lookback_days < 0:
        raise TikTokConfigError("lookback_days must be a whole number of days, 0 or more")
    if isinstance(max_history_days, bool) or not isinstance(max_history_days, int) or max_history_days < 1:
        raise TikTokConfigError("max_history_days must be a whole number of days, 1 or more")
    if lookback_days > MAX_LOOKBACK_DAYS:
        raise TikTokConfigError(f"lookback_days must be at most {MAX_LOOKBACK_DAYS}: TikTok keeps about a year")
    if max_history_days > MAX_HISTORY_DAYS:
        raise TikTokConfigError(f"max_history_days must be at most {MAX_HISTORY_DAYS} (ten years)")


def _check_destination(destination: str | None, sql_conn_id: str | None, table: str | None) -> None:
    """Files or a table, not both; a table needs its connection."""
    if bool(sql_conn_id) != bool(table):
        raise TikTokConfigError("sql_conn_id and table go together: pass both for a table destination")
    if sql_conn_id and destination:
        raise TikTokConfigError("pass either destination (files) or sql_conn_id + table, not both")


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
    :param rate_limit: the app's Marketing API requests per second; None uses the connection's ``rate_limit``.
        Every task of the app draws from one budget (per host, or every host with ``rate_limit_storage``), so
        this is the app's limit (10 by default), not a share of it.
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
    operator_extra_links = (TikTokLink(name="TikTok Ads Manager"),)
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
        _check_days_arguments(lookback_days, max_history_days)
        _check_destination(destination, sql_conn_id, table)
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
        advertiser_id = self.hook.resolve_advertiser_id(self.advertiser_id)
        context["ti"].xcom_push(key=XCOM_LINK_KEY, value=ADS_MANAGER_URL.format(advertiser_id=advertiser_id))
        run = self._import(context, advertiser_id)
        with self._sink(advertiser_id) as sink:
            changed = run.run(sink)
        summary = run.summary(changed, sink.location)
        self._written = (sink, summary)
        self._emit_asset(context, advertiser_id, summary, self._outlet)
        return summary

    def _import(self, context: Context, advertiser_id: str) -> MetricsImport:
        """The run's import: the range checked in UTC, then in the advertiser's days, with the lookback."""
        utm_defaults = report.check_utm_defaults(self.utm_defaults)
        self._check_days(*report.resolve_days(self.date_from, self.date_to), clock.utcnow().date(), "UTC", slack_days=2)
        profile = advertiser_profile(self.hook, advertiser_id)
        date_from, date_to = self._days(context, profile.zone)
        today = clock.utcnow().astimezone(profile.zone).date()
        self._check_days(date_from, date_to, today, profile.timezone)
        first = report.first_day(date_from, self.lookback_days, today, self.max_history_days)
        return MetricsImport(
            self.hook, advertiser_id, profile.currency, first, date_from, date_to, self.include_deleted, utm_defaults
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: TikTok's report in, the destination out with its row count (from the run, no API call)."""
        from airflow_provider_tiktok.utils.openlineage import ad_metrics_lineage

        return ad_metrics_lineage(self.hook, self._written, self.table)

    def _check_days(self, start: date, end: date, today: date, zone_name: str, *, slack_days: int = 0) -> None:
        report.check_history(start, end, today, self.max_history_days, zone_name=zone_name, slack_days=slack_days)

    def _days(self, context: Context, zone: ZoneInfo) -> tuple[date, date]:
        """The range in the advertiser's days; the default ``date_from`` reads the data interval in its zone."""
        interval_start = context.get("data_interval_start")
        if not (self._date_from_is_default and interval_start is not None):
            return report.resolve_days(self.date_from, self.date_to)
        day, at_midnight = report.local_day(interval_start, zone)
        if not at_midnight:
            log.warning(
                "The data interval starts at %s, not at midnight in the advertiser's time zone %s: importing %s. "
                "Schedule with CronDataIntervalTimetable('0 0 * * *', timezone=%r) for one advertiser day a run",
                interval_start.isoformat(),
                zone.key,
                day,
                zone.key,
            )
        return report.resolve_days(day.isoformat(), self.date_to)

    def _sink(self, advertiser_id: str) -> MetricSink:
        if self.sql_conn_id:
            hook = sql_hook(self.sql_conn_id)
            return PostgresUpsertSink(hook, str(self.table), advertiser_id, sql_conn_id=self.sql_conn_id)
        return JsonLinesSink(self.destination or str(default_root("ad_metrics")), advertiser_id)

    @staticmethod
    def _emit_asset(context: Context, advertiser_id: str, summary: dict[str, Any], outlet: Asset | AssetAlias) -> None:
        """Record the advertiser's asset event (directly or through the alias) with the run's totals as extra."""
        keys = ("date_from", "date_to", "lookback_from", "days", "rows", "currency", "totals", "destination")
        emit(context, outlet, advertiser_asset(advertiser_id), {key: summary[key] for key in keys})
