"""Account endpoints: ``advertiser/info/`` and the ``campaign/get/``, ``adgroup/get/``, ``ad/get/`` listings.

Listings are ordered by id, paged (``page_size`` 1..1000, default 10) and filtered by a JSON *object*
``filtering``. As in TikTok (and its SDK's default), ``primary_status`` defaults to ``STATUS_NOT_DELETE``:
deleted ads are left out unless ``STATUS_ALL`` (or ``STATUS_DELETE``) is asked for. Unsupported filter keys
or field names answer 40002 rather than being ignored, so a client never trusts a filter the emulator
did not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta, timezone
from typing import Any

from airflow_provider_tiktok.emulator import params
from airflow_provider_tiktok.emulator.data import Ad, AdGroup, Campaign
from airflow_provider_tiktok.emulator.envelope import INVALID_PARAMS, ApiError
from airflow_provider_tiktok.emulator.routing import ApiRequest, Route, page_params, paginate
from airflow_provider_tiktok.emulator.spec import PRIMARY_STATUSES
from airflow_provider_tiktok.emulator.state import EmulatorState

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _time(moment: datetime) -> str:
    """TikTok's ``YYYY-MM-DD HH:MM:SS`` (UTC) timestamp."""
    return moment.strftime(TIME_FORMAT)


def advertiser_info(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET advertiser/info/``: details of the listed advertisers (40001 for any the token cannot see)."""
    ids = params.id_list(request.params, "advertiser_ids", required=True, min_items=1, max_items=100) or []
    wanted = params.decoded(request.params, "fields", list)
    items = []
    for advertiser_id in ids:
        if request.token is not None:
            state.check_advertiser(request.token, advertiser_id)
        adv = state.dataset.advertisers[advertiser_id]
        created = datetime.combine(state.anchor - timedelta(days=800), time(), timezone.utc)
        item = {
            "advertiser_id": adv.advertiser_id,
            "name": adv.name,
            "company": adv.company,
            "currency": adv.currency,
            "timezone": adv.timezone,
            "display_timezone": adv.timezone,
            "country": adv.country,
            "language": adv.language,
            "status": "STATUS_ENABLE",
            "role": "ROLE_ADVERTISER",
            "create_time": int(created.timestamp()),
            "balance": 0.0,
            "industry": "291905",
        }
        items.append(_select(item, wanted))
    return {"list": items}


def _select(item: dict[str, Any], wanted: list[Any] | None) -> dict[str, Any]:
    """Keep only the requested ``fields`` (all when none are named); unknown names answer 40002."""
    if not wanted:
        return item
    unknown = [f for f in wanted if f not in item]
    if unknown:
        raise ApiError(INVALID_PARAMS, f"fields: Invalid field names {unknown}.")
    return {f: item[f] for f in wanted}


def _ad_item(state: EmulatorState, ad: Ad) -> dict[str, Any]:
    """One ad as ``ad/get`` answers it."""
    return {
        "advertiser_id": ad.advertiser_id,
        "campaign_id": ad.campaign_id,
        "campaign_name": state.dataset.campaign_by_id[ad.campaign_id].campaign_name,
        "adgroup_id": ad.adgroup_id,
        "adgroup_name": state.dataset.adgroup_by_id[ad.adgroup_id].adgroup_name,
        "ad_id": ad.ad_id,
        "ad_name": ad.ad_name,
        "ad_text": ad.ad_text,
        "ad_format": "SINGLE_VIDEO",
        "call_to_action": "SHOP_NOW",
        "landing_page_url": ad.landing_page_url,
        # Smart Creative (ACO) ads list their pages as objects (SDK AdAcoBodyLandingPageUrls); others answer null.
        "landing_page_urls": [{"landing_page_url": url} for url in ad.landing_page_urls] or None,
        "operation_status": ad.operation_status,
        "primary_status": ad.primary_status,
        "secondary_status": ad.secondary_status,
        "create_time": _time(ad.create_time),
        "modify_time": _time(ad.modify_time),
    }


def _campaign_item(state: EmulatorState, campaign: Campaign) -> dict[str, Any]:
    """One campaign as ``campaign/get`` answers it."""
    return {
        "advertiser_id": campaign.advertiser_id,
        "campaign_id": campaign.campaign_id,
        "campaign_name": campaign.campaign_name,
        "objective_type": campaign.objective_type,
        "budget": float(campaign.budget),
        "budget_mode": "BUDGET_MODE_DAY",
        "operation_status": "ENABLE",
        "secondary_status": "CAMPAIGN_STATUS_ENABLE",
        "create_time": _time(campaign.create_time),
        "modify_time": _time(campaign.create_time),
    }


def _adgroup_item(state: EmulatorState, group: AdGroup) -> dict[str, Any]:
    """One ad group as ``adgroup/get`` answers it."""
    return {
        "advertiser_id": group.advertiser_id,
        "campaign_id": group.campaign_id,
        "campaign_name": state.dataset.campaign_by_id[group.campaign_id].campaign_name,
        "adgroup_id": group.adgroup_id,
        "adgroup_name": group.adgroup_name,
        "optimization_goal": group.optimization_goal,
        "operation_status": "ENABLE",
        "secondary_status": "ADGROUP_STATUS_DELIVERY_OK",
        "create_time": _time(group.create_time),
        "modify_time": _time(group.create_time),
    }


def _listing(
    state: EmulatorState,
    request: ApiRequest,
    objects: Sequence[Any],
    id_filters: dict[str, str],
    to_item: Callable[[EmulatorState, Any], dict[str, Any]],
    status_of: Callable[[Any], str],
) -> dict[str, Any]:
    """Filter, page and shape a listing; ``id_filters`` maps filter keys to the object attribute they match."""
    page, page_size = page_params(request, max_page_size=1000)
    wanted = params.decoded(request.params, "fields", list)
    filtering = params.decoded(request.params, "filtering", dict) or {}
    unknown = set(filtering) - set(id_filters) - {"primary_status", "modified_after"}
    if unknown:
        raise ApiError(INVALID_PARAMS, f"filtering: Unsupported keys {sorted(unknown)}.")
    status = params.text(filtering, "primary_status", default="STATUS_NOT_DELETE")
    if status not in PRIMARY_STATUSES:
        raise ApiError(INVALID_PARAMS, f"filtering.primary_status: Must be one of {', '.join(PRIMARY_STATUSES)}.")
    selected = [o for o in objects if _status_matches(status_of(o), status)]
    for key, attribute in id_filters.items():
        ids = params.id_list(filtering, key)
        if ids is not None:
            allowed = set(ids)
            selected = [o for o in selected if getattr(o, attribute) in allowed]
    modified_after = params.text(filtering, "modified_after")
    if modified_after is not None:
        try:
            after = datetime.strptime(modified_after, TIME_FORMAT).replace(tzinfo=timezone.utc)
        except ValueError:
            raise ApiError(INVALID_PARAMS, "filtering.modified_after: Use YYYY-MM-DD HH:MM:SS.") from None
        selected = [o for o in selected if getattr(o, "modify_time", o.create_time) > after]
    chunk, page_info = paginate(selected, page, page_size)
    return {"list": [_select(to_item(state, o), wanted) for o in chunk], "page_info": page_info}


def _status_matches(actual: str, wanted: str) -> bool:
    """Whether an object's primary status passes the ``primary_status`` filter."""
    if wanted == "STATUS_ALL":
        return True
    if wanted == "STATUS_NOT_DELETE":
        return actual != "STATUS_DELETE"
    return actual == wanted


def ad_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET ad/get/``: the advertiser's ads (deleted ones only with ``primary_status`` STATUS_ALL)."""
    advertiser_id = request.advertiser_id(state)
    return _listing(
        state,
        request,
        state.dataset.ads[advertiser_id],
        {"ad_ids": "ad_id", "adgroup_ids": "adgroup_id", "campaign_ids": "campaign_id"},
        _ad_item,
        lambda ad: ad.primary_status,
    )


def campaign_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET campaign/get/``: the advertiser's campaigns (none are deleted)."""
    advertiser_id = request.advertiser_id(state)
    return _listing(
        state,
        request,
        state.dataset.campaigns[advertiser_id],
        {"campaign_ids": "campaign_id"},
        _campaign_item,
        lambda _: "STATUS_DELIVERY_OK",
    )


def adgroup_get(state: EmulatorState, request: ApiRequest) -> dict[str, Any]:
    """``GET adgroup/get/``: the advertiser's ad groups (none are deleted)."""
    advertiser_id = request.advertiser_id(state)
    return _listing(
        state,
        request,
        state.dataset.adgroups[advertiser_id],
        {"campaign_ids": "campaign_id", "adgroup_ids": "adgroup_id"},
        _adgroup_item,
        lambda _: "STATUS_DELIVERY_OK",
    )


ROUTES = [
    Route("GET", "advertiser/info/", advertiser_info, "ad_account_management"),
    Route("GET", "ad/get/", ad_get, "ads_management"),
    Route("GET", "campaign/get/", campaign_get, "ads_management"),
    Route("GET", "adgroup/get/", adgroup_get, "ads_management"),
]
