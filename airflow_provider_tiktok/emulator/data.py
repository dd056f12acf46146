"""Seeded synthetic advertisers, campaigns, ad groups and ads, with daily metrics derived lazily from a hash.

Structure (names, landing pages, flight dates, statuses) comes from ``random.Random`` seeded with the seed
and the advertiser id. Dates are placed relative to an *anchor* day (by default the UTC date of the
emulator clock when its state was created) so that the data always covers the ~400 days before it;
statuses describe the ads as of the anchor. Daily metrics of one (ad, day) come from a BLAKE2b hash of
(seed, ad id, day): nothing is stored per day, and every process computes the same numbers.

Conventions the report endpoint and :func:`expected_daily_rows` share:

- a row exists only for an (ad, day) with delivery, and only for days before the advertiser's today
  (in the advertiser's time zone); an ad delivers on about 60 % of the days it is active;
- ``conversion`` grows retroactively: one, two and three days after a day it stands at 50 %, 70 % and
  90 % of its final value (rounded down), and is final from the fourth day on;
- a zero ``conversion`` is answered as ``"-"`` (TikTok's empty value), so clients must read ``"-"``
  as missing; money is a decimal string with two places (JPY amounts are whole yen, ``"1234.00"``).
"""

from __future__ import annotations

import hashlib
import random
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from airflow_provider_tiktok.emulator import ADVERTISER_A, ADVERTISER_B, ADVERTISER_C, DEFAULT_SEED
from airflow_provider_tiktok.emulator.landing import click_utm, plain_page, tiktok_pages

#: Share of an ad's active days on which it delivers.
DELIVERY_RATE = 0.6
#: Percent of the final conversions reported 1, 2 and 3 days after a day; final afterwards.
REVISION_PERCENT: dict[int, int] = {1: 50, 2: 70, 3: 90}
#: How far back the seeded flights reach before the anchor (the report API itself allows 365 days).
HISTORY_DAYS = 400
EMPTY = "-"
#: Names use an en dash, as marketers type them (clients must keep non-ASCII text intact).
DASH = " \u2013 "


@dataclass(frozen=True)
class Advertiser:
    """One seeded advertiser account and the size of its ad tree."""

    advertiser_id: str
    name: str
    company: str
    currency: str
    timezone: str
    country: str
    language: str
    n_campaigns: int
    n_adgroups: int
    n_ads: int
    cpm_range: tuple[float, float]  # cost per mille in minor units (cents; whole yen for JPY)

    @property
    def decimals(self) -> int:
        """Minor-unit digits of the currency (JPY has none)."""
        return 0 if self.currency == "JPY" else 2

    @cached_property
    def zone(self) -> ZoneInfo:
        """The advertiser's time zone; report days are its calendar days."""
        return ZoneInfo(self.timezone)


ADVERTISERS: dict[str, Advertiser] = {
    a.advertiser_id: a
    for a in (
        Advertiser(
            ADVERTISER_A,
            "Demo Store US",
            "Demo Store Inc.",
            "USD",
            "America/Los_Angeles",
            "US",
            "en",
            20,
            100,
            1000,
            (400.0, 1400.0),
        ),
        Advertiser(
            ADVERTISER_B,
            "Demo Shop DE",
            "Demo Shop GmbH",
            "EUR",
            "Europe/Berlin",
            "DE",
            "de",
            30,
            150,
            1500,
            (350.0, 1200.0),
        ),
        Advertiser(
            ADVERTISER_C, "Demo Store JP", "Demo Store K.K.", "JPY", "Asia/Tokyo", "JP", "ja", 2, 4, 20, (600.0, 2000.0)
        ),
    )
}

_THEMES = {
    "en": [
        "Summer Sale",
        "Back to School",
        "Black Friday",
        "Holiday Gifts",
        "New Arrivals",
        "Spring Drop",
        "Clearance",
        "Bestsellers",
        "Loyalty Week",
        "Flash Deal",
    ],
    "de": [
        "Sommerschlussverkauf",
        "Größen-Special",
        "Black Friday",
        "Weihnachtsgeschenke",
        "Neuheiten",
        "Frühjahrskollektion",
        "Räumungsverkauf",
        "Bestseller",
        "Treuewoche",
        "Blitzangebot",
    ],
    "ja": ["冬のセール", "新生活応援"],
}
_AUDIENCES = ["Broad", "Lookalike 1%", "Retargeting 30d", "Interests", "Custom Audience"]
_DOMAINS = {
    ADVERTISER_A: "demo-store.example.com",
    ADVERTISER_B: "demo-shop.example.de",
    ADVERTISER_C: "demo-store.example.jp",
}


@dataclass(frozen=True)
class Campaign:
    """A seeded campaign."""

    campaign_id: str
    advertiser_id: str
    campaign_name: str
    objective_type: str
    budget: int
    create_time: datetime


@dataclass(frozen=True)
class AdGroup:
    """A seeded ad group inside a campaign."""

    adgroup_id: str
    advertiser_id: str
    campaign_id: str
    adgroup_name: str
    optimization_goal: str
    create_time: datetime


@dataclass(frozen=True)
class Ad:
    """A seeded ad: its flight, status, landing page (and the UTM values written in it, macros as written) and
    its scale."""

    ad_id: str
    advertiser_id: str
    campaign_id: str
    adgroup_id: str
    ad_name: str
    ad_text: str
    landing_page_url: str
    utm: dict[str, str] = field(hash=False)
    start: date
    end: date | None
    paused_on: date | None
    deleted_on: date | None
    create_time: datetime
    modify_time: datetime
    scale: float
    ctr: float
    cvr: float
    cpm_minor: float
    #: A Smart Creative (ACO) ad's pages (its ``landing_page_url`` is then empty); see :mod:`.landing`.
    landing_page_urls: tuple[str, ...] = ()

    @property
    def deleted(self) -> bool:
        """True for an ad deleted before the anchor (hidden by default in ad/get and reports)."""
        return self.deleted_on is not None

    def active_on(self, day: date) -> bool:
        """Whether the ad could deliver on ``day``: inside its flight, not yet paused or deleted."""
        return (
            self.start <= day
            and (self.end is None or day <= self.end)
            and (self.paused_on is None or day < self.paused_on)
            and (self.deleted_on is None or day < self.deleted_on)
        )

    @property
    def operation_status(self) -> str:
        """ENABLE or DISABLE, as ad/get reports it."""
        return "DISABLE" if self.paused_on or self.deleted_on else "ENABLE"

    @property
    def primary_status(self) -> str:
        """The ad/get primary status (the value ``filtering.primary_status`` matches)."""
        if self.deleted_on:
            return "STATUS_DELETE"
        if self.paused_on:
            return "STATUS_DISABLE"
        if self.end:
            return "STATUS_TIME_DONE"
        return "STATUS_DELIVERY_OK"

    @property
    def secondary_status(self) -> str:
        """The ad-level secondary status string of ad/get."""
        return {
            "STATUS_DELETE": "AD_STATUS_DELETE",
            "STATUS_DISABLE": "AD_STATUS_DISABLE",
            "STATUS_TIME_DONE": "AD_STATUS_DONE",
            "STATUS_DELIVERY_OK": "AD_STATUS_DELIVERY_OK",
        }[self.primary_status]


class Delivery(NamedTuple):
    """Final (unrevised) metrics of one ad on one day, in minor currency units."""

    ad: Ad
    spend_minor: int
    impressions: int
    clicks: int
    conversions: int


def format_money(minor: int, decimals: int) -> str:
    """A minor-unit amount as TikTok's two-place decimal string."""
    if decimals == 0:
        return f"{minor}.00"
    return f"{minor // 100}.{minor % 100:02d}"


def revised_conversions(final: int, day: date, today: date) -> int:
    """Conversions reported for ``day`` when the advertiser's date is ``today`` (late conversions arrive)."""
    percent = REVISION_PERCENT.get((today - day).days, 100)
    return final * percent // 100


def advertiser_today(advertiser_id: str, as_of: datetime) -> date:
    """The calendar date in the advertiser's time zone at instant ``as_of``."""
    return as_of.astimezone(ADVERTISERS[advertiser_id].zone).date()


def _at(day: date, rng: random.Random) -> datetime:
    """A UTC timestamp at a random second of ``day``."""
    return datetime.combine(day, time(), timezone.utc) + timedelta(seconds=rng.randrange(86_400))


def _slug(text: str, index: int) -> str:
    """An ASCII URL slug for a product or campaign."""
    ascii_part = "".join(c if c.isascii() and c.isalnum() else "_" for c in text.lower()).strip("_")
    return f"{ascii_part or 'item'}_{index}"


class Dataset:
    """The seeded account tree of every advertiser, and lazily computed daily deliveries."""

    def __init__(self, seed: int, anchor: date) -> None:
        """Build campaigns, ad groups and ads for every advertiser (a few thousand objects, no metrics)."""
        self.seed = seed
        self.anchor = anchor
        self.advertisers = ADVERTISERS
        self.campaigns: dict[str, tuple[Campaign, ...]] = {}
        self.adgroups: dict[str, tuple[AdGroup, ...]] = {}
        self.ads: dict[str, tuple[Ad, ...]] = {}
        for index, advertiser in enumerate(ADVERTISERS.values(), start=1):
            self._build(advertiser, index)
        self.campaign_by_id = {c.campaign_id: c for cs in self.campaigns.values() for c in cs}
        self.adgroup_by_id = {g.adgroup_id: g for gs in self.adgroups.values() for g in gs}
        self.ad_by_id = {a.ad_id: a for ads in self.ads.values() for a in ads}

    def _build(self, adv: Advertiser, index: int) -> None:
        """Generate one advertiser's tree from a RNG seeded with (seed, advertiser)."""
        rng = random.Random(f"{self.seed}:{adv.advertiser_id}")
        anchor = self.anchor
        themes = _THEMES[adv.language]
        campaigns = []
        for i in range(adv.n_campaigns):
            theme = themes[i % len(themes)]
            campaigns.append(
                Campaign(
                    campaign_id=f"17{index}{i + 1:016d}",
                    advertiser_id=adv.advertiser_id,
                    campaign_name=f"{adv.country} {rng.choice(['Prospecting', 'Retargeting', 'Always-on'])} "
                    f"{i + 1:02d}{DASH}{theme}",
                    objective_type=rng.choice(["CONVERSIONS", "TRAFFIC", "PRODUCT_SALES"]),
                    budget=rng.choice([50, 100, 250, 500]) * (150 if adv.currency == "JPY" else 1),
                    create_time=_at(anchor - timedelta(days=rng.randint(650, 760)), rng),
                )
            )
        adgroups = []
        for j in range(adv.n_adgroups):
            campaign = campaigns[j % adv.n_campaigns]
            adgroups.append(
                AdGroup(
                    adgroup_id=f"18{index}{j + 1:016d}",
                    advertiser_id=adv.advertiser_id,
                    campaign_id=campaign.campaign_id,
                    adgroup_name=f"{campaign.campaign_name.split(DASH)[-1]} / {rng.choice(_AUDIENCES)} {j + 1}",
                    optimization_goal=rng.choice(["CONVERT", "CLICK", "VALUE"]),
                    create_time=campaign.create_time + timedelta(days=rng.randint(0, 20)),
                )
            )
        # Every ad group gets at least one ad; the rest are spread at random.
        owners = list(range(adv.n_adgroups))
        owners += [rng.randrange(adv.n_adgroups) for _ in range(adv.n_ads - adv.n_adgroups)]
        rng.shuffle(owners)
        order = list(range(adv.n_ads))
        rng.shuffle(order)
        n_deleted = max(1, round(adv.n_ads * 0.05))
        n_paused = max(1, round(adv.n_ads * 0.08))
        n_ended = max(1, round(adv.n_ads * 0.07))
        fate = {k: "deleted" for k in order[:n_deleted]}
        fate.update({k: "paused" for k in order[n_deleted : n_deleted + n_paused]})
        fate.update({k: "ended" for k in order[n_deleted + n_paused : n_deleted + n_paused + n_ended]})
        campaign_index = {c.campaign_id: i for i, c in enumerate(campaigns)}
        ads = []
        for k in range(adv.n_ads):
            group = adgroups[owners[k]]
            campaign = campaigns[campaign_index[group.campaign_id]]
            ad_id = f"19{index}{k + 1:016d}"
            start = anchor - timedelta(days=rng.randint(420, 640) if rng.random() < 0.85 else rng.randint(10, 400))
            start = max(start, campaign.create_time.date())
            end = paused_on = deleted_on = None
            modified = start
            kind = fate.get(k)
            if kind is not None:
                when = anchor - timedelta(days=rng.randint(5, 120) if kind == "deleted" else rng.randint(3, 250))
                start = min(start, when - timedelta(days=30))
                modified = when
                if kind == "deleted":
                    deleted_on = when
                elif kind == "paused":
                    paused_on = when
                else:
                    end = when
            theme = campaign.campaign_name.split(DASH)[-1]
            slug = _slug(theme, k + 1)
            campaign_slug = _slug(theme, campaign_index[campaign.campaign_id] + 1)
            domain = _DOMAINS[adv.advertiser_id]
            plain = plain_page(rng, domain, slug, campaign_slug, ad_id)
            url, utm, aco_pages = tiktok_pages(self.seed, k, ad_id, domain, plain)
            create_time = _at(start - timedelta(days=1), rng)
            ads.append(
                Ad(
                    ad_id=ad_id,
                    advertiser_id=adv.advertiser_id,
                    campaign_id=campaign.campaign_id,
                    adgroup_id=group.adgroup_id,
                    ad_name=f"{theme}{DASH}Video {k + 1:04d}",
                    ad_text=f"{theme}: shop now",
                    landing_page_url=url,
                    utm=utm,
                    start=start,
                    end=end,
                    paused_on=paused_on,
                    deleted_on=deleted_on,
                    create_time=create_time,
                    modify_time=max(create_time, _at(modified, rng)),
                    scale=rng.uniform(0.2, 3.0),
                    ctr=rng.uniform(0.004, 0.03),
                    cvr=rng.uniform(0.01, 0.12),
                    cpm_minor=rng.uniform(*adv.cpm_range),
                    landing_page_urls=aco_pages,
                )
            )
        self.campaigns[adv.advertiser_id] = tuple(campaigns)
        self.adgroups[adv.advertiser_id] = tuple(adgroups)
        self.ads[adv.advertiser_id] = tuple(ads)

    def delivery(self, ad: Ad, day: date) -> Delivery | None:
        """Final metrics of ``ad`` on ``day``, or None when it did not deliver (pure: a hash, no state)."""
        if not ad.active_on(day):
            return None
        digest = hashlib.blake2b(f"{self.seed}|{ad.ad_id}|{day.isoformat()}".encode(), digest_size=20).digest()
        u0, u1, u2, u3, u4 = (v / 4_294_967_296 for v in struct.unpack(">5I", digest))
        if u0 >= DELIVERY_RATE:
            return None
        impressions = int(ad.scale * (300 + 4700 * u1)) + 1
        clicks = int(impressions * ad.ctr * (0.5 + u2))
        spend_minor = max(1, round(impressions * ad.cpm_minor / 1000 * (0.8 + 0.4 * u3)))
        conversions = int(clicks * ad.cvr * 2 * u4)
        return Delivery(ad, spend_minor, impressions, clicks, conversions)

    def deliveries(self, advertiser_id: str, day: date) -> tuple[Delivery, ...]:
        """Every delivering ad of the advertiser on ``day`` (deleted ads included), in ad id order."""
        return _deliveries(self.seed, self.anchor, advertiser_id, day)


@lru_cache(maxsize=8)
def get_dataset(seed: int = DEFAULT_SEED, anchor: date | None = None) -> Dataset:
    """The (cached) dataset for a seed and anchor day; anchor defaults to today's UTC date."""
    return Dataset(seed, anchor or datetime.now(timezone.utc).date())


@lru_cache(maxsize=256)
def _deliveries(seed: int, anchor: date, advertiser_id: str, day: date) -> tuple[Delivery, ...]:
    """Cached per (advertiser, day): a 30-day report of 1,500 ads then costs one hash per ad-day once."""
    dataset = get_dataset(seed, anchor)
    found = (dataset.delivery(ad, day) for ad in dataset.ads[advertiser_id])
    return tuple(d for d in found if d is not None)


def days_between(start: date, end: date) -> Iterable[date]:
    """Every date from ``start`` to ``end`` inclusive."""
    return (start + timedelta(days=n) for n in range((end - start).days + 1))


def expected_daily_rows(
    advertiser_id: str,
    day: date,
    include_deleted: bool = False,
    as_of: datetime | None = None,
    *,
    seed: int = DEFAULT_SEED,
    anchor: date | None = None,
) -> list[dict[str, Any]]:
    """The ad-level rows the report API answers for one advertiser day: the source of truth for tests.

    :param advertiser_id: a seeded advertiser id.
    :param day: the report day, in the advertiser's time zone.
    :param include_deleted: include deleted ads (the report's ``ad_status`` STATUS_ALL filter).
    :param as_of: the emulator-clock instant (decides "today" and the revision of conversions); default now.
    :param seed: the emulator's seed.
    :param anchor: the emulator state's anchor day (``EmulatorState.anchor``); default ``as_of``'s UTC date,
        which matches a state whose clock has not moved since it was created.
    :return: one dict per delivering ad, sorted by ad id, with typed values: ``spend`` a ``Decimal``,
        ``impressions``/``clicks``/``conversion`` ints (0 conversions is answered as "-" by the API); ``utm`` the
        UTM values a click carries (the ad's own macros filled, None where only a click could fill one, those
        macros in ``unresolved_url_macros``).
    """
    as_of = as_of or datetime.now(timezone.utc)
    dataset = get_dataset(seed, anchor or as_of.astimezone(timezone.utc).date())
    advertiser = dataset.advertisers[advertiser_id]
    today = advertiser_today(advertiser_id, as_of)
    if day >= today:
        return []
    rows = []
    for d in dataset.deliveries(advertiser_id, day):
        ad = d.ad
        if ad.deleted and not include_deleted:
            continue
        names = {
            "campaign_id": ad.campaign_id,
            "campaign_name": dataset.campaign_by_id[ad.campaign_id].campaign_name,
            "adgroup_id": ad.adgroup_id,
            "adgroup_name": dataset.adgroup_by_id[ad.adgroup_id].adgroup_name,
            "ad_id": ad.ad_id,
            "ad_name": ad.ad_name,
        }
        utm, unresolved = click_utm(ad.utm, names)
        rows.append(
            {
                "advertiser_id": advertiser_id,
                "stat_time_day": day,
                **names,
                "landing_page_url": ad.landing_page_url,
                "landing_page_urls": list(ad.landing_page_urls),
                "utm": utm,
                "unresolved_url_macros": unresolved,
                "deleted": ad.deleted,
                "currency": advertiser.currency,
                "spend": Decimal(format_money(d.spend_minor, advertiser.decimals)),
                "impressions": d.impressions,
                "clicks": d.clicks,
                "conversion": revised_conversions(d.conversions, day, today),
            }
        )
    return rows
