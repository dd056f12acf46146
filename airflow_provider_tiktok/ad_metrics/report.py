"""Pure rules of the daily ad-metric import: days and report windows, the history limit, metric strings,
UTM fields and the "Daily Ad Metrics" record.

No Airflow import and no I/O: the operator resolves inputs, asks these helpers what to request and how to
shape each row, and hands the records to a sink.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from airflow_provider_tiktok.ad_metrics.landing import UTM_KEYS, Utm, utm_properties
from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError

#: TikTok answers at most 30 days of daily data per synchronous report request.
REPORT_MAX_DAYS = 30
#: TikTok's page size limit; sent on every call (its default is 10).
PAGE_SIZE = 1000
EVENT_TYPE = "Daily Ad Metrics"
AD_PLATFORM = "tiktok"
#: TikTok's empty metric value.
EMPTY = "-"
#: Record metric name -> TikTok report metric, in record key order.
METRICS: dict[str, str] = {
    "cost": "spend",
    "impressions": "impressions",
    "clicks": "clicks",
    "conversions": "conversion",
}
#: Record name field -> TikTok attribute (report metric and ``ad/get`` field), in record key order.
NAMES: dict[str, str] = {
    "campaign_id": "campaign_id",
    "campaign_name": "campaign_name",
    "ad_group_id": "adgroup_id",
    "ad_group_name": "adgroup_name",
    "ad_name": "ad_name",
}
#: Everything one report call asks for: the four numbers plus ids and names (free: same call).
REPORT_METRICS = [*METRICS.values(), *NAMES.values()]
#: ``ad/get`` fields: the landing page (ACO ads: pages) carries the UTM parameters; names fill gaps in report
#: rows and resolve TikTok's URL macros.
AD_FIELDS = ["ad_id", "landing_page_url", "landing_page_urls", *NAMES.values()]
DATE_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
#: ``json.dumps(record, ensure_ascii=False, separators=(",", ":"))`` built once (dumps builds one per call).
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))

Window = tuple[date, date]
#: One run's UTM values by (ad id, listed, campaign name, ad name): a landing page is parsed once per ad, not once
#: per row (valid while the ad listing and ``utm_defaults`` stay those of the run).
UtmMemo = dict[tuple[str, bool, str | None, str | None], tuple[Utm, list[str]]]


# ----------------------------------------------------------------------------------------- days
def parse_day(value: object, field_name: str) -> date:
    """A ``YYYY-MM-DD`` argument as a date; the error names the argument (a run without a data interval
    renders the default template as ``None``)."""
    text = "" if value is None else str(value).strip()
    if text in ("", "None"):
        raise TikTokConfigError(
            f"{field_name} is empty: this run has no data interval (it was triggered without a logical date); "
            f"pass {field_name}='YYYY-MM-DD' or trigger the run with a logical date"
        )
    if not DATE_PATTERN.fullmatch(text):
        raise TikTokConfigError(f"{field_name} must be a date written YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise TikTokConfigError(f"{field_name} is not a calendar date (YYYY-MM-DD)") from None


def resolve_days(date_from: object, date_to: object) -> tuple[date, date]:
    """The inclusive day range; ``date_to`` None (or empty) means ``date_from``."""
    start = parse_day(date_from, "date_from")
    end = start if date_to in (None, "") else parse_day(date_to, "date_to")
    if end < start:
        raise TikTokConfigError("date_to must not be earlier than date_from")
    return start, end


def check_history(
    start: date, end: date, today: date, max_history_days: int, *, zone_name: str, slack_days: int = 0
) -> None:
    """Fail unless every day of ``start..end`` is over and at most ``max_history_days`` old, in the
    advertiser's zone.

    ``slack_days`` widens both bounds; with ``today`` taken in UTC and a slack of 1 the check only rejects
    ranges that are wrong in every time zone, so it can run before the advertiser's zone is known.
    """
    earliest = today - timedelta(days=max_history_days)
    if start < earliest - timedelta(days=slack_days):
        raise TikTokConfigError(
            f"date_from {start.isoformat()} is more than max_history_days={max_history_days} days before today "
            f"({today.isoformat()}, {zone_name}): TikTok keeps daily reports for about a year, so the earliest day "
            f"that can be imported is {earliest.isoformat()}"
        )
    if end >= today + timedelta(days=slack_days):
        raise TikTokConfigError(
            f"date_to {end.isoformat()} is not over yet in the advertiser's time zone ({zone_name}, today "
            f"{today.isoformat()}): its numbers are incomplete; import days up to {(today - timedelta(days=1))}"
        )


def first_day(date_from: date, lookback_days: int, today: date, max_history_days: int) -> date:
    """The first day to import: ``lookback_days`` before ``date_from``, never beyond the history limit."""
    return max(date_from - timedelta(days=lookback_days), today - timedelta(days=max_history_days))


def days_between(start: date, end: date) -> list[date]:
    """Every day of ``start..end`` inclusive."""
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def date_windows(start: date, end: date, max_days: int = REPORT_MAX_DAYS) -> list[Window]:
    """Consecutive inclusive windows of at most ``max_days`` days covering ``start..end`` exactly
    (31 days -> 30 + 1, 61 -> 30 + 30 + 1: never a 31-day window, never a dropped last day)."""
    if max_days < 1:
        raise ValueError("max_days must be at least 1")
    windows = []
    first = start
    while first <= end:
        last = min(first + timedelta(days=max_days - 1), end)
        windows.append((first, last))
        first = last + timedelta(days=1)
    return windows


def halve_window(window: Window) -> tuple[Window, Window]:
    """Split a window TikTok found too large (40067) into two halves, the first one the longer."""
    start, end = window
    span = (end - start).days + 1
    if span < 2:
        raise ValueError("a one-day window cannot be split")
    middle = start + timedelta(days=math.ceil(span / 2) - 1)
    return (start, middle), (middle + timedelta(days=1), end)


def report_day(stat_time_day: object) -> date:
    """The day of a report row's ``stat_time_day`` (``"YYYY-MM-DD 00:00:00"``)."""
    text = str(stat_time_day or "")
    if not DATE_PATTERN.fullmatch(text[:10]):
        raise ValueError("stat_time_day is not a date")
    return date.fromisoformat(text[:10])


# --------------------------------------------------------------------------------- requests
def report_params(advertiser_id: str, window: Window, include_deleted: bool) -> dict[str, Any]:
    """Parameters of an ad-level daily report over ``window`` (paging is added by the hook)."""
    params: dict[str, Any] = {
        "advertiser_id": advertiser_id,
        "report_type": "BASIC",
        "service_type": "AUCTION",
        "data_level": "AUCTION_AD",
        "dimensions": ["ad_id", "stat_time_day"],
        "metrics": REPORT_METRICS,
        "start_date": window[0].isoformat(),
        "end_date": window[1].isoformat(),
    }
    if include_deleted:
        params["filtering"] = [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}]
    return params


def ad_params(advertiser_id: str, include_deleted: bool) -> dict[str, Any]:
    """Parameters of ``ad/get/`` for landing pages and names (deleted ads need ``STATUS_ALL``)."""
    params: dict[str, Any] = {"advertiser_id": advertiser_id, "fields": AD_FIELDS}
    if include_deleted:
        params["filtering"] = {"primary_status": "STATUS_ALL"}
    return params


# ---------------------------------------------------------------------------------- metrics
def _is_empty(value: object) -> bool:
    return value is None or (isinstance(value, str) and value.strip() in ("", EMPTY))


def parse_cost(value: object, *, row: int, field_name: str) -> tuple[Decimal, bool]:
    """A money metric as an exact Decimal, and whether it was empty (``"-"`` or blank, read as 0)."""
    if _is_empty(value):
        return Decimal(0), True
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise TikTokInputError("the report answered a value that is not a number", row=row, field=field_name) from None
    if not amount.is_finite() or amount < 0:
        raise TikTokInputError("the report answered a negative or infinite amount", row=row, field=field_name)
    return amount, False


def parse_count(value: object, *, row: int, field_name: str) -> tuple[int, bool]:
    """A count metric as an int, and whether it was empty (``"-"`` or blank, read as 0)."""
    if type(value) is str and value.isascii() and value.isdigit():  # TikTok's usual "6065": no Decimal needed
        return int(value), False
    amount, empty = parse_cost(value, row=row, field_name=field_name)
    if amount != amount.to_integral_value():
        raise TikTokInputError("the report answered a fractional count", row=row, field=field_name)
    return int(amount), empty


# ---------------------------------------------------------------------------------------- UTM
def check_utm_defaults(utm_defaults: Mapping[str, Any] | None) -> dict[str, str]:
    """Validate the operator's ``utm_defaults``: only the four UTM keys, each a non-empty string."""
    if utm_defaults is None:
        return {}
    if not isinstance(utm_defaults, Mapping):
        raise TikTokConfigError("utm_defaults must be a mapping of UTM parameter to value")
    checked = {}
    for key, value in utm_defaults.items():
        if key not in UTM_KEYS:
            raise TikTokConfigError(f"utm_defaults: unknown key {key!r}; use {', '.join(UTM_KEYS)}")
        if not isinstance(value, str) or not value.strip():
            raise TikTokConfigError(f"utm_defaults: {key} must be a non-empty string")
        checked[key] = value
    return checked


# ----------------------------------------------------------------------------------- records
@dataclass
class Tally:
    """Run totals: rows, exact money, counts, how many metric values TikTok left empty, the ads absent from the
    ad listing and the records whose UTM values held a URL macro that could not be resolved (per macro)."""

    rows: int = 0
    cost: Decimal = Decimal(0)
    impressions: int = 0
    clicks: int = 0
    conversions: int = 0
    empty_metric_values: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS, 0))
    ads_missing_from_listing: set[str] = field(default_factory=set)
    unresolved_url_macros: Counter[str] = field(default_factory=Counter)

    def totals(self) -> dict[str, float | int]:
        """The four totals (cost summed exactly, then shown as a float)."""
        return {
            "cost": float(self.cost),
            "impressions": self.impressions,
            "clicks": self.clicks,
            "conversions": self.conversions,
        }


def build_record(
    row: Mapping[str, Any],
    *,
    row_number: int,
    advertiser_id: str,
    currency: str,
    ads: Mapping[str, Mapping[str, Any]],
    utm_defaults: Mapping[str, str],
    tally: Tally,
    utm_memo: UtmMemo | None = None,
) -> dict[str, Any]:
    """One "Daily Ad Metrics" record from a report row (``{"dimensions", "metrics"}``), with names from the
    row or else from ``ads`` (``ad/get`` items by ad id), UTM fields (None where unknown: an ad absent from
    ``ads``, a macro only a click fills), and the row added to ``tally``; ``utm_memo`` keeps the UTM values
    of the ads already seen in the run."""
    dimensions = row.get("dimensions") or {}
    metrics = row.get("metrics") or {}
    ad_id = str(dimensions.get("ad_id") or "")
    if not (ad_id.isascii() and ad_id.isdigit()):
        raise TikTokInputError("the report row has no numeric ad id", row=row_number, field="dimensions.ad_id")
    try:
        day = report_day(dimensions.get("stat_time_day"))
    except ValueError:
        raise TikTokInputError(
            "the report row has no valid day", row=row_number, field="dimensions.stat_time_day"
        ) from None
    ad = ads.get(ad_id)
    names = _names(metrics, ad or {})
    cost, counts = _tallied_metrics(metrics, row_number, tally)
    utm, unresolved = _utm(ad_id, ad, names, utm_defaults, {} if utm_memo is None else utm_memo)
    if ad is None:
        tally.ads_missing_from_listing.add(ad_id)
    tally.unresolved_url_macros.update(set(unresolved))
    return {
        "event_type": EVENT_TYPE,
        "date": day.isoformat(),
        "ad_platform": AD_PLATFORM,
        "ad_account_id": advertiser_id,
        "campaign_id": names["campaign_id"],
        "campaign_name": names["campaign_name"],
        "ad_group_id": names["ad_group_id"],
        "ad_group_name": names["ad_group_name"],
        "ad_id": ad_id,
        "ad_name": names["ad_name"],
        "ad_metrics": {"cost": float(cost), **counts},
        "currency": currency,
        "user_properties": dict(utm),
    }


def _utm(
    ad_id: str,
    ad: Mapping[str, Any] | None,
    names: Mapping[str, str | None],
    utm_defaults: Mapping[str, str],
    memo: UtmMemo,
) -> tuple[Utm, list[str]]:
    """The ad's UTM values and unresolved macros, from ``memo`` when this ad (with these names) was seen."""
    key = (ad_id, ad is not None, names["campaign_name"], names["ad_name"])
    known = memo.get(key)
    if known is None:
        known = memo[key] = utm_properties(ad, names["campaign_name"], names["ad_name"], utm_defaults)
    return known


def _names(metrics: Mapping[str, Any], ad: Mapping[str, Any]) -> dict[str, str | None]:
    """The record's ids and names: the report row's, else the ad listing's, else None."""
    names = {}
    for name, attribute in NAMES.items():
        value = metrics.get(attribute)
        names[name] = str(value) if not _is_empty(value) else (str(ad[attribute]) if ad.get(attribute) else None)
    return names


def _tallied_metrics(metrics: Mapping[str, Any], row_number: int, tally: Tally) -> tuple[Decimal, dict[str, int]]:
    """The row's cost and counts (empty values as 0, counted), added to ``tally``."""
    cost, cost_empty = parse_cost(metrics.get("spend"), row=row_number, field_name="metrics.spend")
    counts = {}
    empties = {"cost": cost_empty}
    for name in ("impressions", "clicks", "conversions"):
        attribute = METRICS[name]
        counts[name], empties[name] = parse_count(
            metrics.get(attribute), row=row_number, field_name=f"metrics.{attribute}"
        )
    tally.rows += 1
    tally.cost += cost
    tally.impressions += counts["impressions"]
    tally.clicks += counts["clicks"]
    tally.conversions += counts["conversions"]
    for name, empty in empties.items():
        tally.empty_metric_values[name] += empty
    return cost, counts


def record_line(record: Mapping[str, Any]) -> str:
    """One JSON Lines line: keys in record order, UTF-8 text kept, no spaces."""
    return _LINE_ENCODER.encode(record) + "\n"


def sort_key(record: Mapping[str, Any]) -> tuple[int, str]:
    """Order of records in a day: by ad id, numerically."""
    return len(record["ad_id"]), record["ad_id"]


def count_changed(previous: Mapping[str, Mapping[str, Any]], records: Iterable[Mapping[str, Any]]) -> int:
    """How many records have an ``ad_metrics`` different from the one stored before for the same ad
    (``previous``: ad id -> stored ad_metrics); ads not stored before are not revisions."""
    return sum(
        1
        for record in records
        if record["ad_id"] in previous and not same_metrics(previous[record["ad_id"]], record["ad_metrics"])
    )


def same_metrics(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Equal metrics, money compared as exact decimals (a database may hand back ``12.30`` for ``12.3``)."""
    try:
        return all(Decimal(str(old[name])) == Decimal(str(new[name])) for name in METRICS)
    except (KeyError, InvalidOperation):
        return False


def local_day(moment: datetime, zone: Any) -> tuple[date, bool]:
    """The advertiser's calendar day containing ``moment``, and whether ``moment`` is that day's midnight."""
    local = moment.astimezone(zone)
    return local.date(), (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
