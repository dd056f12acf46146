"""The seeded dataset: determinism, shape, delivery share, history depth and the revision schedule."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A, ADVERTISER_B, ADVERTISER_C
from airflow_provider_tiktok.emulator.data import (
    ADVERTISERS,
    Dataset,
    expected_daily_rows,
    format_money,
    get_dataset,
    revised_conversions,
)

pytestmark = pytest.mark.unit

ANCHOR = date(2026, 3, 10)
AS_OF = datetime(2026, 3, 10, 15, 30, tzinfo=timezone.utc)


def test_same_seed_same_data_other_seed_other_data() -> None:
    first, again = Dataset(42, ANCHOR), Dataset(42, ANCHOR)
    ads = first.ads[ADVERTISER_A]
    assert [a.landing_page_url for a in ads] == [a.landing_page_url for a in again.ads[ADVERTISER_A]]
    day = ANCHOR - timedelta(days=20)
    assert first.deliveries(ADVERTISER_A, day) == again.deliveries(ADVERTISER_A, day)
    other = Dataset(43, ANCHOR)
    assert [a.landing_page_url for a in other.ads[ADVERTISER_A]] != [a.landing_page_url for a in ads]
    assert expected_daily_rows(ADVERTISER_A, day, as_of=AS_OF, seed=43) != expected_daily_rows(
        ADVERTISER_A, day, as_of=AS_OF, seed=42
    )


def test_shape_of_the_accounts() -> None:
    dataset = get_dataset(42, ANCHOR)
    assert {k: len(v) for k, v in dataset.ads.items()} == {ADVERTISER_A: 1000, ADVERTISER_B: 1500, ADVERTISER_C: 20}
    assert len(dataset.campaigns[ADVERTISER_A]) == 20
    assert len(dataset.adgroups[ADVERTISER_A]) == 100
    assert {g.adgroup_id for g in dataset.adgroups[ADVERTISER_A]} == {a.adgroup_id for a in dataset.ads[ADVERTISER_A]}
    ads = dataset.ads[ADVERTISER_A]
    assert sum(a.deleted for a in ads) == 50
    assert sum(a.paused_on is not None for a in ads) > 0
    for ad in ads:
        if ad.deleted:  # deleted ads still delivered before their deletion
            assert ad.start < ad.deleted_on - timedelta(days=29)
    assert (ADVERTISERS[ADVERTISER_C].currency, ADVERTISERS[ADVERTISER_C].decimals) == ("JPY", 0)


def test_delivery_share_and_year_of_history() -> None:
    dataset = get_dataset(42, ANCHOR)
    ads = dataset.ads[ADVERTISER_A]
    day = ANCHOR - timedelta(days=400)
    active = [a for a in ads if a.active_on(day)]
    delivered = dataset.deliveries(ADVERTISER_A, day)
    assert len(active) > 700
    assert 0.5 < len(delivered) / len(active) < 0.7
    assert all(d.impressions > 0 and d.spend_minor > 0 and d.clicks <= d.impressions for d in delivered)
    assert not any(a.active_on(day) for a in ads if a.paused_on and a.paused_on <= day)


def test_rows_stop_at_the_advertisers_today() -> None:
    today_a = AS_OF.astimezone(ADVERTISERS[ADVERTISER_A].zone).date()
    assert expected_daily_rows(ADVERTISER_A, today_a, as_of=AS_OF, anchor=ANCHOR) == []
    assert expected_daily_rows(ADVERTISER_A, today_a - timedelta(days=1), as_of=AS_OF, anchor=ANCHOR)


def test_revision_schedule_and_money_format() -> None:
    day = date(2026, 3, 1)
    assert [revised_conversions(10, day, day + timedelta(days=n)) for n in range(1, 6)] == [5, 7, 9, 10, 10]
    assert revised_conversions(3, day, day + timedelta(days=1)) == 1
    assert (format_money(1234, 2), format_money(5, 2), format_money(1234, 0)) == ("12.34", "0.05", "1234.00")
