"""Pure rules of the ad-metric import: days, windows, history limit, metric strings, UTM fields, records."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from airflow_provider_tiktok.ad_metrics import landing, report
from airflow_provider_tiktok.exceptions import TikTokConfigError, TikTokInputError

pytestmark = pytest.mark.unit

DATA = Path(__file__).parents[1] / "data" / "ad_metrics"
D = date.fromisoformat


# ------------------------------------------------------------------------------------------ days
def test_parse_day_accepts_iso_dates_only():
    assert report.parse_day("2026-02-28", "date_from") == date(2026, 2, 28)
    assert report.parse_day(" 2026-02-28 ", "date_from") == date(2026, 2, 28)
    for bad in ("2026-2-28", "28/02/2026", "2026-02-28T00:00:00", "yesterday", "20260228"):
        with pytest.raises(TikTokConfigError, match="date_to must be a date written YYYY-MM-DD"):
            report.parse_day(bad, "date_to")
    with pytest.raises(TikTokConfigError, match="date_from is not a calendar date"):
        report.parse_day("2026-02-30", "date_from")


@pytest.mark.parametrize("rendered", [None, "", "None"])
def test_parse_day_explains_a_run_without_data_interval(rendered):
    with pytest.raises(TikTokConfigError, match=r"no data interval .* pass date_from='YYYY-MM-DD'"):
        report.parse_day(rendered, "date_from")


def test_resolve_days_defaults_date_to_and_rejects_reversed_ranges():
    assert report.resolve_days("2026-03-01", None) == (D("2026-03-01"), D("2026-03-01"))
    assert report.resolve_days("2026-03-01", "") == (D("2026-03-01"), D("2026-03-01"))
    assert report.resolve_days("2026-03-01", "2026-03-09") == (D("2026-03-01"), D("2026-03-09"))
    with pytest.raises(TikTokConfigError, match="date_to must not be earlier than date_from"):
        report.resolve_days("2026-03-02", "2026-03-01")


def _span(window: report.Window) -> int:
    return (window[1] - window[0]).days + 1


@pytest.mark.parametrize(
    ("days", "spans"),
    [(1, [1]), (29, [29]), (30, [30]), (31, [30, 1]), (45, [30, 15]), (60, [30, 30]), (61, [30, 30, 1])],
)
def test_date_windows_never_exceed_30_days_and_keep_the_last_day(days, spans):
    start = D("2025-12-20")
    windows = report.date_windows(start, start + timedelta(days=days - 1))
    assert [_span(w) for w in windows] == spans
    assert windows[0][0] == start
    assert windows[-1][1] == start + timedelta(days=days - 1)


def test_date_windows_cover_every_range_exactly_once():
    start = D("2025-03-01")
    for days in range(1, 400):
        end = start + timedelta(days=days - 1)
        windows = report.date_windows(start, end)
        covered = [d for w in windows for d in report.days_between(*w)]
        assert covered == report.days_between(start, end)
        assert all(1 <= _span(w) <= report.REPORT_MAX_DAYS for w in windows)
        assert len(windows) == -(-days // 30)


def test_halve_window_splits_into_adjacent_halves():
    assert report.halve_window((D("2026-01-01"), D("2026-01-30"))) == (
        (D("2026-01-01"), D("2026-01-15")),
        (D("2026-01-16"), D("2026-01-30")),
    )
    assert report.halve_window((D("2026-01-01"), D("2026-01-31"))) == (
        (D("2026-01-01"), D("2026-01-16")),
        (D("2026-01-17"), D("2026-01-31")),
    )
    assert report.halve_window((D("2026-01-01"), D("2026-01-02"))) == (
        (D("2026-01-01"), D("2026-01-01")),
        (D("2026-01-02"), D("2026-01-02")),
    )
    with pytest.raises(ValueError, match="one-day window"):
        report.halve_window((D("2026-01-01"), D("2026-01-01")))


def test_check_history_allows_exactly_max_history_days_back_and_up_to_yesterday():
    today = D("2026-03-10")
    report.check_history(D("2025-03-10"), D("2026-03-09"), today, 365, zone_name="America/Los_Angeles")
    with pytest.raises(TikTokConfigError) as info:
        report.check_history(D("2025-03-09"), D("2025-03-20"), today, 365, zone_name="America/Los_Angeles")
    message = str(info.value)
    assert "max_history_days=365" in message
    assert "2025-03-10" in message
    assert "America/Los_Angeles" in message
    with pytest.raises(TikTokConfigError, match=r"date_to 2026-03-10 is not over yet .*America/Los_Angeles"):
        report.check_history(D("2026-03-01"), today, today, 365, zone_name="America/Los_Angeles")


def test_check_history_with_slack_rejects_only_what_is_wrong_everywhere():
    utc_today = D("2026-03-10")
    # One day beyond the limit could still be fine in a zone a day ahead: the slack lets it pass...
    report.check_history(D("2025-03-09"), D("2025-03-09"), utc_today, 365, zone_name="UTC", slack_days=1)
    report.check_history(D("2026-03-10"), D("2026-03-10"), utc_today, 365, zone_name="UTC", slack_days=1)
    # ...but 400 days ago or tomorrow and later are wrong in every zone.
    with pytest.raises(TikTokConfigError, match="max_history_days=365"):
        report.check_history(utc_today - timedelta(days=400), utc_today, utc_today, 365, zone_name="UTC", slack_days=1)
    with pytest.raises(TikTokConfigError, match="not over yet"):
        report.check_history(D("2026-03-11"), D("2026-03-11"), utc_today, 365, zone_name="UTC", slack_days=1)


def test_first_day_adds_the_lookback_but_stops_at_the_history_limit():
    today = D("2026-03-10")
    assert report.first_day(D("2026-03-09"), 3, today, 365) == D("2026-03-06")
    assert report.first_day(D("2026-03-09"), 0, today, 365) == D("2026-03-09")
    assert report.first_day(D("2025-03-11"), 3, today, 365) == D("2025-03-10")


@pytest.mark.parametrize(
    ("zone", "moment", "expected"),
    [
        ("America/Los_Angeles", "2026-03-08T08:00:00+00:00", ("2026-03-08", True)),  # PST: DST starts that day
        ("America/Los_Angeles", "2026-03-09T07:00:00+00:00", ("2026-03-09", True)),  # PDT midnight
        ("Europe/Berlin", "2026-03-08T23:00:00+00:00", ("2026-03-09", True)),  # the UTC date is the day before
        ("Asia/Tokyo", "2026-03-08T15:00:00+00:00", ("2026-03-09", True)),
        ("America/Los_Angeles", "2026-03-09T00:00:00+00:00", ("2026-03-08", False)),  # a UTC-midnight interval
    ],
)
def test_local_day_reads_instants_in_the_advertiser_zone(zone, moment, expected):
    day, at_midnight = report.local_day(datetime.fromisoformat(moment), ZoneInfo(zone))
    assert (day.isoformat(), at_midnight) == expected


def test_report_day_reads_stat_time_day():
    assert report.report_day("2026-01-31 00:00:00") == D("2026-01-31")
    for bad in (None, "", "31/01/2026", "-"):
        with pytest.raises(ValueError, match="stat_time_day is not a date"):
            report.report_day(bad)


# -------------------------------------------------------------------------------------- requests
def test_report_params_ask_one_ad_level_daily_report_with_names_and_deleted_ads():
    params = report.report_params("7000000000000000001", (D("2026-01-01"), D("2026-01-30")), True)
    assert params == {
        "advertiser_id": "7000000000000000001",
        "report_type": "BASIC",
        "service_type": "AUCTION",
        "data_level": "AUCTION_AD",
        "dimensions": ["ad_id", "stat_time_day"],
        "metrics": ["spend", "impressions", "clicks", "conversion", "campaign_id", "campaign_name", "adgroup_id",
                    "adgroup_name", "ad_name"],
        "start_date": "2026-01-01",
        "end_date": "2026-01-30",
        "filtering": [{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}],
    }  # fmt: skip
    assert json.loads(params["filtering"][0]["filter_value"]) == ["STATUS_ALL"]
    assert "filtering" not in report.report_params("1", (D("2026-01-01"), D("2026-01-01")), False)


def test_ad_params_include_deleted_ads_only_when_asked():
    assert report.ad_params("42", True) == {
        "advertiser_id": "42",
        "fields": [
            "ad_id",
            "landing_page_url",
            "landing_page_urls",
            "campaign_id",
            "campaign_name",
            "adgroup_id",
            "adgroup_name",
            "ad_name",
        ],
        "filtering": {"primary_status": "STATUS_ALL"},
    }
    assert "filtering" not in report.ad_params("42", False)


# --------------------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("empty", ["-", "", " - ", None, "  "])
def test_empty_metric_values_read_as_zero_and_are_flagged(empty):
    assert report.parse_cost(empty, row=1, field_name="metrics.spend") == (Decimal(0), True)
    assert report.parse_count(empty, row=1, field_name="metrics.clicks") == (0, True)


def test_metric_strings_parse_exactly():
    assert report.parse_cost("12.30", row=1, field_name="metrics.spend") == (Decimal("12.30"), False)
    assert report.parse_cost("1234.00", row=1, field_name="metrics.spend") == (Decimal("1234"), False)
    assert report.parse_cost(0.1, row=1, field_name="metrics.spend") == (Decimal("0.1"), False)
    assert report.parse_count("1000", row=1, field_name="metrics.impressions") == (1000, False)
    assert report.parse_count("0", row=1, field_name="metrics.impressions") == (0, False)
    assert report.parse_count(7, row=1, field_name="metrics.impressions") == (7, False)
    assert report.parse_count("12.0", row=1, field_name="metrics.clicks") == (12, False)


@pytest.mark.parametrize(
    ("value", "parser", "reason"),
    [
        ("12,5", report.parse_cost, "not a number"),
        ("N/A", report.parse_count, "not a number"),
        (True, report.parse_count, "not a number"),
        ("-3", report.parse_count, "negative"),
        ("Infinity", report.parse_cost, "infinite"),
        ("12.5", report.parse_count, "fractional"),
    ],
)
def test_bad_metric_values_name_row_and_field_but_not_the_value(value, parser, reason):
    with pytest.raises(TikTokInputError, match=reason) as info:
        parser(value, row=17, field_name="metrics.clicks")
    assert (info.value.row, info.value.field) == (17, "metrics.clicks")
    assert str(value) not in str(info.value).replace("metrics.clicks", "").replace("row 17", "")


# ------------------------------------------------------------------------------------------- UTM
@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, {}),
        ("", {}),
        ("https://shop.example/p", {}),
        ("https://shop.example/p?ref=tiktok#utm_source=no", {}),
        (
            "https://shop.example/p?utm_source=tiktok&utm_medium=cpc&utm_campaign=Spring+Sale+%26+More"
            "&utm_content=video%201",
            {"utm_source": "tiktok", "utm_medium": "cpc", "utm_campaign": "Spring Sale & More",
             "utm_content": "video 1"},
        ),
        ("https://shop.example/p?UTM_Source=TikTok&utm_source=other", {"utm_source": "TikTok"}),
        ("https://shop.example/p?utm_medium=&utm_campaign=%20&utm_content=x#top", {"utm_content": "x"}),
        ("https://shop.example/p?utm_campaign=Gr%C3%B6%C3%9Fen-Special", {"utm_campaign": "Größen-Special"}),
        ("https://[::1/p?utm_source=broken", {}),
        (12, {}),
    ],
)  # fmt: skip
def test_parse_utm(url, expected):
    assert landing.parse_utm(url) == (expected, [])


def test_utm_properties_fill_absent_parameters_with_defaults_then_user_overrides():
    ad = {"landing_page_url": "https://shop.example/p?utm_medium=cpc"}
    assert landing.utm_properties(ad, "Camp A", "Ad 1", {}) == (
        {"utm_source": "tiktok", "utm_medium": "cpc", "utm_campaign": "Camp A", "utm_content": "Ad 1"},
        [],
    )
    overrides = {"utm_source": "tt", "utm_medium": "paid", "utm_content": "fixed"}
    assert landing.utm_properties(ad, "Camp A", "Ad 1", overrides)[0] == {
        "utm_source": "tt",
        "utm_medium": "cpc",  # the landing page wins over any default
        "utm_campaign": "Camp A",
        "utm_content": "fixed",
    }


def test_check_utm_defaults():
    assert report.check_utm_defaults(None) == {}
    assert report.check_utm_defaults({"utm_medium": "paid"}) == {"utm_medium": "paid"}
    with pytest.raises(TikTokConfigError, match="unknown key 'utm_term'"):
        report.check_utm_defaults({"utm_term": "x"})
    with pytest.raises(TikTokConfigError, match="utm_source must be a non-empty string"):
        report.check_utm_defaults({"utm_source": " "})
    with pytest.raises(TikTokConfigError, match="must be a mapping"):
        report.check_utm_defaults(["utm_source"])


# --------------------------------------------------------------------------------------- records
def _rows_and_ads() -> tuple[list[dict], dict[str, dict]]:
    page = json.loads((DATA / "report_page.json").read_text(encoding="utf-8"))
    ads = json.loads((DATA / "ad_get_page.json").read_text(encoding="utf-8"))
    return page["data"]["list"], {ad["ad_id"]: ad for ad in ads["data"]["list"]}


def test_build_record_matches_the_expected_file_byte_for_byte():
    rows, ads = _rows_and_ads()
    tally = report.Tally()
    records = [
        report.build_record(
            row,
            row_number=n,
            advertiser_id="7000000000000000001",
            currency="USD",
            ads=ads,
            utm_defaults={},
            tally=tally,
        )
        for n, row in enumerate(rows, start=1)
    ]
    lines = "".join(report.record_line(r) for r in sorted(records, key=report.sort_key))
    assert lines == (DATA / "expected_records.jsonl").read_text(encoding="utf-8")


def test_build_record_shape_types_and_tally():
    rows, ads = _rows_and_ads()
    tally = report.Tally()
    record = report.build_record(
        rows[0],
        row_number=1,
        advertiser_id="7000000000000000001",
        currency="USD",
        ads=ads,
        utm_defaults={},
        tally=tally,
    )
    assert list(record) == [
        "event_type", "date", "ad_platform", "ad_account_id", "campaign_id", "campaign_name", "ad_group_id",
        "ad_group_name", "ad_id", "ad_name", "ad_metrics", "currency", "user_properties",
    ]  # fmt: skip
    assert list(record["ad_metrics"]) == ["cost", "impressions", "clicks", "conversions"]
    assert [type(v) for v in record["ad_metrics"].values()] == [float, int, int, int]
    assert list(record["user_properties"]) == list(report.UTM_KEYS)
    metrics = rows[0]["metrics"]
    assert tally.rows == 1
    assert tally.cost == Decimal(metrics["spend"])
    assert tally.impressions == int(metrics["impressions"])


def test_tally_sums_money_exactly_and_counts_empty_values():
    rows, ads = _rows_and_ads()
    tally = report.Tally()
    for n, row in enumerate(rows, start=1):
        report.build_record(row, row_number=n, advertiser_id="1", currency="USD", ads=ads, utm_defaults={}, tally=tally)
    spends = [r["metrics"]["spend"] for r in rows]
    expected_cost = sum((Decimal(s) for s in spends if s not in ("-", "")), Decimal(0))
    assert tally.cost == expected_cost
    assert tally.totals()["cost"] == float(expected_cost)
    expected_empty = {
        name: sum(1 for r in rows if r["metrics"].get(metric) in ("-", "", None))
        for name, metric in report.METRICS.items()
    }
    assert tally.empty_metric_values == expected_empty
    assert sum(expected_empty.values()) >= 3  # the fixture holds "-" in spend, clicks and conversion


def _build(row: dict, ads: dict, tally: report.Tally, **kwargs) -> dict:
    return report.build_record(
        row, row_number=1, advertiser_id="1", currency="USD", ads=ads, utm_defaults=kwargs.get("utm_defaults", {}),
        tally=tally,
    )  # fmt: skip


def test_an_ad_missing_from_the_listing_keeps_the_reports_names_and_gets_no_guessed_utm():
    rows, ads = _rows_and_ads()
    tally = report.Tally()
    [row] = [r for r in rows if r["dimensions"]["ad_id"] == "1900000000000000099"]
    assert "1900000000000000099" not in ads
    record = _build(row, ads, tally, utm_defaults={"utm_source": "tiktok_ads"})
    assert record["user_properties"] == dict.fromkeys(report.UTM_KEYS)  # not even the user's defaults
    assert (record["campaign_name"], record["ad_name"]) == (
        "US Prospecting 01 \u2013 Summer Sale",
        "Created after ad/get \u2013 Video 0099",
    )
    _build(row, ads, tally)
    assert tally.ads_missing_from_listing == {"1900000000000000099"}  # distinct ads, not rows
    assert tally.rows == 2


def test_url_macros_are_filled_from_the_listing_and_unresolvable_ones_counted_per_record():
    rows, ads = _rows_and_ads()
    ad = dict(ads["1900000000000000002"])
    ad["landing_page_url"] = (
        "https://demo-store.example.com/l?utm_source=tiktok&utm_medium=__PLACEMENT__"
        "&utm_campaign=__CAMPAIGN_NAME__&utm_content=__CID_NAME__%20(__CTYPE__)&ttclid=__CLICKID__"
    )
    tally = report.Tally()
    for row in rows[:1] + rows[-1:]:  # the same ad on two days
        record = _build(row, {**ads, ad["ad_id"]: ad}, tally)
        assert record["user_properties"] == {
            "utm_source": "tiktok",
            "utm_medium": None,
            "utm_campaign": "US Prospecting 01 \u2013 Summer Sale",
            "utm_content": None,
        }
    assert tally.unresolved_url_macros == {"__PLACEMENT__": 2, "__CTYPE__": 2}  # ttclid is no UTM value


def test_an_aco_ad_reads_its_first_landing_page():
    rows, ads = _rows_and_ads()
    ad = {**ads["1900000000000000002"], "landing_page_url": ""}
    ad["landing_page_urls"] = [
        {"landing_page_url": "https://s.example/a?utm_campaign=__AID_NAME__&utm_content=__CID__"},
        {"landing_page_url": "https://s.example/b?utm_campaign=second"},
    ]
    record = _build(rows[0], {ad["ad_id"]: ad}, report.Tally())
    assert record["user_properties"]["utm_campaign"] == "Summer Sale / Broad 1"
    assert record["user_properties"]["utm_content"] == "1900000000000000002"


def test_build_record_rejects_rows_without_ad_or_day():
    tally = report.Tally()
    with pytest.raises(TikTokInputError, match="numeric ad id") as info:
        report.build_record(
            {"dimensions": {"stat_time_day": "2026-01-01 00:00:00"}, "metrics": {}},
            row_number=4, advertiser_id="1", currency="USD", ads={}, utm_defaults={}, tally=tally,
        )  # fmt: skip
    assert (info.value.row, info.value.field) == (4, "dimensions.ad_id")
    with pytest.raises(TikTokInputError, match="valid day"):
        report.build_record(
            {"dimensions": {"ad_id": "19", "stat_time_day": "-"}, "metrics": {}},
            row_number=5, advertiser_id="1", currency="USD", ads={}, utm_defaults={}, tally=tally,
        )  # fmt: skip
    assert tally.rows == 0


def test_record_line_is_compact_utf8_in_record_order():
    record = {"event_type": "Daily Ad Metrics", "ad_name": "Größen \u2013 Video 0001", "ad_metrics": {"cost": 1.5}}
    expected = '{"event_type":"Daily Ad Metrics","ad_name":"Größen \u2013 Video 0001","ad_metrics":{"cost":1.5}}\n'
    assert report.record_line(record) == expected
    assert report.record_line(record).encode("utf-8").count(b"\xe2\x80\x93") == 1  # the dash as UTF-8, not \\u2013


def test_sort_key_orders_ad_ids_numerically():
    ids = ["19", "100", "9", "1900000000000000001"]
    assert sorted(({"ad_id": i} for i in ids), key=report.sort_key) == [
        {"ad_id": "9"},
        {"ad_id": "19"},
        {"ad_id": "100"},
        {"ad_id": "1900000000000000001"},
    ]


def test_count_changed_counts_only_stored_rows_with_other_metrics():
    old = {
        "1": {"cost": 1.5, "impressions": 10, "clicks": 1, "conversions": 0},
        "2": {"cost": "2.30", "impressions": 20, "clicks": 2, "conversions": 1},
        "3": {"cost": 3.0, "impressions": 30, "clicks": 3, "conversions": 1},
    }
    new = [
        {"ad_id": "1", "ad_metrics": {"cost": 1.5, "impressions": 10, "clicks": 1, "conversions": 0}},
        {"ad_id": "2", "ad_metrics": {"cost": 2.3, "impressions": 20, "clicks": 2, "conversions": 1}},  # 2.30 == 2.3
        {"ad_id": "3", "ad_metrics": {"cost": 3.0, "impressions": 30, "clicks": 3, "conversions": 2}},  # revised
        {"ad_id": "4", "ad_metrics": {"cost": 4.0, "impressions": 40, "clicks": 4, "conversions": 0}},  # new
    ]
    assert report.count_changed(old, new) == 1
    assert report.same_metrics({"cost": 1}, new[0]["ad_metrics"]) is False


def test_utc_is_not_the_advertiser_day_east_of_greenwich():
    # Why the default date_from reads the interval in the advertiser's zone: ds would be a day early in Berlin.
    start = datetime(2026, 3, 8, 23, 0, tzinfo=timezone.utc)
    assert start.date().isoformat() == "2026-03-08"
    assert report.local_day(start, ZoneInfo("Europe/Berlin"))[0] == D("2026-03-09")
