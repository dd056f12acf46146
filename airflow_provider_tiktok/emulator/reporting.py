"""``GET report/integrated/get/``: synchronous BASIC reports over the seeded daily metrics.

Supported: ``data_level`` AUCTION_AD / AUCTION_ADGROUP / AUCTION_CAMPAIGN / AUCTION_ADVERTISER with the
matching id dimension, optionally plus ``stat_time_day`` (other levels aggregate the ad rows); ``filtering``
on ``ad_status`` (``["STATUS_ALL"]`` brings deleted ads' rows), ``ad_ids``, ``adgroup_ids``,
``campaign_ids`` with filter type IN; ``order_field`` on spend/impressions/clicks/conversion/stat_time_day;
``enable_total_metrics``. Every requested metric is answered: spend (two-place decimal string),
impressions, clicks, conversion (integer strings, "-" for zero), currency and the names/ids of the row's
level and above; any other metric is "-". Limits as TikTok: 30 days a request, ``page_size`` 1..1000,
``start_date`` at most 365 days back; days from the advertiser's today on have no rows; a page past the
end is an empty list. The ``max_report_days`` fault answers 40067 for longer windows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from airflow_provider_tiktok.emulator import params
from airflow_provider_tiktok.emulator.data import (
    EMPTY,
    Dataset,
    Delivery,
    advertiser_today,
    days_between,
    format_money,
    revised_conversions,
)
from airflow_provider_tiktok.emulator.envelope import INVALID_PARAMS, REPORT_TOO_LARGE, ApiError
from airflow_provider_tiktok.emulator.routing import ApiRequest, Route, page_params, paginate
from airflow_provider_tiktok.emulator.state import EmulatorState

MAX_DAYS = 30
HISTORY_LIMIT_DAYS = 365
#: data_level -> the id dimension of its rows.
LEVELS = {
    "AUCTION_AD": "ad_id",
    "AUCTION_ADGROUP": "adgroup_id",
    "AUCTION_CAMPAIGN": "campaign_id",
    "AUCTION_ADVERTISER": "advertiser_id",
}
#: Which id/name attributes each level can answer (the level's own and those above it).
_LEVEL_ATTRIBUTES = {
    "AUCTION_AD": {"ad_id", "ad_name", "adgroup_id", "adgroup_name", "campaign_id", "campaign_name"},
    "AUCTION_ADGROUP": {"adgroup_id", "adgroup_name", "campaign_id", "campaign_name"},
    "AUCTION_CAMPAIGN": {"campaign_id", "campaign_name"},
    "AUCTION_ADVERTISER": set(),
}
_COUNTS = ("spend", "impressions", "clicks", "conversion")
_ORDER_FIELDS = (*_COUNTS, "stat_time_day")
_ID_FILTERS = {"ad_ids": "ad_id", "adgroup_ids": "adgroup_id", "campaign_ids": "campaign_id"}
_AD_STATUSES = ("STATUS_ALL", "STATUS_NOT_DELETE", "STATUS_DELETE")


def _date(request: ApiRequest, name: str) -> date:
    """A required ``YYYY-MM-DD`` parameter."""
    value = params.required_text(request.params, name)
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise ApiError(INVALID_PARAMS, f"{name}: Not a valid date, use YYYY-MM-DD.") from None


def _filters(request: ApiRequest) -> tuple[str, dict[str, set[str]]]:
    """The ad status filter (default STATUS_NOT_DELETE) and id filters from the JSON array ``filtering``."""
    status = "STATUS_NOT_DELETE"
    ids: dict[str, set[str]] = {}
    for item in params.decoded(request.params, "filtering", list) or []:
        if not isinstance(item, dict) or "field_name" not in item:
            raise ApiError(INVALID_PARAMS, "filtering: Each item needs field_name, filter_type and filter_value.")
        name, kind, raw = item.get("field_name"), str(item.get("filter_type", "IN")).upper(), item.get("filter_value")
        if kind != "IN":
            raise ApiError(INVALID_PARAMS, f"filtering.{name}: The emulator supports filter_type IN only.")
        values = raw
        if isinstance(raw, str):
            try:
                values = json.loads(raw)
            except ValueError:
                raise ApiError(INVALID_PARAMS, f"filtering.{name}: filter_value must be a JSON array.") from None
        if not isinstance(values, list) or not values:
            raise ApiError(INVALID_PARAMS, f"filtering.{name}: filter_value must be a non-empty JSON array.")
        if name == "ad_status":
            unknown = [v for v in values if v not in _AD_STATUSES]
            if unknown or len(values) != 1:
                raise ApiError(INVALID_PARAMS, f"filtering.ad_status: Use one of {', '.join(_AD_STATUSES)}.")
            status = values[0]
        elif name in _ID_FILTERS:
            ids[_ID_FILTERS[name]] = {str(v) for v in values}
        else:
            raise ApiError(INVALID_PARAMS, f"filtering: field_name {name!r} is not supported by the emulator.")
    return status, ids


def _selected(deliveries: Iterable[Delivery], status: str, ids: dict[str, set[str]]) -> Iterable[Delivery]:
    """Deliveries that pass the status and id filters."""
    for d in deliveries:
        if (status == "STATUS_NOT_DELETE" and d.ad.deleted) or (status == "STATUS_DELETE" and not d.ad.deleted):
            continue
        if all(getattr(d.ad, attribute) in allowed for attribute, allowed in ids.items()):
            yield d


def _metric_value(
    name: str, totals: list[int], sample: Delivery | None, level: str, dataset: Dataset, decimals: int, currency: str
) -> str:
    """One metric of one row, as TikTok's string."""
    spend, impressions, clicks, conversions = totals
    if name == "spend":
        return format_money(spend, decimals)
    if name in ("impressions", "clicks"):
        return str(impressions if name == "impressions" else clicks)
    if name == "conversion":
        return str(conversions) if conversions else EMPTY
    if name == "currency":
        return currency
    if sample is not None and name in _LEVEL_ATTRIBUTES[level]:
        ad = sample.ad
        if name.startswith("campaign"):
            campaign = dataset.campaign_by_id[ad.campaign_id]
            return campaign.campaign_id if name == "campaign_id" else campaign.campaign_name
        if name.startswith("adgroup"):
            group = dataset.adgroup_by_id[ad.adgroup_id]
            return group.adgroup_id if name == "adgroup_id" else group.adgroup_name
        return ad.ad_id if name == "ad_id" else ad.ad_name
    return EMPTY


def report_integrated_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """Answer one page of a synchronous BASIC report."""
    p = request.params
    report_type = params.required_text(p, "report_type")
    if report_type != "BASIC":
        raise ApiError(INVALID_PARAMS, f"report_type: The emulator serves BASIC reports only, got {report_type}.")
    advertiser_id = request.advertiser_id(state)
    if params.text(p, "service_type", default="AUCTION") != "AUCTION":
        raise ApiError(INVALID_PARAMS, "service_type: The emulator serves AUCTION reports only.")
    level = params.required_text(p, "data_level")
    if level not in LEVELS:
        raise ApiError(INVALID_PARAMS, f"data_level: The emulator serves {', '.join(LEVELS)} only.")
    dimensions = params.decoded(p, "dimensions", list, required=True)
    id_dimension = LEVELS[level]
    allowed = {id_dimension, "stat_time_day"}
    if id_dimension not in dimensions or not set(dimensions) <= allowed or len(set(dimensions)) != len(dimensions):
        raise ApiError(
            INVALID_PARAMS,
            f'dimensions: For {level} use ["{id_dimension}"] or ["{id_dimension}", "stat_time_day"], got {dimensions}.',
        )
    metrics = params.decoded(p, "metrics", list) or ["spend", "impressions"]
    if not all(isinstance(m, str) for m in metrics):
        raise ApiError(INVALID_PARAMS, "metrics: Every item must be a metric name.")
    if params.boolean(p, "query_lifetime"):
        raise ApiError(INVALID_PARAMS, "query_lifetime: Lifetime reports are not served by the emulator.")
    start, end = _date(request, "start_date"), _date(request, "end_date")
    if end < start:
        raise ApiError(INVALID_PARAMS, "end_date: Must not be earlier than start_date.")
    span = (end - start).days + 1
    if span > MAX_DAYS:
        raise ApiError(
            INVALID_PARAMS,
            f"start_date, end_date: The time span cannot exceed {MAX_DAYS} days for daily data, got {span}.",
        )
    if state.faults.max_report_days is not None and span > state.faults.max_report_days:
        raise ApiError(
            REPORT_TOO_LARGE,
            "Query too large: the amount of data requested is too large, please narrow the date range.",
        )
    today = advertiser_today(advertiser_id, state.now())
    if start < today - timedelta(days=HISTORY_LIMIT_DAYS):
        raise ApiError(INVALID_PARAMS, f"start_date: Data is only available for the last {HISTORY_LIMIT_DAYS} days.")
    page, page_size = page_params(request, max_page_size=1000)
    status, ids = _filters(request)
    order_field = params.text(p, "order_field")
    if order_field is not None and order_field not in _ORDER_FIELDS:
        raise ApiError(INVALID_PARAMS, f"order_field: The emulator orders by {', '.join(_ORDER_FIELDS)}.")
    descending = params.text(p, "order_type", default="DESC") == "DESC"
    by_day = "stat_time_day" in dimensions

    # Aggregate light tuples for every row first, then format only the requested page.
    groups: dict[tuple[str, date | None], tuple[list[int], Delivery]] = {}
    for day in days_between(start, min(end, today - timedelta(days=1))):
        for d in _selected(state.dataset.deliveries(advertiser_id, day), status, ids):
            key_id = advertiser_id if level == "AUCTION_ADVERTISER" else getattr(d.ad, id_dimension)
            key = (key_id, day if by_day else None)
            conversions = revised_conversions(d.conversions, day, today)
            if key in groups:
                totals = groups[key][0]
                totals[0] += d.spend_minor
                totals[1] += d.impressions
                totals[2] += d.clicks
                totals[3] += conversions
            else:
                groups[key] = ([d.spend_minor, d.impressions, d.clicks, conversions], d)
    keys = sorted(groups, key=lambda k: (k[1] or start, k[0]))
    if order_field in _COUNTS:
        index = _COUNTS.index(order_field)
        keys.sort(key=lambda k: groups[k][0][index], reverse=descending)
    elif order_field == "stat_time_day":
        keys.sort(key=lambda k: k[1] or start, reverse=descending)
    chunk, page_info = paginate(keys, page, page_size)

    advertiser = state.dataset.advertisers[advertiser_id]
    rows = []
    for key in chunk:
        totals, sample = groups[key]
        row_dimensions = {
            dim: f"{key[1].isoformat()} 00:00:00" if dim == "stat_time_day" and key[1] else key[0] for dim in dimensions
        }
        rows.append(
            {
                "dimensions": row_dimensions,
                "metrics": {
                    m: _metric_value(m, totals, sample, level, state.dataset, advertiser.decimals, advertiser.currency)
                    for m in metrics
                },
            }
        )
    answer: dict[str, Any] = {"list": rows, "page_info": page_info}
    if params.boolean(p, "enable_total_metrics"):
        sums = [sum(groups[k][0][i] for k in keys) for i in range(4)]
        answer["total_metrics"] = {
            m: _metric_value(m, sums, None, level, state.dataset, advertiser.decimals, advertiser.currency)
            for m in metrics
        }
    return answer


ROUTES = [Route("GET", "report/integrated/get/", report_integrated_get, "reporting")]
