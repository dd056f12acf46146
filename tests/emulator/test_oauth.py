"""OAuth on the emulator: consent redirect, code exchange, advertiser list and TikTok-account token refresh."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_tiktok.emulator import ADVERTISER_IDS, APP_ID, APP_SECRET, REFRESH_TOKEN, SCOPES
from tests.helpers.emulator_api import Api

pytestmark = pytest.mark.integration

CALLBACK = "http://127.0.0.1:8999/callback?session=abc"


def authorise(emulator, state: str = "xyz", app_id: str = APP_ID) -> requests.Response:
    """Open the consent page without following its redirect."""
    return requests.get(
        f"{emulator.url}/portal/auth",
        params={"app_id": app_id, "state": state, "redirect_uri": CALLBACK},
        allow_redirects=False,
        timeout=5,
    )


def test_authorisation_code_flow(api: Api, emulator) -> None:
    redirect = authorise(emulator)
    assert redirect.status_code == 302
    location = urlsplit(redirect.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == "http://127.0.0.1:8999/callback"
    assert query["state"] == ["xyz"]
    assert query["session"] == ["abc"]
    code = query["auth_code"][0]
    exchange = {"app_id": APP_ID, "secret": APP_SECRET, "auth_code": code}
    assert api.post("oauth2/access_token/", {**exchange, "secret": "wrong"}, token=None)["code"] == 40001
    granted = api.post("oauth2/access_token/", exchange, token=None)
    assert granted["code"] == 0
    data = granted["data"]
    assert data["advertiser_ids"] == list(ADVERTISER_IDS)
    assert data["scope"] == sorted(SCOPES.values())
    assert api.post("oauth2/access_token/", exchange, token=None)["code"] == 40110  # single use
    listed = api.get("oauth2/advertiser/get/", {"app_id": APP_ID, "secret": APP_SECRET}, token=data["access_token"])
    assert [a["advertiser_id"] for a in listed["data"]["list"]] == list(ADVERTISER_IDS)
    assert api.get("oauth2/advertiser/get/", {"app_id": APP_ID, "secret": APP_SECRET}, token=None)["code"] == 40104


def test_codes_expire_after_an_hour(api: Api, emulator) -> None:
    code = parse_qs(urlsplit(authorise(emulator).headers["location"]).query)["auth_code"][0]
    emulator.state.advance_clock(3601)
    assert (
        api.post("oauth2/access_token/", {"app_id": APP_ID, "secret": APP_SECRET, "auth_code": code}, token=None)[
            "code"
        ]
        == 40110
    )
    assert (
        api.post("oauth2/access_token/", {"app_id": APP_ID, "secret": APP_SECRET, "auth_code": "made-up"}, token=None)[
            "code"
        ]
        == 40110
    )


def test_consent_page_rejects_unknown_apps(emulator) -> None:
    answer = authorise(emulator, app_id="123")
    assert answer.status_code == 200
    assert answer.json()["code"] == 40001


def test_refresh_token_rotation_and_expiry(api: Api, emulator) -> None:
    body = {
        "client_id": APP_ID,
        "client_secret": APP_SECRET,
        "grant_type": "refresh_token",
        "refresh_token": REFRESH_TOKEN,
    }
    first = api.post("tt_user/oauth2/refresh_token/", body, token=None)
    assert first["code"] == 0
    data = first["data"]
    assert data["expires_in"] == 86400
    assert data["open_id"]
    assert data["scope"]
    assert 0 < data["refresh_token_expires_in"] <= 365 * 86400
    assert data["refresh_token"] != REFRESH_TOKEN
    token = data["access_token"]
    assert api.get("ad/get/", {"advertiser_id": ADVERTISER_IDS[0]}, token=token)["code"] == 0
    emulator.state.advance_clock(86400)
    assert api.get("ad/get/", {"advertiser_id": ADVERTISER_IDS[0]}, token=token)["code"] == 40102
    assert api.post("tt_user/oauth2/refresh_token/", body, token=None)["code"] == 40107  # rotated away
    renewed = api.post("tt_user/oauth2/refresh_token/", {**body, "refresh_token": data["refresh_token"]}, token=None)
    assert renewed["code"] == 0
    assert (
        api.post(
            "tt_user/oauth2/refresh_token/",
            {**body, "grant_type": "password", "refresh_token": renewed["data"]["refresh_token"]},
            token=None,
        )["code"]
        == 40108
    )
    emulator.state.advance_clock(366 * 86400)
    assert (
        api.post(
            "tt_user/oauth2/refresh_token/", {**body, "refresh_token": renewed["data"]["refresh_token"]}, token=None
        )["code"]
        == 40103
    )
