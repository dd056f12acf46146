"""The OAuth helper: loopback-only redirect, state check, time-out, code exchange and printed connection."""

from __future__ import annotations

import io
import ipaddress
import json
import re
import shlex
import socket
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from airflow_provider_tiktok import oauth
from airflow_provider_tiktok.hooks.connection import TikTokConnectionConfig
from tests.helpers.connections import FAKE_SECRET, TEST_BASE_URL

pytestmark = pytest.mark.integration

CONFIG = TikTokConnectionConfig(
    conn_id="tiktok_default",
    base_url=TEST_BASE_URL,
    access_token=None,
    app_id="7100000000000000001",
    app_secret=FAKE_SECRET,
    advertiser_id=None,
    refresh_token=None,
    rate_limit=100.0,
)


def start_flow(timeout: float = 10.0):
    """Run the flow in a thread; return (thread, result holder, the printed authorisation URL)."""
    out = io.StringIO()
    result: dict = {}

    def target() -> None:
        try:
            result["token"] = oauth.run_flow(CONFIG, port=0, timeout=timeout, open_browser=False, out=out)
        except Exception as exc:  # surfaced to the test below
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.monotonic() + 30  # the first flow of a process imports Airflow (~5 s, more under load)
    while "/portal/auth?" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    url = re.search(r"(https?://\S+/portal/auth\?\S+)", out.getvalue()).group(1)
    return thread, result, url


def redirect_target(auth_url: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(auth_url).query)
    return query["redirect_uri"][0], query["state"][0]


def test_full_flow_exchanges_the_code_and_prints_a_connection(requests_mock, capsys):
    requests_mock.real_http = True  # the loopback redirect is real HTTP
    requests_mock.post(
        TEST_BASE_URL + "/open_api/v1.3/oauth2/access_token/",
        json={
            "code": 0,
            "message": "OK",
            "request_id": "r",
            "data": {"access_token": "acc-1", "advertiser_ids": ["77"]},
        },
    )
    thread, result, url = start_flow()
    redirect_uri, state = redirect_target(url)
    assert urlsplit(redirect_uri).hostname == "127.0.0.1"
    answer = requests.get(redirect_uri, params={"auth_code": "the-code", "state": state}, timeout=5)
    thread.join(5)
    assert answer.status_code == 200
    assert result["token"]["access_token"] == "acc-1"
    assert requests_mock.last_request.json()["auth_code"] == "the-code"

    conn = oauth.connection_for(CONFIG, result["token"])
    assert conn == {
        "conn_type": "tiktok_ads",
        "host": TEST_BASE_URL,
        "password": "acc-1",
        "extra": {"app_id": "7100000000000000001", "app_secret": FAKE_SECRET, "advertiser_id": "77"},
    }
    out = io.StringIO()
    oauth.print_connection(conn, "tiktok_default", ["77"], out)
    command = next(line for line in out.getvalue().splitlines() if "connections add" in line)
    assert json.loads(shlex.split(command)[-1]) == conn


def test_state_mismatch_is_refused(requests_mock):
    requests_mock.real_http = True
    thread, result, url = start_flow()
    redirect_uri, _ = redirect_target(url)
    answer = requests.get(redirect_uri, params={"auth_code": "x", "state": "forged"}, timeout=5)
    thread.join(5)
    assert answer.status_code == 400
    assert isinstance(result["error"], oauth.OAuthError)
    assert "state" in str(result["error"])
    assert not [r for r in requests_mock.request_history if "access_token" in r.url]  # no code exchange


def test_times_out_when_no_redirect_comes():
    started = time.monotonic()
    with pytest.raises(oauth.OAuthError, match="no redirect"):
        oauth.run_flow(CONFIG, port=0, timeout=0.3, open_browser=False, out=io.StringIO())
    assert time.monotonic() - started < 5


def test_listens_on_loopback_only():
    server = oauth._CallbackServer(0, "s")
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def non_loopback_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def test_a_redirect_without_state_is_refused(requests_mock):
    requests_mock.real_http = True
    thread, result, url = start_flow()
    redirect_uri, _ = redirect_target(url)
    answer = requests.get(redirect_uri, params={"auth_code": "x"}, timeout=5)
    thread.join(5)
    assert answer.status_code == 400
    assert isinstance(result["error"], oauth.OAuthError)
    assert "state" in str(result["error"])
    assert not [r for r in requests_mock.request_history if "access_token" in r.url]


def test_a_denied_authorisation_fails_without_exchanging_anything(requests_mock):
    requests_mock.real_http = True
    thread, result, url = start_flow()
    redirect_uri, state = redirect_target(url)
    answer = requests.get(redirect_uri, params={"state": state, "error": "access_denied"}, timeout=5)
    thread.join(5)
    assert answer.status_code == 400
    assert isinstance(result["error"], oauth.OAuthError)
    assert "auth_code" in str(result["error"])
    assert not [r for r in requests_mock.request_history if "access_token" in r.url]


def test_the_redirect_uri_is_the_loopback_listener_and_the_state_is_fresh_and_long():
    first, second = io.StringIO(), io.StringIO()
    urls = []
    for out in (first, second):
        with pytest.raises(oauth.OAuthError):
            oauth.run_flow(CONFIG, port=0, timeout=0.2, open_browser=False, out=out)
        urls.append(re.search(r"(https?://\S+/portal/auth\?\S+)", out.getvalue()).group(1))
    (uri_1, state_1), (uri_2, state_2) = (redirect_target(u) for u in urls)
    for uri in (uri_1, uri_2):
        parts = urlsplit(uri)
        assert (parts.scheme, parts.hostname, parts.path) == ("http", "127.0.0.1", oauth.CALLBACK_PATH)
    assert state_1 != state_2
    assert min(len(state_1), len(state_2)) >= 32


def test_the_callback_is_unreachable_on_other_interfaces():
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    server = oauth._CallbackServer(0, "s")
    try:
        with pytest.raises(ConnectionRefusedError):  # refused: nothing listens on that interface
            socket.create_connection((address, server.server_address[1]), timeout=2).close()
    finally:
        server.server_close()


def test_other_paths_do_not_end_the_flow_and_one_redirect_ends_it(requests_mock, capsys):
    requests_mock.real_http = True
    requests_mock.post(
        TEST_BASE_URL + "/open_api/v1.3/oauth2/access_token/",
        json={"code": 0, "message": "OK", "request_id": "r", "data": {"access_token": "acc-2", "advertiser_ids": []}},
    )
    thread, result, url = start_flow()
    redirect_uri, state = redirect_target(url)
    base = redirect_uri.rsplit("/", 1)[0]
    assert requests.get(base + "/favicon.ico", timeout=5).status_code == 404  # browsers ask for it first
    assert thread.is_alive()
    assert not result
    secret_code = "code-5b1e9d2f7c3a"
    assert requests.get(redirect_uri, params={"auth_code": secret_code, "state": state}, timeout=5).ok
    thread.join(5)
    assert result["token"]["access_token"] == "acc-2"
    with pytest.raises(requests.ConnectionError):  # the listener is gone: a replayed redirect goes nowhere
        requests.get(redirect_uri, params={"auth_code": "replay", "state": state}, timeout=2)
    captured = capsys.readouterr()
    assert secret_code not in captured.out + captured.err  # the one-time code is never printed or logged
