"""The real stack: the API server loads the provider, renders our connection form, and tests the connection."""

from __future__ import annotations

import json

import pytest

from airflow_provider_tiktok.emulator import ACCESS_TOKEN, ADVERTISER_IDS, APP_ID, APP_SECRET

pytestmark = pytest.mark.e2e


def test_api_server_serves_our_connection_form(stack):
    hooks = stack.api("GET", "/ui/connections/hook_meta")
    (meta,) = [h for h in hooks if h["connection_type"] == "tiktok_ads"]
    assert meta["hook_name"] == "TikTok Ads"
    fields = meta["standard_fields"]
    assert (fields["host"]["hidden"], fields["host"]["title"]) == (False, "API base URL (empty = production)")
    assert (fields["password"]["hidden"], fields["password"]["title"]) == (False, "Access token")
    assert fields["login"]["hidden"]
    assert fields["port"]["hidden"]
    extra = meta["extra_fields"]
    assert list(extra) == [
        "app_id",
        "app_secret",
        "advertiser_id",
        "refresh_token",
        "rate_limit",
        "events_rate_limit",
        "rate_limit_storage",
        "state_uri",
    ]
    assert extra["app_secret"]["schema"]["format"] == "password"
    assert extra["rate_limit_storage"]["schema"]["format"] == "password"  # a Redis URI may carry a password
    assert extra["refresh_token"]["schema"]["format"] == "password"
    assert extra["advertiser_id"]["schema"]["title"] == "Default advertiser ID"


def test_connection_secrets_are_masked_by_the_api(stack):
    conn = stack.api("GET", "/api/v2/connections/tiktok_default")
    assert conn["password"] == "***"
    assert json.loads(conn["extra"])["app_secret"] == "***"


def test_the_connection_test_button_reaches_the_emulator(stack):
    body = {
        "connection_id": "tiktok_default",
        "conn_type": "tiktok_ads",
        "host": stack.emulator_url,
        "password": ACCESS_TOKEN,
        "extra": json.dumps({"app_id": APP_ID, "app_secret": APP_SECRET, "advertiser_id": ADVERTISER_IDS[0]}),
    }
    result = stack.api("POST", "/api/v2/connections/test", json=body)
    assert result["status"] is True, result["message"]
    assert all(advertiser in result["message"] for advertiser in ADVERTISER_IDS)
    result = stack.api("POST", "/api/v2/connections/test", json={**body, "password": "not-a-token"})
    assert result["status"] is False
    assert "40105" in result["message"]
    assert "not-a-token" not in result["message"]


def test_a_restart_keeps_the_metadata_and_schedules_again(stack):
    stack.wait_for_dags(["tiktok_audience_sync"])
    stack.unpause("tiktok_audience_sync")
    before = {run["dag_run_id"] for run in stack.runs("tiktok_audience_sync")}
    stack.restart_airflow()
    assert stack.scheduler_problem() is None
    assert {run["dag_run_id"] for run in stack.runs("tiktok_audience_sync")} >= before
    stack.trigger("tiktok_audience_sync", "after_restart", None)
    (run,) = stack.wait_for_runs("tiktok_audience_sync", ["after_restart"], timeout=300)
    assert run["state"] == "success"
