"""TikTokAdMetricsOperator against the emulator: listings that do not add up fail the try before anything is
written and the retry imports the days whole; an ad absent from a complete listing gets no guessed UTM values;
the seed's macro landing pages and ACO ads reach the records as a click would carry them."""

from __future__ import annotations

import json
from datetime import date

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A, ADVERTISER_B, ADVERTISER_C
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.operators.ad_metrics import TikTokAdMetricsOperator
from tests.helpers.ad_metrics import expected_partition, partition

pytestmark = pytest.mark.integration

DAYS = (date(2026, 3, 1), date(2026, 3, 2))


def _import(tmp_path, context, advertiser_id: str = ADVERTISER_A, days: tuple[date, ...] = DAYS) -> dict:
    return TikTokAdMetricsOperator(
        task_id="t",
        advertiser_id=advertiser_id,
        date_from=days[0].isoformat(),
        date_to=days[-1].isoformat(),
        destination=str(tmp_path),
    ).execute(context())


def _records(tmp_path, advertiser_id: str, day: date) -> list[dict]:
    return [json.loads(line) for line in partition(tmp_path, advertiser_id, day).open(encoding="utf-8")]


@pytest.mark.parametrize(
    ("advertiser_id", "path", "listing"),
    [
        (ADVERTISER_A, "ad/get", f"ad listing of advertiser {ADVERTISER_A}"),
        (ADVERTISER_B, "ad/get", f"ad listing of advertiser {ADVERTISER_B}"),  # page 1 of 2 loses an ad
        (ADVERTISER_A, "report/integrated/get", "report of 2026-03-01..2026-03-02"),
    ],
)
def test_a_listing_that_lost_an_item_fails_the_try_and_the_retry_imports_whole(
    emulator, emulator_conn, home, context, tmp_path, advertiser_id, path, listing
):
    emulator.state.faults.add(f"path={path},kind=drop,count=1")
    with pytest.raises(TikTokApiError, match=f"the {listing} is incomplete: 1 item missing") as info:
        _import(tmp_path, context, advertiser_id)
    assert "run the task again" in str(info.value)
    assert not list(tmp_path.rglob("*.jsonl"))
    assert [e["fault"] for e in emulator.state.requests() if e["fault"]] == ["drop"]

    summary = _import(tmp_path, context, advertiser_id)  # Airflow's retry: the listing is whole again
    for day in DAYS:
        text = partition(tmp_path, advertiser_id, day).read_text(encoding="utf-8")
        assert text == expected_partition(emulator, advertiser_id, day)
    assert summary["ads_missing_from_listing"] == 0


def test_an_ad_the_listing_does_not_show_keeps_the_reports_names_and_null_utm(
    emulator, emulator_conn, home, context, tmp_path
):
    hidden = emulator.state.dataset.ads[ADVERTISER_A][-1].ad_id  # the last item of ad/get's only page
    delivered = {
        day: [r for r in emulator.state.expected_daily_rows(ADVERTISER_A, day, True) if r["ad_id"] == hidden]
        for day in DAYS
    }
    assert any(delivered.values()), "the hidden ad must deliver on one of the days"
    emulator.state.faults.add("path=ad/get,kind=hide,count=1")  # total_number counts it out: complete, but without it

    summary = _import(tmp_path, context)
    assert summary["ads_missing_from_listing"] == 1
    for day in DAYS:
        expected = [json.loads(line) for line in expected_partition(emulator, ADVERTISER_A, day).splitlines()]
        for written, wanted in zip(_records(tmp_path, ADVERTISER_A, day), expected, strict=True):
            if written["ad_id"] == hidden:
                assert written["user_properties"] == dict.fromkeys(wanted["user_properties"])
                assert written["campaign_name"] == wanted["campaign_name"]  # names come from the report row
                assert written["ad_metrics"] == wanted["ad_metrics"]
            else:
                assert written == wanted


@pytest.mark.parametrize(
    ("advertiser_id", "days"),
    [(ADVERTISER_A, DAYS), (ADVERTISER_C, (date(2025, 9, 1), date(2025, 9, 2)))],  # C's macro ad ran in 2025
)
def test_macro_landing_pages_and_aco_ads_reach_the_records_as_a_click_carries_them(
    emulator, emulator_conn, home, context, tmp_path, advertiser_id, days
):
    summary = _import(tmp_path, context, advertiser_id, days)
    dataset = emulator.state.dataset
    seen = {"macro": 0, "aco": 0}
    for day in days:
        assert partition(tmp_path, advertiser_id, day).read_text(encoding="utf-8") == expected_partition(
            emulator, advertiser_id, day
        )
        for record in _records(tmp_path, advertiser_id, day):
            ad = dataset.ad_by_id[record["ad_id"]]
            props = record["user_properties"]
            assert not any("__" in (value or "") for value in props.values())  # never the macro text
            if "utm_campaign=__CAMPAIGN_NAME__&utm_content=__CID_NAME__" in ad.landing_page_url:
                seen["macro"] += 1
                assert (props["utm_campaign"], props["utm_content"]) == (record["campaign_name"], record["ad_name"])
                assert props["utm_campaign"] == dataset.campaign_by_id[ad.campaign_id].campaign_name
            if ad.landing_page_urls:
                seen["aco"] += 1
                assert ad.landing_page_url == ""
                assert props["utm_campaign"] != "aco_second_page"  # the first page wins
    assert seen["macro"] > 0
    assert seen["aco"] > 0 or advertiser_id == ADVERTISER_C
    assert set(summary["unresolved_url_macros"]) <= {"__PLACEMENT__", "__CTYPE__"}
    assert summary["ads_missing_from_listing"] == 0
