"""Envelope, authentication and the account endpoints (advertiser/info, ad/get, campaign/get, adgroup/get)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_A, ADVERTISER_B, ADVERTISER_C, API_PREFIX
from tests.helpers.emulator_api import Api

pytestmark = pytest.mark.integration


def test_envelope_and_trailing_slash(api: Api, emulator) -> None:
    ids = json.dumps([ADVERTISER_A, ADVERTISER_B])  # json.dumps puts a space after the comma, like the SDK
    with_slash = api.get("advertiser/info/", {"advertiser_ids": ids})
    response = requests.get(
        f"{emulator.url}{API_PREFIX}/advertiser/info",
        params={"advertiser_ids": ids},
        headers={"Access-Token": ACCESS_TOKEN},
        timeout=5,
    )
    without_slash = response.json()
    assert set(with_slash) == {"code", "message", "request_id", "data"}
    assert (with_slash["code"], with_slash["message"]) == (0, "OK")
    assert with_slash["request_id"] != without_slash["request_id"]
    assert response.headers["X-Tt-Logid"] == without_slash["request_id"]
    assert with_slash["data"] == without_slash["data"]
    first = with_slash["data"]["list"][0]
    assert (first["advertiser_id"], first["name"], first["currency"], first["timezone"]) == (
        ADVERTISER_A,
        "Demo Store US",
        "USD",
        "America/Los_Angeles",
    )
    assert with_slash["data"]["list"][1]["currency"] == "EUR"
    only = api.get("advertiser/info/", {"advertiser_ids": f'["{ADVERTISER_C}"]', "fields": '["name", "currency"]'})
    assert only["data"]["list"] == [{"name": "Demo Store JP", "currency": "JPY"}]


def test_auth_errors(api: Api, emulator) -> None:
    params = {"advertiser_ids": json.dumps([ADVERTISER_A])}
    assert api.get("advertiser/info/", params, token=None)["code"] == 40104
    assert api.get("advertiser/info/", params, token="nope")["code"] == 40105
    short = emulator.state.issue_token(expires_in=60)
    assert api.get("advertiser/info/", params, token=short)["code"] == 0
    emulator.state.advance_clock(61)
    assert api.get("advertiser/info/", params, token=short)["code"] == 40102
    reporting_only = emulator.state.issue_token(scopes=frozenset({"reporting"}))
    assert api.get("advertiser/info/", params, token=reporting_only)["code"] == 40130
    only_b = emulator.state.issue_token(advertiser_ids=(ADVERTISER_B,))
    assert api.get("advertiser/info/", params, token=only_b)["code"] == 40001
    assert api.get("ad/get/", {"advertiser_id": ADVERTISER_A}, token=only_b)["code"] == 40001
    assert api.get("advertiser/info/", {})["code"] == 40002
    assert api.get("advertiser/info/", {"advertiser_ids": "[not json"})["code"] == 40002


def test_token_revoked_mid_run(api: Api, emulator) -> None:
    params = {"advertiser_id": ADVERTISER_A}
    assert api.get("ad/get/", params)["code"] == 0
    emulator.state.revoke_token()
    assert api.get("ad/get/", params)["code"] == 40105
    emulator.reset()
    other = emulator.state.issue_token()
    revoke = {"app_id": "7100000000000000001", "secret": "emulator-app-secret", "access_token": other}
    assert api.post("oauth2/revoke_token/", revoke)["code"] == 0
    assert api.get("ad/get/", params, token=other)["code"] == 40105
    assert api.get("ad/get/", params)["code"] == 0


def ad_pages(api: Api, advertiser_id: str, **params) -> tuple[list[dict], list[dict]]:
    """Every ad (and each page's page_info) of ad/get with page_size 1,000."""
    ads, infos, page = [], [], 1
    while True:
        data = api.get("ad/get/", {"advertiser_id": advertiser_id, "page_size": 1000, "page": page, **params})["data"]
        ads += data["list"]
        infos.append(data["page_info"])
        if page >= data["page_info"]["total_page"]:
            return ads, infos
        page += 1


def test_ad_get_pages_and_deleted_ads(api: Api, emulator) -> None:
    everything, infos = ad_pages(api, ADVERTISER_B, filtering=json.dumps({"primary_status": "STATUS_ALL"}))
    assert [i["total_number"] for i in infos] == [1500, 1500]
    assert len(everything) == 1500
    default, _ = ad_pages(api, ADVERTISER_B)
    deleted = {a["ad_id"] for a in everything if a["primary_status"] == "STATUS_DELETE"}
    assert deleted
    assert len(default) == 1500 - len(deleted)
    assert not deleted & {a["ad_id"] for a in default}
    only_deleted, _ = ad_pages(api, ADVERTISER_B, filtering='{"primary_status": "STATUS_DELETE"}')
    assert {a["ad_id"] for a in only_deleted} == deleted
    assert api.get("ad/get/", {"advertiser_id": ADVERTISER_A, "page_size": 1001})["code"] == 40002
    assert api.get("ad/get/", {"advertiser_id": ADVERTISER_A, "filtering": '{"objective": "X"}'})["code"] == 40002


def test_ad_tree_shape_and_landing_pages(api: Api, emulator) -> None:
    ads, _ = ad_pages(api, ADVERTISER_A, filtering='{"primary_status": "STATUS_ALL"}')
    assert len(ads) == 1000
    assert len({a["campaign_id"] for a in ads}) == 20
    assert len({a["adgroup_id"] for a in ads}) == 100
    assert {a["operation_status"] for a in ads} == {"ENABLE", "DISABLE"}
    tagged = [a for a in ads if any(k.startswith("utm_") for k, _ in parse_qsl(urlsplit(a["landing_page_url"]).query))]
    assert 0.5 < len(tagged) / len(ads) < 0.7
    by_id = emulator.state.dataset.ad_by_id
    for ad in tagged:
        parsed = {k: v for k, v in parse_qsl(urlsplit(ad["landing_page_url"]).query) if k.startswith("utm_")}
        assert parsed == by_id[ad["ad_id"]].utm
    urls = [a["landing_page_url"] for a in tagged]
    assert any("%20" in u for u in urls)
    assert any("+" in u for u in urls)
    assert any("#" in u for u in urls)
    assert any("ref=" in u for u in urls)
    assert (
        api.get("ad/get/", {"advertiser_id": ADVERTISER_C, "page_size": 100})["data"]["page_info"]["total_number"] < 20
    )


def test_ad_get_filters_and_fields(api: Api, emulator) -> None:
    ads = emulator.state.dataset.ads[ADVERTISER_A]
    campaign = ads[0].campaign_id
    by_campaign = api.get(
        "ad/get/",
        {
            "advertiser_id": ADVERTISER_A,
            "page_size": 1000,
            "filtering": json.dumps({"campaign_ids": [campaign], "primary_status": "STATUS_ALL"}),
            "fields": '["ad_id", "campaign_id", "landing_page_url"]',
        },
    )["data"]
    assert {a["campaign_id"] for a in by_campaign["list"]} == {campaign}
    assert set(by_campaign["list"][0]) == {"ad_id", "campaign_id", "landing_page_url"}
    assert by_campaign["page_info"]["total_number"] == sum(1 for a in ads if a.campaign_id == campaign)
    two = api.get(
        "ad/get/", {"advertiser_id": ADVERTISER_A, "filtering": json.dumps({"ad_ids": [ads[1].ad_id, ads[2].ad_id]})}
    )["data"]["list"]
    assert [a["ad_id"] for a in two] == [ads[1].ad_id, ads[2].ad_id]
    recent = max(a.modify_time for a in ads) - timedelta(days=30)
    modified = api.get(
        "ad/get/",
        {
            "advertiser_id": ADVERTISER_A,
            "page_size": 1000,
            "filtering": json.dumps(
                {"primary_status": "STATUS_ALL", "modified_after": recent.strftime("%Y-%m-%d %H:%M:%S")}
            ),
        },
    )["data"]
    assert modified["page_info"]["total_number"] == sum(1 for a in ads if a.modify_time > recent)
    assert api.get("ad/get/", {"advertiser_id": ADVERTISER_A, "fields": '["nope"]'})["code"] == 40002


@pytest.mark.parametrize(("path", "total"), [("campaign/get/", 20), ("adgroup/get/", 100)])
def test_campaign_and_adgroup_get(api: Api, path: str, total: int) -> None:
    data = api.get(path, {"advertiser_id": ADVERTISER_A, "page_size": 7, "page": 3})["data"]
    assert data["page_info"] == {"page": 3, "page_size": 7, "total_number": total, "total_page": -(-total // 7)}
    assert len(data["list"]) == min(7, total - 14)
    assert data["list"][0]["campaign_name"]
