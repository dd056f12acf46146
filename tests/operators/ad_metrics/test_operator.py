"""TikTokAdMetricsOperator with requests-mock: records from fixture pages, empty days, the advertiser cache,
argument checks before any call, inconsistent answers, the extra link and the declared outlet."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_tiktok.exceptions import TikTokApiError, TikTokConfigError
from airflow_provider_tiktok.links import XCOM_LINK_KEY, TikTokLink
from airflow_provider_tiktok.operators.ad_metrics import (
    ASSET_ALIAS,
    DEFAULT_DATE_FROM,
    TikTokAdMetricsOperator,
)
from airflow_provider_tiktok.utils import clock
from tests.helpers.ad_metrics import partition
from tests.helpers.connections import TEST_BASE_URL

pytestmark = pytest.mark.unit

API = TEST_BASE_URL + "/open_api/v1.3/"
DATA = Path(__file__).parents[2] / "data" / "ad_metrics"
ADVERTISER = "7000000000000000001"
INFO = {
    "code": 0,
    "message": "OK",
    "request_id": "r-info",
    "data": {"list": [{"advertiser_id": ADVERTISER, "currency": "USD", "display_timezone": "America/Los_Angeles"}]},
}


def _load(name: str) -> dict:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _query(request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}


@pytest.fixture
def api(requests_mock, tiktok_conn, home, clock):
    """advertiser/info, a one-page report (the fixture rows) and a one-page ad/get."""
    requests_mock.get(API + "advertiser/info/", json=INFO)
    requests_mock.get(API + "report/integrated/get/", json=_load("report_page.json"))
    requests_mock.get(API + "ad/get/", json=_load("ad_get_page.json"))
    return requests_mock


def _paths(requests_mock) -> list[str]:
    return [urlsplit(r.url).path.removeprefix("/open_api/v1.3/") for r in requests_mock.request_history]


def test_records_are_written_per_day_exactly_as_expected(api, context, tmp_path):
    expected = (DATA / "expected_records.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    summary = TikTokAdMetricsOperator(
        task_id="t", date_from="2026-01-31", date_to="2026-02-02", destination=str(tmp_path)
    ).execute(context())

    for day in ("2026-01-31", "2026-02-01"):
        text = partition(tmp_path, ADVERTISER, date.fromisoformat(day)).read_text(encoding="utf-8")
        assert text == "".join(line for line in expected if f'"date":"{day}"' in line)
    empty_day = partition(tmp_path, ADVERTISER, date(2026, 2, 2))
    assert empty_day.exists()
    assert empty_day.read_bytes() == b""
    assert oct(empty_day.stat().st_mode & 0o777) == "0o600"

    rows = _load("report_page.json")["data"]["list"]
    spend = [Decimal(r["metrics"]["spend"]) for r in rows if r["metrics"]["spend"] != "-"]
    assert summary["totals"] == {
        "cost": float(sum(spend)),
        "impressions": sum(int(r["metrics"]["impressions"]) for r in rows),
        "clicks": sum(int(r["metrics"]["clicks"]) for r in rows if r["metrics"]["clicks"] != "-"),
        "conversions": sum(int(r["metrics"]["conversion"]) for r in rows if r["metrics"]["conversion"] != "-"),
    }
    assert summary["totals"]["cost"] == 1254.9
    assert summary["empty_metric_values"] == {"cost": 1, "impressions": 0, "clicks": 1, "conversions": 2}
    # ad 99 is in the report but not in the (complete) ad listing: the report's names, null UTM values
    assert (summary["ads_missing_from_listing"], summary["unresolved_url_macros"]) == (1, {})
    assert (summary["days"], summary["rows"], summary["windows"], summary["api_calls"]) == (3, 5, 1, 3)
    assert _paths(api) == ["advertiser/info/", "report/integrated/get/", "ad/get/"]
    report = _query(api.request_history[1])
    assert (report["start_date"], report["end_date"], report["page"], report["page_size"]) == (
        "2026-01-31",
        "2026-02-02",
        "1",
        "1000",
    )
    assert json.loads(report["dimensions"]) == ["ad_id", "stat_time_day"]
    assert json.loads(_query(api.request_history[2])["filtering"]) == {"primary_status": "STATUS_ALL"}


def test_a_range_without_delivery_writes_empty_partitions_and_skips_ad_get(api, context, tmp_path):
    api.get(
        API + "report/integrated/get/",
        json={"code": 0, "message": "OK", "request_id": "r", "data": {"list": [], "page_info": {"total_number": 0}}},
    )
    summary = TikTokAdMetricsOperator(
        task_id="t", date_from="2026-02-10", date_to="2026-02-11", destination=str(tmp_path)
    ).execute(context())
    assert (summary["rows"], summary["days"], summary["api_calls"]) == (0, 2, 2)
    assert _paths(api) == ["advertiser/info/", "report/integrated/get/"]  # no rows: no names or landing pages needed
    for day in (date(2026, 2, 10), date(2026, 2, 11)):
        assert partition(tmp_path, ADVERTISER, day).read_bytes() == b""


def test_the_advertiser_profile_is_read_once_then_cached_per_api_host(api, context, tmp_path, home):
    kwargs = {"date_from": "2026-01-31", "date_to": "2026-02-01", "destination": str(tmp_path)}
    TikTokAdMetricsOperator(task_id="t", **kwargs).execute(context())
    [cached] = (home / "tiktok" / "ad_metrics" / ".advertisers").iterdir()
    assert cached.name.startswith(f"{ADVERTISER}-")
    assert cached.name.endswith(".json")
    assert json.loads(cached.read_text()) == {"currency": "USD", "timezone": "America/Los_Angeles"}
    assert oct(cached.stat().st_mode & 0o777) == "0o600"

    api.reset_mock()
    TikTokAdMetricsOperator(task_id="t", **kwargs).execute(context())
    assert _paths(api) == ["report/integrated/get/", "ad/get/"]

    cached.write_text("{not json")
    api.reset_mock()
    TikTokAdMetricsOperator(task_id="t", **kwargs).execute(context())
    assert _paths(api)[0] == "advertiser/info/"


def test_the_profile_prefers_the_iana_display_time_zone(api, context, tmp_path, home):
    item = {
        "advertiser_id": ADVERTISER,
        "currency": "EUR",
        "timezone": "Etc/GMT-1",
        "display_timezone": "Europe/Berlin",
    }
    api.get(API + "advertiser/info/", json={**INFO, "data": {"list": [item]}})
    summary = TikTokAdMetricsOperator(
        task_id="t", date_from="2026-01-31", date_to="2026-02-01", destination=str(tmp_path)
    ).execute(context())
    assert summary["currency"] == "EUR"
    first = partition(tmp_path, ADVERTISER, date(2026, 1, 31)).read_text(encoding="utf-8").splitlines()[0]
    assert json.loads(first)["currency"] == "EUR"
    [cached] = (home / "tiktok" / "ad_metrics" / ".advertisers").iterdir()
    assert json.loads(cached.read_text()) == {"currency": "EUR", "timezone": "Europe/Berlin"}


@pytest.mark.parametrize(
    ("items", "error", "match"),
    [
        ([], TikTokConfigError, "not visible to connection 'tiktok_default'"),
        ([{"advertiser_id": ADVERTISER, "currency": "USD", "timezone": "Mars/Olympus"}], TikTokApiError, "time zone"),
        ([{"advertiser_id": ADVERTISER, "timezone": "UTC"}], TikTokApiError, "no currency"),
    ],
)
def test_an_unusable_advertiser_profile_fails_before_any_report(api, context, items, error, match):
    api.get(API + "advertiser/info/", json={**INFO, "data": {"list": items}})
    with pytest.raises(error, match=match):
        TikTokAdMetricsOperator(task_id="t", date_from="2026-01-31").execute(context())
    assert _paths(api) == ["advertiser/info/"]


def test_rows_lost_between_pages_fail_the_run_before_writing(api, context, tmp_path):
    page = _load("report_page.json")
    page["data"]["page_info"]["total_number"] = 6
    api.get(API + "report/integrated/get/", json=page)
    with pytest.raises(TikTokApiError, match=r"report of 2026-01-31\.\.2026-02-01 is incomplete: 1 item missing"):
        TikTokAdMetricsOperator(
            task_id="t", date_from="2026-01-31", date_to="2026-02-01", destination=str(tmp_path)
        ).execute(context())
    assert not list(tmp_path.rglob("*.jsonl"))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda data: data["page_info"].update(total_number=5), "1 item missing"),
        (lambda data: data["list"].append(dict(data["list"][0])), "1 item read twice"),
        (lambda data: data["page_info"].pop("total_number"), "TikTok answered no page_info.total_number"),
    ],
    ids=["counted-but-missing", "listed-twice", "uncounted"],
)
def test_an_ad_listing_that_does_not_add_up_fails_the_run_before_writing(api, context, tmp_path, change, problem):
    ads = _load("ad_get_page.json")
    change(ads["data"])
    api.get(API + "ad/get/", json=ads)
    with pytest.raises(TikTokApiError, match=f"ad listing of advertiser {ADVERTISER} is incomplete: {problem}"):
        TikTokAdMetricsOperator(
            task_id="t", date_from="2026-01-31", date_to="2026-02-01", destination=str(tmp_path)
        ).execute(context())
    assert not list(tmp_path.rglob("*.jsonl"))


def test_landing_page_macros_and_aco_pages_reach_the_records(api, context, tmp_path):
    ads = _load("ad_get_page.json")
    first, second = ads["data"]["list"][:2]
    first["landing_page_url"] = (
        "https://demo-store.example.com/l?utm_source=tiktok&utm_medium=__PLACEMENT__&utm_campaign=__CAMPAIGN_NAME__"
        "&utm_content=__AID_NAME__"
    )
    second["landing_page_url"] = ""
    second["landing_page_urls"] = [
        {"landing_page_url": "https://demo-store.example.com/a?utm_campaign=__CAMPAIGN_ID__&utm_content=__CID__"},
        {"landing_page_url": "https://demo-store.example.com/b?utm_campaign=second_page"},
    ]
    api.get(API + "ad/get/", json=ads)
    summary = TikTokAdMetricsOperator(
        task_id="t", date_from="2026-01-31", date_to="2026-02-01", destination=str(tmp_path)
    ).execute(context())
    records = [json.loads(line) for line in partition(tmp_path, ADVERTISER, date(2026, 1, 31)).open(encoding="utf-8")]
    props = {r["ad_id"]: r["user_properties"] for r in records}
    assert props[first["ad_id"]] == {
        "utm_source": "tiktok",
        "utm_medium": None,  # a placement is known per click only
        "utm_campaign": "US Prospecting 01 \u2013 Summer Sale",
        "utm_content": "Summer Sale / Broad 1",
    }
    assert props[second["ad_id"]] == {
        "utm_source": "tiktok",
        "utm_medium": "paid_social",
        "utm_campaign": "1700000000000000003",
        "utm_content": "1900000000000000003",
    }
    assert summary["unresolved_url_macros"] == {"__PLACEMENT__": 2}  # ad ...002 on both days


def test_a_row_outside_the_requested_window_fails_the_run(api, context, tmp_path):
    with pytest.raises(TikTokApiError, match="answered a row for another day"):
        TikTokAdMetricsOperator(task_id="t", date_from="2026-01-31", destination=str(tmp_path)).execute(context())


def test_a_malformed_metric_names_row_and_field(api, context, tmp_path):
    page = _load("report_page.json")
    page["data"]["list"][1]["metrics"]["impressions"] = "12 345"
    api.get(API + "report/integrated/get/", json=page)
    with pytest.raises(ValueError, match=r"row 2, field 'metrics.impressions'") as info:
        TikTokAdMetricsOperator(
            task_id="t", date_from="2026-01-31", date_to="2026-02-01", destination=str(tmp_path)
        ).execute(context())
    assert "12 345" not in str(info.value)


def test_utm_defaults_override_ours(api, context, tmp_path):
    TikTokAdMetricsOperator(
        task_id="t",
        date_from="2026-01-31",
        date_to="2026-02-01",
        destination=str(tmp_path),
        utm_defaults={"utm_source": "tiktok_ads", "utm_medium": "paid"},
    ).execute(context())
    lines = partition(tmp_path, ADVERTISER, date(2026, 1, 31)).read_text(encoding="utf-8").splitlines()
    props = {json.loads(line)["ad_id"]: json.loads(line)["user_properties"] for line in lines}
    assert props["1900000000000000010"] == {
        "utm_source": "tiktok_ads",
        "utm_medium": "paid",
        "utm_campaign": "US Retargeting 02 \u2013 New Arrivals",
        "utm_content": "New Arrivals \u2013 Video 0010",
    }
    assert props["1900000000000000002"]["utm_medium"] == "cpc"  # the landing page's own value stays


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"utm_defaults": {"utm_term": "x"}}, "unknown key 'utm_term'"),
        ({"date_from": "None"}, "no data interval"),
        ({"date_from": "2026-31-01"}, "not a calendar date"),
        ({"date_from": "2026-02-01", "date_to": "2026-01-01"}, "not be earlier"),
        ({"advertiser_id": "act_123"}, "digits only"),
        ({"date_from": "2026-03-12"}, "not over yet"),
    ],
)
def test_bad_arguments_fail_before_any_call(api, context, kwargs, match):
    op = TikTokAdMetricsOperator(task_id="t", **{"date_from": "2026-01-31", **kwargs})
    with pytest.raises(TikTokConfigError, match=match):
        op.execute(context())
    assert api.call_count == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lookback_days": -1}, "lookback_days must be a whole number of days, 0 or more"),
        ({"lookback_days": True}, "lookback_days"),
        ({"lookback_days": 1.5}, "lookback_days"),
        ({"max_history_days": 0}, "max_history_days must be a whole number of days, 1 or more"),
        ({"sql_conn_id": "pg"}, "sql_conn_id and table go together"),
        ({"table": "metrics"}, "sql_conn_id and table go together"),
        ({"sql_conn_id": "pg", "table": "m", "destination": "/tmp/x"}, "either destination"),
    ],
)
def test_invalid_settings_fail_when_the_dag_is_parsed(kwargs, match):
    with pytest.raises(TikTokConfigError, match=match):
        TikTokAdMetricsOperator(task_id="t", **kwargs)


def test_operator_surface():
    from airflow.sdk import Asset, AssetAlias

    op = TikTokAdMetricsOperator(task_id="t")
    assert op.date_from == DEFAULT_DATE_FROM == "{{ data_interval_start | ds }}"
    assert (op.date_to, op.advertiser_id, op.destination, op.lookback_days, op.max_history_days) == (
        None,
        None,
        None,
        0,
        365,
    )
    assert op.include_deleted is True
    assert op.tiktok_conn_id == "tiktok_default"
    assert isinstance(TikTokAdMetricsOperator.template_fields, tuple)
    assert "tiktok_conn_id" in op.template_fields
    assert "date_from" in op.template_fields
    assert op.outlets == [AssetAlias(name=ASSET_ALIAS)]
    mine = Asset(uri="s3://bucket/metrics")
    assert TikTokAdMetricsOperator(task_id="u", outlets=[mine]).outlets == [mine, AssetAlias(name=ASSET_ALIAS)]
    # A literal advertiser declares its asset up front (registered at parse time: no race between first runs).
    fixed = TikTokAdMetricsOperator(task_id="v", advertiser_id="7000000000000000001")
    assert fixed.outlets == [Asset(uri="tiktok-ad-metrics://7000000000000000001")]
    assert TikTokAdMetricsOperator(task_id="w", advertiser_id="{{ params.adv }}").outlets == [
        AssetAlias(name=ASSET_ALIAS)
    ]
    assert [type(link) for link in op.operator_extra_links] == [TikTokLink]
    with pytest.raises(TypeError):
        TikTokAdMetricsOperator("t")  # keyword-only


def test_the_extra_link_reads_the_url_the_task_pushed(monkeypatch):
    from airflow_provider_tiktok.compat import XCom

    seen = {}

    def get_value(*, ti_key, key):
        seen.update(ti_key=ti_key, key=key)
        return "https://ads.tiktok.com/i18n/perf/creative?aadvid=42"

    monkeypatch.setattr(XCom, "get_value", staticmethod(get_value))
    [link] = TikTokAdMetricsOperator.operator_extra_links
    assert link.name == "TikTok Ads Manager"
    assert link.get_link(TikTokAdMetricsOperator(task_id="t"), ti_key="key-1") == (
        "https://ads.tiktok.com/i18n/perf/creative?aadvid=42"
    )
    assert seen == {"ti_key": "key-1", "key": XCOM_LINK_KEY}
    monkeypatch.setattr(XCom, "get_value", staticmethod(lambda *, ti_key, key: None))
    assert link.get_link(TikTokAdMetricsOperator(task_id="t"), ti_key="key-2") == ""


def test_the_task_rate_limit_reaches_the_hook(tiktok_conn):
    assert TikTokAdMetricsOperator(task_id="t", rate_limit=2.5).hook.config.rate_limit == 2.5
    assert TikTokAdMetricsOperator(task_id="t").hook.config.rate_limit == 1000.0


def test_utcnow_is_aware():
    assert clock.utcnow().utcoffset().total_seconds() == 0


def test_an_object_storage_destination_gets_the_same_partitions(api, context, tmp_path):
    import fsspec
    from airflow.sdk.io import attach

    memory = fsspec.filesystem("memory")
    attach("memory", fs=memory)
    kwargs = {"date_from": "2026-01-31", "date_to": "2026-02-02"}
    TikTokAdMetricsOperator(task_id="t", destination=str(tmp_path), **kwargs).execute(context())
    summary = TikTokAdMetricsOperator(task_id="t", destination="memory://bucket/metrics", **kwargs).execute(context())
    assert summary["destination"] == "memory://bucket/metrics"
    try:
        for day in ("2026-01-31", "2026-02-01", "2026-02-02"):
            key = f"/bucket/metrics/ad_account_id={ADVERTISER}/date={day}.jsonl"
            assert memory.cat_file(key) == partition(tmp_path, ADVERTISER, date.fromisoformat(day)).read_bytes()
    finally:
        memory.rm("/bucket", recursive=True)
