"""TikTokAdsHook against the real emulator over HTTP: tokens, OAuth, faults and the measured request rate."""

from __future__ import annotations

import io
import itertools
import threading

import pytest
import requests

from airflow_provider_tiktok import oauth
from airflow_provider_tiktok.emulator import (
    ACCESS_TOKEN,
    ADVERTISER_A,
    ADVERTISER_IDS,
    APP_ID,
    APP_SECRET,
    REFRESH_TOKEN,
)
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from airflow_provider_tiktok.exceptions import TikTokApiError
from airflow_provider_tiktok.hooks.connection import TikTokConnectionConfig
from airflow_provider_tiktok.hooks.tiktok import TikTokAdsHook
from tests.helpers.clock import EMULATOR_NOW

pytestmark = pytest.mark.integration

NOW = EMULATOR_NOW


@pytest.fixture
def emulator(emulator_server: EmulatorServer) -> EmulatorServer:
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def variables(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Airflow Variables as a dict, so the token store's real code path runs without a metadata DB."""
    from airflow.sdk import Variable

    store: dict[str, str] = {}
    monkeypatch.setattr(Variable, "get", staticmethod(lambda key, default=None: store.get(key, default)))
    monkeypatch.setattr(
        Variable, "set", staticmethod(lambda key, value, description=None: store.__setitem__(key, value))
    )
    return store


def fast(hook: TikTokAdsHook) -> TikTokAdsHook:
    hook.sleep = lambda seconds: None
    return hook


def test_test_connection_names_the_reachable_advertisers(emulator, set_tiktok_conn):
    set_tiktok_conn(host=emulator.url, token=ACCESS_TOKEN, app_id=APP_ID, app_secret=APP_SECRET, rate_limit="100")
    ok, message = TikTokAdsHook().test_connection()
    assert ok, message
    for advertiser_id in ADVERTISER_IDS:
        assert advertiser_id in message


def test_revoked_token_fails_fast_with_request_id_and_advice(emulator, set_tiktok_conn):
    set_tiktok_conn(host=emulator.url, token=ACCESS_TOKEN, rate_limit="100")
    hook = fast(TikTokAdsHook())
    assert hook.advertiser_info([ADVERTISER_A])[0]["currency"] == "USD"
    emulator.state.revoke_token(ACCESS_TOKEN)
    with pytest.raises(TikTokApiError) as info:
        hook.advertiser_info([ADVERTISER_A])
    assert info.value.code == 40105
    assert info.value.request_id
    assert "re-authorise" in str(info.value)
    assert ACCESS_TOKEN not in str(info.value)


def test_rate_limit_fault_is_retried_to_success(emulator, set_tiktok_conn):
    set_tiktok_conn(host=emulator.url, token=ACCESS_TOKEN, rate_limit="100")
    emulator.state.faults.add("path=advertiser/info,kind=code,code=40133,count=2")
    hook = fast(TikTokAdsHook())
    assert hook.advertiser_info([ADVERTISER_A])[0]["advertiser_id"] == ADVERTISER_A
    assert hook.api_calls == 3


def test_expired_account_token_is_refreshed_and_the_next_run_reuses_it(emulator, set_tiktok_conn, variables):
    # A TikTok-account token that expires after 24 h, and the rotating refresh token of the connection.
    expiring = emulator.state.issue_token(expires_in=3600)
    set_tiktok_conn(
        host=emulator.url,
        token=expiring,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        refresh_token=REFRESH_TOKEN,
        rate_limit="100",
    )
    emulator.state.advance_clock(7200)
    first_run = fast(TikTokAdsHook())
    assert first_run.advertiser_info([ADVERTISER_A])[0]["advertiser_id"] == ADVERTISER_A
    stored = variables[first_run.token_variable_key]
    assert REFRESH_TOKEN not in stored  # the rotated refresh token replaced the used one

    next_run = fast(TikTokAdsHook())
    next_run.advertiser_info([ADVERTISER_A])
    assert next_run.api_calls == 1  # no second refresh: the stored token was used directly
    refreshes = [r for r in emulator.state.requests() if "refresh_token" in r["path"]]
    assert len(refreshes) == 1


def test_oauth_helper_full_flow_against_the_emulator(emulator):
    config = TikTokConnectionConfig(
        conn_id="tiktok_default",
        base_url=emulator.url,
        access_token=None,
        app_id=APP_ID,
        app_secret=APP_SECRET,
        advertiser_id=None,
        refresh_token=None,
        rate_limit=100.0,
    )
    out = io.StringIO()
    result: dict = {}
    thread = threading.Thread(
        target=lambda: result.update(oauth.run_flow(config, port=0, timeout=20, open_browser=False, out=out))
    )
    thread.start()
    for _ in range(500):
        if "/portal/auth?" in out.getvalue():
            break
        threading.Event().wait(0.01)
    auth_url = next(word for word in out.getvalue().split() if "/portal/auth?" in word)
    landing = requests.get(auth_url, timeout=10)  # the emulator consents and redirects to our 127.0.0.1 callback
    thread.join(20)
    assert landing.status_code == 200
    assert "authorisation received" in landing.text
    conn = oauth.connection_for(config, result)
    assert conn["host"] == emulator.url
    assert conn["extra"]["advertiser_id"] in ADVERTISER_IDS
    hook = TikTokAdsHook.from_config(
        TikTokConnectionConfig(**{**config.__dict__, "access_token": conn["password"], "conn_id": "oauth_check"})
    )
    assert hook.test_connection()[0]


def test_client_never_exceeds_its_rate_in_any_second_at_the_emulator(emulator, set_tiktok_conn):
    set_tiktok_conn(host=emulator.url, token=ACCESS_TOKEN, rate_limit="20")
    hook = TikTokAdsHook()
    threads = [
        threading.Thread(target=lambda: [hook.advertiser_info([ADVERTISER_A]) for _ in range(10)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps = sorted(r["t"] for r in emulator.state.requests())  # real arrival times at the emulator
    assert len(stamps) == 40
    busiest = max(sum(1 for s in stamps[i:] if s - start < 1.0) for i, start in enumerate(stamps))
    assert busiest <= 20 + 1  # strict spacing: at most rate (+1 for clock granularity at the window edge)
    assert not list(itertools.filterfalse(lambda r: r["code"] == 0, emulator.state.requests()))
