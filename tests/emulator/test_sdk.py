"""TikTok's own generated SDK (business_api_client) against the emulator: it must parse every answer as TikTok's."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from business_api_client import AccountManagementApi, AdApi, ApiClient, AudienceApi, AuthenticationApi, ReportingApi
from business_api_client.configuration import Configuration
from business_api_client.models import (
    CustomAudienceCreateBody,
    CustomAudienceUpdateBody,
    FilteringAdGet,
    Oauth2AccessTokenBody,
)
from business_api_client.tiktok_business.tiktok_exceptions import TiktokSDKError

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, ADVERTISER_B, APP_ID, APP_SECRET
from airflow_provider_tiktok.emulator.data import advertiser_today
from tests.helpers.emulator_api import FIXED_NOW, sha256

pytestmark = pytest.mark.integration


@pytest.fixture
def client(emulator) -> ApiClient:
    """An SDK client whose host is the emulator."""
    configuration = Configuration()
    configuration.host = emulator.url
    return ApiClient(configuration)


def test_advertiser_info(client: ApiClient) -> None:
    answer = AccountManagementApi(client).advertiser_info([ADVERTISER_A, ADVERTISER_B], ACCESS_TOKEN)
    assert [a["currency"] for a in answer["data"]["list"]] == ["USD", "EUR"]
    assert answer["request_id"]


def test_report_integrated_get(client: ApiClient, emulator) -> None:
    day = advertiser_today(ADVERTISER_A, FIXED_NOW) - timedelta(days=3)
    answer = ReportingApi(client).report_integrated_get(
        "BASIC",
        ACCESS_TOKEN,
        advertiser_id=ADVERTISER_A,
        service_type="AUCTION",
        data_level="AUCTION_AD",
        dimensions=["ad_id", "stat_time_day"],
        metrics=["spend", "impressions", "clicks", "conversion", "ad_name"],
        start_date=str(day),
        end_date=str(day),
        page=1,
        page_size=1000,
        enable_total_metrics=True,
        filtering=[{"field_name": "ad_status", "filter_type": "IN", "filter_value": '["STATUS_ALL"]'}],
    )
    data = answer["data"]
    expected = emulator.state.expected_daily_rows(ADVERTISER_A, day, include_deleted=True)
    assert data["page_info"]["total_number"] == len(expected) == len(data["list"])
    assert [r["dimensions"]["ad_id"] for r in data["list"]] == [e["ad_id"] for e in expected]
    assert "total_metrics" in data  # the SDK sends the boolean as "True"


def test_report_error_raises_sdk_error(client: ApiClient) -> None:
    day = advertiser_today(ADVERTISER_A, FIXED_NOW) - timedelta(days=1)
    with pytest.raises(TiktokSDKError) as raised:
        ReportingApi(client).report_integrated_get(
            "BASIC",
            ACCESS_TOKEN,
            advertiser_id=ADVERTISER_A,
            data_level="AUCTION_AD",
            dimensions=["ad_id"],
            start_date=str(day - timedelta(days=30)),
            end_date=str(day),
            page_size=1000,
        )
    assert "40002" in str(raised.value)


def test_ad_get_default_filter_leaves_deleted_ads_out(client: ApiClient) -> None:
    api = AdApi(client)
    default = api.ad_get(
        ADVERTISER_B, ACCESS_TOKEN, page_size=1000, filtering=FilteringAdGet(), fields=["ad_id", "landing_page_url"]
    )["data"]
    everything = api.ad_get(
        ADVERTISER_B, ACCESS_TOKEN, page=2, page_size=1000, filtering=FilteringAdGet(primary_status="STATUS_ALL")
    )["data"]
    assert default["page_info"]["total_number"] < everything["page_info"]["total_number"] == 1500
    assert len(everything["list"]) == 500
    assert set(default["list"][0]) == {"ad_id", "landing_page_url"}


def upload(api: AudienceApi, path: Path, ids: list[str]) -> str:
    """Write a customer file, upload it through the SDK (which opens the path itself) and return its file_path."""
    path.write_text("\n".join(ids))
    signature = hashlib.md5(path.read_bytes()).hexdigest()
    answer = api.dmp_custom_audience_file_upload(
        ACCESS_TOKEN,
        advertiser_id=ADVERTISER_A,
        file=str(path),
        file_signature=signature,
        calculate_type="EMAIL_SHA256",
    )
    return answer["data"]["file_path"]


def remove(api: AudienceApi, audience_id: str, file_path: str) -> None:
    """REMOVE the ids of one file from the audience."""
    api.dmp_custom_audience_update(
        ACCESS_TOKEN,
        body=CustomAudienceUpdateBody(
            action="REMOVE", advertiser_id=ADVERTISER_A, custom_audience_id=audience_id, file_paths=[file_path]
        ),
    )


def test_custom_audience_cycle(client: ApiClient, emulator, tmp_path: Path) -> None:
    api = AudienceApi(client)
    ids = [sha256(f"user{i}@example.com") for i in range(1200)]
    created = api.dmp_custom_audience_create(
        ACCESS_TOKEN,
        body=CustomAudienceCreateBody(
            advertiser_id=ADVERTISER_A,
            custom_audience_name="SDK cohort",
            calculate_type="EMAIL_SHA256",
            file_paths=[upload(api, tmp_path / "cohort.csv", ids)],
        ),
    )
    audience_id = created["data"]["custom_audience_id"]
    remove(api, audience_id, upload(api, tmp_path / "first.csv", ids[:200]))
    details = api.dmp_custom_audience_get(ADVERTISER_A, [audience_id], ACCESS_TOKEN, history_size=5)["data"]["list"]
    assert details[0]["audience_details"]["cover_num"] == 1000
    assert [h["action"] for h in details[0]["audience_history"]] == ["REMOVE", "CREATE"]
    listed = api.dmp_custom_audience_list(ADVERTISER_A, ACCESS_TOKEN, page=1, page_size=100)["data"]
    assert [a["audience_id"] for a in listed["list"]] == [audience_id]
    with pytest.raises(TiktokSDKError, match="40002"):  # 999 would remain
        remove(api, audience_id, upload(api, tmp_path / "second.csv", ids[200:201]))
    assert len(emulator.state.audience_members(audience_id)) == 1000


def test_oauth_requests_the_sdk_builds(client: ApiClient) -> None:
    """TikTok's SDK authenticates against the emulator: the advertisers an app reaches, and a token exchange
    whose unknown code is refused with TikTok's code (the request itself is in spec)."""
    api = AuthenticationApi(client)
    reached = api.oauth2_advertiser_get(APP_ID, APP_SECRET, ACCESS_TOKEN)["data"]["list"]
    assert ADVERTISER_A in {str(item["advertiser_id"]) for item in reached}
    with pytest.raises(TiktokSDKError) as info:
        api.oauth2_access_token(body=Oauth2AccessTokenBody(app_id=APP_ID, secret=APP_SECRET, auth_code="unknown"))
    assert "Error Code: 40110" in str(info.value)
