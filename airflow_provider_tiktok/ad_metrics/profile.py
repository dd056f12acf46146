"""The advertiser's currency and report time zone, read once from ``advertiser/info/`` and cached locally:
TikTok fixes both when the account is created."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError
from airflow_provider_tiktok.utils.storage import atomic_write_text, default_root

if TYPE_CHECKING:
    from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook

log = logging.getLogger(__name__)

#: Advertiser currency and time zone, kept under the default root.
PROFILE_FOLDER = ".advertisers"


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
