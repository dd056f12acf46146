"""report/integrated/get on the emulator: rows vs the data module, string metrics, paging, limits, revisions."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from airflow_provider_tiktok.emulator import ADVERTISER_A, ADVERTISER_B, ADVERTISER_C
from airflow_provider_tiktok.emulator.data import advertiser_today
from tests.helpers.emulator_api import FIXED_NOW, Api

pytestmark = pytest.mark.integration

METRICS = [
    "spend",
    "impressions",
    "clicks",
    "conversion",
    "campaign_name",
    "adgroup_name",
    "ad_name",
    "campaign_id",
    "adgroup_id",
    "currency",
    "cost_per_conversion",
    "video_play_actions",
]
TODAY_A = advertiser_today(ADVERTISER_A, FIXED_NOW)
STATUS_ALL = [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}]


def report(api: Api, start: date, end: date, advertiser_id: str = ADVERTISER_A, **extra: Any) -> dict:
    """One report call with JSON-encoded list parameters, as TikTok's SDK sends them (spaces after commas)."""
    params = {
        "advertiser_id": advertiser_id,
        "report_type": "BASIC",
        "service_type": "AUCTION",
        "data_level": "AUCTION_AD",
        "dimensions": json.dumps(["ad_id", "stat_time_day"]),
        "metrics": json.dumps(METRICS),
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "page_size": 1000,
    }
    params.update({k: json.dumps(v) if isinstance(v, list) else v for k, v in extra.items()})
    return api.get("report/integrated/get/", params)


def all_rows(api: Api, start: date, end: date, **extra: Any) -> list[dict]:
    """Every row of a report, following page_info."""
    rows, page = [], 1
    while True:
        data = report(api, start, end, page=page, **extra)["data"]
        rows += data["list"]
        if page >= data["page_info"]["total_page"]:
            return rows
        page += 1


def test_rows_match_the_data_module(api: Api, emulator) -> None:
    day = TODAY_A - timedelta(days=10)
    rows = all_rows(api, day, day)
    expected = emulator.state.expected_daily_rows(ADVERTISER_A, day)
    assert [r["dimensions"] for r in rows] == [
        {"ad_id": e["ad_id"], "stat_time_day": f"{day} 00:00:00"} for e in expected
    ]
    for row, exp in zip(rows, expected, strict=True):
        metrics = row["metrics"]
        assert all(isinstance(v, str) for v in metrics.values())
        assert Decimal(metrics["spend"]) == exp["spend"]
        assert len(metrics["spend"].split(".")[1]) == 2
        assert int(metrics["impressions"]) == exp["impressions"]
        assert int(metrics["clicks"]) == exp["clicks"]
        assert metrics["conversion"] == (str(exp["conversion"]) if exp["conversion"] else "-")
        assert (metrics["ad_name"], metrics["campaign_id"], metrics["adgroup_name"]) == (
            exp["ad_name"],
            exp["campaign_id"],
            exp["adgroup_name"],
        )
        assert metrics["currency"] == "USD"
        assert metrics["cost_per_conversion"] == metrics["video_play_actions"] == "-"
    assert any(r["metrics"]["conversion"] == "-" for r in rows)


def test_paging_is_exact_and_past_the_end_is_empty(api: Api, emulator) -> None:
    start, end = TODAY_A - timedelta(days=7), TODAY_A - timedelta(days=1)
    total = sum(len(emulator.state.expected_daily_rows(ADVERTISER_A, start + timedelta(days=n))) for n in range(7))
    first = report(api, start, end, page_size=500)["data"]
    assert first["page_info"] == {"page": 1, "page_size": 500, "total_number": total, "total_page": -(-total // 500)}
    last_page = first["page_info"]["total_page"]
    assert len(report(api, start, end, page=last_page, page_size=500)["data"]["list"]) == total - 500 * (last_page - 1)
    beyond = report(api, start, end, page=last_page + 1, page_size=500)
    assert beyond["code"] == 0
    assert beyond["data"]["list"] == []
    keys = [(r["dimensions"]["stat_time_day"], r["dimensions"]["ad_id"]) for r in all_rows(api, start, end)]
    assert keys == sorted(keys)
    assert len(set(keys)) == total
    no_page = api.get(
        "report/integrated/get/",
        {
            "advertiser_id": ADVERTISER_A,
            "report_type": "BASIC",
            "data_level": "AUCTION_AD",
            "dimensions": '["ad_id","stat_time_day"]',
            "start_date": str(start),
            "end_date": str(end),
        },
    )["data"]
    assert no_page["page_info"]["page_size"] == 10
    assert len(no_page["list"]) == 10
    assert set(no_page["list"][0]["metrics"]) == {"spend", "impressions"}


@pytest.mark.parametrize(("page_size", "code"), [(1000, 0), (1001, 40002), (0, 40002), ("ten", 40002)])
def test_page_size_limits(api: Api, page_size: Any, code: int) -> None:
    day = TODAY_A - timedelta(days=2)
    assert report(api, day, day, page_size=page_size)["code"] == code


def test_window_limits(api: Api) -> None:
    end = TODAY_A - timedelta(days=1)
    assert report(api, end - timedelta(days=29), end)["code"] == 0
    too_long = report(api, end - timedelta(days=30), end)
    assert too_long["code"] == 40002
    assert "30 days" in too_long["message"]
    assert report(api, end, end - timedelta(days=1))["code"] == 40002
    assert report(api, TODAY_A - timedelta(days=365), TODAY_A - timedelta(days=360))["code"] == 0
    assert report(api, TODAY_A - timedelta(days=366), TODAY_A - timedelta(days=360))["code"] == 40002
    today = report(api, TODAY_A - timedelta(days=1), TODAY_A + timedelta(days=3))["data"]
    assert {r["dimensions"]["stat_time_day"][:10] for r in today["list"]} == {str(TODAY_A - timedelta(days=1))}


def test_max_report_days_fault_answers_query_too_large(api: Api, emulator) -> None:
    emulator.state.faults.max_report_days = 7
    end = TODAY_A - timedelta(days=1)
    assert report(api, end - timedelta(days=7), end)["code"] == 40067
    assert report(api, end - timedelta(days=6), end)["code"] == 0


def test_deleted_ads_only_with_status_all(api: Api, emulator) -> None:
    ads = emulator.state.dataset.ads[ADVERTISER_A]
    deleted = [a for a in ads if a.deleted]
    assert len(deleted) == 50
    day = max(a.deleted_on for a in deleted) - timedelta(days=1)
    default_ids = {r["dimensions"]["ad_id"] for r in all_rows(api, day, day)}
    all_ids = {r["dimensions"]["ad_id"] for r in all_rows(api, day, day, filtering=STATUS_ALL)}
    deleted_ids = {a.ad_id for a in deleted}
    assert not default_ids & deleted_ids
    assert all_ids & deleted_ids
    assert all_ids - default_ids <= deleted_ids
    assert all_ids == {e["ad_id"] for e in emulator.state.expected_daily_rows(ADVERTISER_A, day, True)}


def test_conversions_are_revised_for_three_days(api: Api, emulator) -> None:
    day = TODAY_A - timedelta(days=1)

    def conversions() -> dict[str, str]:
        return {r["dimensions"]["ad_id"]: r["metrics"]["conversion"] for r in all_rows(api, day, day)}

    seen = [conversions()]
    for _ in range(4):
        emulator.state.advance_clock(86_400)
        seen.append(conversions())
    total = [sum(int(v) for v in s.values() if v != "-") for s in seen]
    assert total[0] < total[1] < total[2] < total[3] == total[4]
    assert total[0] <= total[3] * 0.5
    for ad_id, value in seen[3].items():
        expected = next(e for e in emulator.state.expected_daily_rows(ADVERTISER_A, day) if e["ad_id"] == ad_id)
        assert value == (str(expected["conversion"]) if expected["conversion"] else "-")


@pytest.mark.parametrize(
    ("level", "dimension"),
    [("AUCTION_CAMPAIGN", "campaign_id"), ("AUCTION_ADGROUP", "adgroup_id"), ("AUCTION_ADVERTISER", "advertiser_id")],
)
def test_aggregated_levels_sum_the_ad_rows(api: Api, emulator, level: str, dimension: str) -> None:
    day = TODAY_A - timedelta(days=5)
    expected = emulator.state.expected_daily_rows(ADVERTISER_A, day)
    rows = all_rows(api, day, day, data_level=level, dimensions=[dimension, "stat_time_day"])
    spend = {r["dimensions"][dimension]: Decimal(r["metrics"]["spend"]) for r in rows}
    assert sum(spend.values()) == sum(e["spend"] for e in expected)
    if dimension != "advertiser_id":
        assert spend == {
            key: sum(e["spend"] for e in expected if e[dimension] == key) for key in {e[dimension] for e in expected}
        }
        assert rows[0]["metrics"]["ad_name"] == "-"
        assert rows[0]["metrics"]["campaign_name"] != "-"
    assert report(api, day, day, data_level=level)["code"] == 40002  # ad_id is not a dimension at this level


def test_total_metrics_and_ordering(api: Api) -> None:
    day = TODAY_A - timedelta(days=4)
    data = report(api, day, day, enable_total_metrics="True", order_field="spend", order_type="DESC")["data"]
    spends = [Decimal(r["metrics"]["spend"]) for r in data["list"]]
    assert spends == sorted(spends, reverse=True)
    assert Decimal(data["total_metrics"]["spend"]) == sum(spends)
    assert data["total_metrics"]["ad_name"] == "-"


def test_currencies_and_time_zones(api: Api, emulator) -> None:
    today_c = advertiser_today(ADVERTISER_C, FIXED_NOW)
    assert today_c == TODAY_A + timedelta(days=1)  # Tokyo is already a day ahead
    rows = all_rows(api, today_c - timedelta(days=3), today_c - timedelta(days=1), advertiser_id=ADVERTISER_C)
    assert rows
    assert all(r["metrics"]["spend"].endswith(".00") and r["metrics"]["currency"] == "JPY" for r in rows)
    assert {r["dimensions"]["stat_time_day"][:10] for r in rows} >= {str(today_c - timedelta(days=1))}
    euro = all_rows(api, TODAY_A - timedelta(days=1), TODAY_A - timedelta(days=1), advertiser_id=ADVERTISER_B)
    assert euro
    assert {r["metrics"]["currency"] for r in euro} == {"EUR"}


@pytest.mark.parametrize(
    "bad",
    [
        {"report_type": "AUDIENCE"},
        {"data_level": "AUCTION_CREATIVE"},
        {"dimensions": ["stat_time_day"]},
        {"start_date": "2026/03/01"},
        {"filtering": [{"field_name": "objective", "filter_type": "IN", "filter_value": "[]"}]},
        {"advertiser_id": None},
    ],
    ids=["report-type", "data-level", "dimensions", "date-format", "filter-field", "no-advertiser"],
)
def test_bad_parameters_answer_40002(api: Api, bad: dict[str, Any]) -> None:
    day = TODAY_A - timedelta(days=2)
    params = {k: v for k, v in bad.items() if v is not None}
    if "advertiser_id" in bad:
        answer = api.get(
            "report/integrated/get/",
            {
                "report_type": "BASIC",
                "data_level": "AUCTION_AD",
                "dimensions": '["ad_id"]',
                "start_date": str(day),
                "end_date": str(day),
            },
        )
    else:
        answer = report(api, day, day, **params)
    assert answer["code"] == 40002, answer
