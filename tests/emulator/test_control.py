"""The ``/_emulator/`` control API, the request log, and the EmulatorServer life cycle."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timezone

import pytest
import requests

from airflow_provider_tiktok.emulator import ADVERTISER_A, APP_ID, APP_SECRET, REFRESH_TOKEN
from airflow_provider_tiktok.emulator.state import REQUEST_LOG_SIZE, EmulatorState
from airflow_provider_tiktok.emulator.testing import EmulatorServer
from tests.helpers.emulator_api import FIXED_NOW, Api

AD_GET = {"advertiser_id": ADVERTISER_A}


def control(emulator, method: str, path: str, **kwargs) -> requests.Response:
    """Call ``/_emulator/<path>``."""
    return requests.request(method, f"{emulator.url}/_emulator/{path}", timeout=5, **kwargs)


@pytest.mark.integration
def test_stats_and_request_log(api: Api, emulator) -> None:
    api.get("ad/get/", AD_GET)
    api.get("ad/get", AD_GET, token=None)
    api.get("campaign/get/", AD_GET)
    stats = control(emulator, "GET", "stats").json()
    assert stats["calls"] == {"/open_api/v1.3/ad/get/": 2, "/open_api/v1.3/campaign/get/": 1}
    assert stats["codes"] == {"0": 2, "40104": 1}
    log = control(emulator, "GET", "requests", params={"path": "ad/get"}).json()["requests"]
    assert [e["code"] for e in log] == [0, 40104]
    assert log[0]["t"] <= log[1]["t"]
    assert log[0]["at"].startswith("2026-03-10T15:30")
    later = control(emulator, "GET", "requests", params={"since": log[1]["t"]}).json()["requests"]
    assert [e["path"] for e in later][-1] == "/open_api/v1.3/campaign/get/"


@pytest.mark.unit
def test_request_log_is_bounded() -> None:
    state = EmulatorState()
    for i in range(REQUEST_LOG_SIZE + 5):
        state.record("GET", "/p", 0, 200, str(i), None)
    log = state.requests()
    assert len(log) == REQUEST_LOG_SIZE
    assert log[0]["request_id"] == "5"
    assert state.stats()["calls"] == {"/p": REQUEST_LOG_SIZE + 5}


@pytest.mark.integration
def test_clock_control(emulator) -> None:
    assert control(emulator, "GET", "clock").json()["now"] == FIXED_NOW.isoformat()
    moved = control(emulator, "POST", "clock", json={"advance_seconds": 3600}).json()
    assert moved["now"] == "2026-03-10T16:30:00+00:00"
    assert (
        control(emulator, "POST", "clock", json={"now": "2026-04-01T00:00:00Z"})
        .json()["now"]
        .startswith("2026-04-01T00:00:00")
    )
    offset = control(emulator, "POST", "clock", json={"offset_seconds": -86400}).json()
    real = datetime.now(timezone.utc)
    assert abs((datetime.fromisoformat(offset["now"]) - real).total_seconds() + 86400) < 5
    assert control(emulator, "POST", "clock", json={"when": 1}).status_code == 400
    emulator.reset()
    assert emulator.state.now() == FIXED_NOW


@pytest.mark.integration
def test_settings_tokens_events_and_reset(api: Api, emulator) -> None:
    updated = control(emulator, "POST", "settings", json={"audience_daily_limit": 2, "partial_success_events": True})
    assert updated.json()["audience_daily_limit"] == 2
    assert emulator.state.settings.partial_success_events
    assert control(emulator, "POST", "settings", json={"nope": 1}).status_code == 400
    assert control(emulator, "POST", "settings", json={"partial_success_events": 1}).status_code == 400
    token = control(emulator, "POST", "tokens", json={"scopes": ["reporting"], "expires_in": 60}).json()
    assert api.get("ad/get/", AD_GET, token=token["access_token"])["code"] == 40130
    assert control(emulator, "POST", "tokens", json={"scopes": ["everything"]}).status_code == 400
    assert control(emulator, "GET", "events").json() == {"sources": {}}
    assert control(emulator, "GET", "audiences/123/members").status_code == 404
    emulator.state.revoke_token()
    emulator.state.refresh(REFRESH_TOKEN)
    assert control(emulator, "POST", "reset").json() == {"reset": True}
    assert emulator.state.settings.audience_daily_limit == 24
    assert api.get("ad/get/", AD_GET)["code"] == 0
    assert control(emulator, "GET", "stats").json()["calls"] == {"/open_api/v1.3/ad/get/": 1}
    emulator.state.refresh(REFRESH_TOKEN)  # the seed refresh token is usable again


@pytest.mark.integration
def test_server_life_cycle() -> None:
    server = EmulatorServer(seed=3)
    with pytest.raises(RuntimeError):
        _ = server.url
    with server:
        port = server.port
        assert server.url == f"http://127.0.0.1:{port}"
        with EmulatorServer() as other:
            assert other.port != port
        assert requests.get(f"{server.url}/_emulator/stats", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/_emulator/stats", timeout=2)
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


@pytest.mark.integration
def test_revoke_a_token_over_http(api: Api, emulator) -> None:
    other = control(emulator, "POST", "tokens", json={}).json()["access_token"]
    answer = control(emulator, "POST", "tokens/revoke", json={"access_token": other})
    assert answer.json() == {"revoked": True}
    assert api.get("ad/get/", AD_GET, token=other)["code"] == 40105
    assert api.get("ad/get/", AD_GET)["code"] == 0  # the seed token is untouched
    assert control(emulator, "POST", "tokens/revoke").json() == {"revoked": True}  # the seed token by default
    assert api.get("ad/get/", AD_GET)["code"] == 40105
    missing = control(emulator, "POST", "tokens/revoke", json={"access_token": "tok-unknown-123"})
    assert missing.status_code == 404
    assert "tok-unknown-123" not in missing.text


@pytest.mark.integration
def test_request_log_keeps_query_parameters_with_secrets_masked(api: Api, emulator) -> None:
    api.get("ad/get/", {**AD_GET, "page_size": 5})
    api.get("oauth2/advertiser/get/", {"app_id": APP_ID, "secret": APP_SECRET})
    log = control(emulator, "GET", "requests").json()["requests"]
    assert log[0]["query"] == {"advertiser_id": ADVERTISER_A, "page_size": "5"}
    assert log[1]["query"] == {"app_id": APP_ID, "secret": "***"}
    assert APP_SECRET not in json.dumps(log)
    assert all(entry["arrived"] <= entry["t"] for entry in log)


@pytest.mark.integration
def test_a_pendulum_instant_keeps_the_clock_aware(emulator) -> None:
    import pendulum

    emulator.state.set_clock(pendulum.datetime(2026, 3, 10, 16, 30, tz="Europe/Berlin"))
    emulator.state.advance_clock(60)
    now = emulator.state.now()
    assert type(now) is datetime
    assert now == datetime(2026, 3, 10, 15, 31, tzinfo=timezone.utc)
    assert control(emulator, "GET", "clock").json()["now"] == "2026-03-10T15:31:00+00:00"


@pytest.mark.integration
def test_event_bodies_can_be_left_out_for_load_runs(emulator) -> None:
    assert control(emulator, "POST", "settings", json={"keep_event_bodies": False}).json()["keep_event_bodies"] is False
